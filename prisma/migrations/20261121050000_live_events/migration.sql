-- The company live channel (DATA-MODEL §4.6, `GET /api/companies/:companyId/events`).
--
-- Every producer of a live event — the API, the worker that finalizes a run, the recovery sweeps,
-- in whichever process — writes a row that one of the triggers below turns into a `live_events`
-- row in the same transaction, then `pg_notify('vigil_live_events', '')`, which PostgreSQL
-- delivers on commit only. Each API process LISTENs, reads the new rows by id and fans them out to
-- its SSE connections (src/live/). A rolled-back write therefore never shows on a board, and no
-- producer's code knows about the channel.
--
-- The rows are kept for a day (the hub in every API process prunes them: src/live/liveEventHub.ts): long enough for any
-- board to reconnect with Last-Event-ID, not a history. The REST endpoints stay the source of truth.
--
-- No FK to companies: a stream row must never block or fail the write that produced it.
-- Prisma's schema diff sees the table and its index (model LiveEvent); it does not see the
-- functions and triggers, which exist only here.

-- CreateTable
CREATE TABLE "live_events" (
    "id" BIGSERIAL NOT NULL,
    "company_id" UUID NOT NULL,
    "type" TEXT NOT NULL,
    "payload" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "live_events_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "live_events_company_id_id_idx" ON "live_events"("company_id", "id");

-- Timestamps in the shape the REST API's JSON uses (2026-11-21T05:00:00.000Z).
CREATE FUNCTION vigil_live_ts(ts timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

CREATE FUNCTION vigil_live_emit(p_company_id uuid, p_type text, p_payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO live_events (company_id, type, payload) VALUES (p_company_id, p_type, p_payload);
  -- Identical notifications of one transaction are folded into one by PostgreSQL.
  PERFORM pg_notify('vigil_live_events', '');
END
$$;

-- heartbeat.run.queued: every new run. A run created as `scheduled_retry` says so in `status`.
CREATE FUNCTION vigil_live_heartbeat_run_created() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM vigil_live_emit(NEW.company_id, 'heartbeat.run.queued', jsonb_build_object(
    'runId', NEW.id,
    'agentId', NEW.agent_id,
    'invocationSource', NEW.invocation_source,
    'triggerDetail', NEW.trigger_detail,
    'wakeupRequestId', NEW.wakeup_request_id,
    'status', NEW.status,
    'issueId', NEW.context_snapshot->>'issueId'));
  RETURN NULL;
END
$$;

CREATE TRIGGER live_events_heartbeat_run_created
AFTER INSERT ON heartbeat_runs
FOR EACH ROW EXECUTE FUNCTION vigil_live_heartbeat_run_created();

-- heartbeat.run.status: every status change. `error` is stored redacted (domain/runOutcome.ts);
-- the API process redacts it once more on the way out. A terminal status is remembered for the
-- rest of the transaction, so the agent row the same finalize updates can name its outcome.
CREATE FUNCTION vigil_live_heartbeat_run_status_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM vigil_live_emit(NEW.company_id, 'heartbeat.run.status', jsonb_build_object(
    'runId', NEW.id,
    'agentId', NEW.agent_id,
    'status', NEW.status,
    'invocationSource', NEW.invocation_source,
    'triggerDetail', NEW.trigger_detail,
    'error', NEW.error,
    'errorCode', NEW.error_code,
    'startedAt', vigil_live_ts(NEW.started_at),
    'finishedAt', vigil_live_ts(NEW.finished_at),
    'issueId', NEW.context_snapshot->>'issueId'));
  IF NEW.status IN ('succeeded', 'failed', 'cancelled', 'timed_out') THEN
    PERFORM set_config('vigil.live_run_outcome', NEW.agent_id::text || ':' || NEW.status::text, true);
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER live_events_heartbeat_run_status_changed
AFTER UPDATE ON heartbeat_runs
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
EXECUTE FUNCTION vigil_live_heartbeat_run_status_changed();

-- heartbeat.run.log for `log` events, cut into chunks of at most 8 KiB of UTF-8 (§4.6) on
-- character boundaries, one live event each, so every chunk has an id a board can resume after.
-- heartbeat.run.event for every other event.
CREATE FUNCTION vigil_live_heartbeat_run_event_created() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  max_chunk_bytes constant int := 8192;
  rest text := coalesce(NEW.message, '');
  chars int;
  piece text;
BEGIN
  IF NEW.event_type <> 'log' THEN
    PERFORM vigil_live_emit(NEW.company_id, 'heartbeat.run.event', jsonb_build_object(
      'id', NEW.id,
      'runId', NEW.run_id,
      'agentId', NEW.agent_id,
      'seq', NEW.seq,
      'eventType', NEW.event_type,
      'stream', NEW.stream,
      'level', NEW.level,
      'color', NEW.color,
      'message', NEW.message,
      'payload', NEW.payload,
      'createdAt', vigil_live_ts(NEW.created_at)));
    RETURN NULL;
  END IF;
  WHILE rest <> '' LOOP
    chars := least(length(rest), max_chunk_bytes);
    piece := left(rest, chars);
    WHILE octet_length(piece) > max_chunk_bytes LOOP
      -- Strictly fewer characters each time; one character is at most 4 bytes.
      chars := greatest(1, chars * max_chunk_bytes / octet_length(piece));
      piece := left(rest, chars);
    END LOOP;
    PERFORM vigil_live_emit(NEW.company_id, 'heartbeat.run.log', jsonb_build_object(
      'runId', NEW.run_id,
      'agentId', NEW.agent_id,
      'seq', NEW.seq,
      'ts', vigil_live_ts(NEW.created_at),
      'stream', NEW.stream,
      'chunk', piece,
      'truncated', false));
    rest := substr(rest, chars + 1);
  END LOOP;
  RETURN NULL;
END
$$;

CREATE TRIGGER live_events_heartbeat_run_event_created
AFTER INSERT ON heartbeat_run_events
FOR EACH ROW EXECUTE FUNCTION vigil_live_heartbeat_run_event_created();

-- agent.status: a status change, or a finalize (R10 sets last_heartbeat_at on every one). The
-- outcome is the terminal status of the run this transaction finalized, else null.
CREATE FUNCTION vigil_live_agent_status_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  finalized text := coalesce(current_setting('vigil.live_run_outcome', true), '');
  outcome text;
BEGIN
  IF NEW.last_heartbeat_at IS DISTINCT FROM OLD.last_heartbeat_at AND split_part(finalized, ':', 1) = NEW.id::text THEN
    outcome := split_part(finalized, ':', 2);
  END IF;
  PERFORM vigil_live_emit(NEW.company_id, 'agent.status', jsonb_build_object(
    'agentId', NEW.id,
    'status', NEW.status,
    'lastHeartbeatAt', vigil_live_ts(NEW.last_heartbeat_at),
    'outcome', outcome));
  RETURN NULL;
END
$$;

CREATE TRIGGER live_events_agent_status_changed
AFTER UPDATE ON agents
FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.last_heartbeat_at IS DISTINCT FROM NEW.last_heartbeat_at)
EXECUTE FUNCTION vigil_live_agent_status_changed();

-- issue.updated: a new issue, or a change of what a board shows in its lists — status, priority,
-- title, parent, assignee, the execution lock and checkout, hidden. Not description or
-- timestamps alone (a success comment only bumps updated_at).
CREATE FUNCTION vigil_live_issue_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM vigil_live_emit(NEW.company_id, 'issue.updated', jsonb_build_object(
    'issueId', NEW.id,
    'identifier', NEW.identifier,
    'change', CASE TG_OP WHEN 'INSERT' THEN 'created' ELSE 'updated' END,
    'title', NEW.title,
    'status', NEW.status,
    'priority', NEW.priority,
    'parentId', NEW.parent_id,
    'assigneeAgentId', NEW.assignee_agent_id,
    'assigneeUserId', NEW.assignee_user_id,
    'executionRunId', NEW.execution_run_id,
    'checkoutRunId', NEW.checkout_run_id,
    'originKind', NEW.origin_kind,
    'hiddenAt', vigil_live_ts(NEW.hidden_at),
    'updatedAt', vigil_live_ts(NEW.updated_at)));
  RETURN NULL;
END
$$;

CREATE TRIGGER live_events_issue_created
AFTER INSERT ON issues
FOR EACH ROW EXECUTE FUNCTION vigil_live_issue_changed();

CREATE TRIGGER live_events_issue_updated
AFTER UPDATE ON issues
FOR EACH ROW WHEN (
  OLD.status IS DISTINCT FROM NEW.status
  OR OLD.priority IS DISTINCT FROM NEW.priority
  OR OLD.title IS DISTINCT FROM NEW.title
  OR OLD.parent_id IS DISTINCT FROM NEW.parent_id
  OR OLD.assignee_agent_id IS DISTINCT FROM NEW.assignee_agent_id
  OR OLD.assignee_user_id IS DISTINCT FROM NEW.assignee_user_id
  OR OLD.execution_run_id IS DISTINCT FROM NEW.execution_run_id
  OR OLD.checkout_run_id IS DISTINCT FROM NEW.checkout_run_id
  OR OLD.hidden_at IS DISTINCT FROM NEW.hidden_at)
EXECUTE FUNCTION vigil_live_issue_changed();

-- activity.logged: every activity_log row, without its details (fetch the activity feed for those).
CREATE FUNCTION vigil_live_activity_logged() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM vigil_live_emit(NEW.company_id, 'activity.logged', jsonb_build_object(
    'id', NEW.id,
    'actorType', NEW.actor_type,
    'actorId', NEW.actor_id,
    'action', NEW.action,
    'entityType', NEW.entity_type,
    'entityId', NEW.entity_id,
    'agentId', NEW.agent_id,
    'runId', NEW.run_id,
    'createdAt', vigil_live_ts(NEW.created_at)));
  RETURN NULL;
END
$$;

CREATE TRIGGER live_events_activity_logged
AFTER INSERT ON activity_log
FOR EACH ROW EXECUTE FUNCTION vigil_live_activity_logged();
