/**
 * R8's writes on the hot path, one statement each, inside finalize's transaction (the run's agent
 * and the run are locked first, src/store/locks.ts): the terminal write with the wake's status and
 * the lifecycle event (steps 1–3; for one run or the orphan reaper's batch), the success comment
 * (step 5), the agent's runtime state (step 10), and the closing statement: the agent's status
 * (step 11), the leases (R27) and the queued runs a freed slot lets start (R69). Raw SQL writes
 * `updated_at` as Prisma's model updates do.
 */
import { Prisma, type HeartbeatRun } from './db.ts';
import { claimableQueuedRunIdsSql } from './agentSlots.ts';
import { leaseEndCtes, type LeaseEnd } from './leaseRelease.ts';
import { modelRow } from './modelRows.ts';
import { runEventsInsert, type RunEventInput } from './runEvents.ts';
import type { TerminalColumns } from '../domain/runEndingFields.ts';

type Tx = Prisma.TransactionClient;

export interface TerminalRunWrite extends TerminalColumns {
  /** The lifecycle event (R8 step 3). */
  event: RunEventInput;
  now: Date;
}

/** R8 steps 1–3 (R5) for one run: see `writeRunTerminals`. */
export async function writeRunTerminal(tx: Tx, write: TerminalRunWrite): Promise<HeartbeatRun> {
  const [run] = await writeRunTerminals(tx, [write], [write.event], write.now);
  return run;
}

/**
 * R8 steps 1–3 (R5) for one run or a batch (the orphan reaper's): each run's terminal status, its
 * wake's status, and the runs' events (lifecycle, and whatever else the caller ends them with) —
 * one statement. Returns the runs as written, in the order given.
 */
export async function writeRunTerminals(tx: Tx, writes: readonly TerminalColumns[], events: RunEventInput[], now: Date): Promise<HeartbeatRun[]> {
  if (writes.length === 0) return [];
  const col = <T>(pick: (w: TerminalColumns) => T) => writes.map(pick);
  const rows = await tx.$queryRaw<Array<Record<string, unknown>>>`
    WITH input AS (
      SELECT * FROM unnest(
        ${col((w) => w.runId)}::uuid[], ${col((w) => w.wakeupRequestId)}::uuid[], ${col((w) => w.status)}::text[], ${col((w) => w.wakeStatus)}::text[],
        ${col((w) => w.error)}::text[], ${col((w) => w.errorCode)}::text[], ${col((w) => w.exitCode)}::int[], ${col((w) => w.signal)}::text[],
        ${col((w) => JSON.stringify(w.resultJson))}::text[], ${col((w) => w.stdoutExcerpt)}::text[], ${col((w) => w.stderrExcerpt)}::text[],
        ${col((w) => w.liveness !== null)}::bool[], ${col((w) => w.liveness?.livenessState ?? null)}::text[], ${col((w) => w.liveness?.livenessReason ?? null)}::text[],
        ${col((w) => w.liveness?.nextAction ?? null)}::text[], ${col((w) => w.liveness?.lastUsefulActionAt?.toISOString() ?? null)}::text[],
        ${col((w) => w.session !== null)}::bool[], ${col((w) => w.session?.sessionIdBefore ?? null)}::text[], ${col((w) => w.session?.sessionIdAfter ?? null)}::text[],
        ${col((w) => (w.usage === null ? null : JSON.stringify(w.usage)))}::text[]
      ) WITH ORDINALITY AS t(run_id, wake_id, status, wake_status, error, error_code, exit_code, signal, result_json, stdout_excerpt, stderr_excerpt,
                             classified, liveness_state, liveness_reason, next_action, last_useful_action_at,
                             reported, session_id_before, session_id_after, usage_json, n)
    ), ended AS (
      UPDATE heartbeat_runs r
      SET status = i.status::heartbeat_run_status, finished_at = ${now}, error = i.error, error_code = i.error_code,
          exit_code = i.exit_code, signal = i.signal, result_json = i.result_json::jsonb,
          stdout_excerpt = i.stdout_excerpt, stderr_excerpt = i.stderr_excerpt,
          liveness_state = CASE WHEN i.classified THEN i.liveness_state::liveness_state ELSE r.liveness_state END,
          liveness_reason = CASE WHEN i.classified THEN i.liveness_reason ELSE r.liveness_reason END,
          next_action = CASE WHEN i.classified THEN i.next_action ELSE r.next_action END,
          last_useful_action_at = CASE WHEN i.classified THEN i.last_useful_action_at::timestamptz ELSE r.last_useful_action_at END,
          session_id_before = CASE WHEN i.reported THEN i.session_id_before ELSE r.session_id_before END,
          session_id_after = CASE WHEN i.reported THEN i.session_id_after ELSE r.session_id_after END,
          usage_json = coalesce(i.usage_json::jsonb, r.usage_json),
          updated_at = ${now}
      FROM input i WHERE r.id = i.run_id
      RETURNING r.*, i.n
    ), wake AS (
      UPDATE agent_wakeup_requests w
      SET status = i.wake_status::wakeup_request_status, finished_at = ${now}, error = i.error, updated_at = ${now}
      FROM input i WHERE w.id = i.wake_id
    ), events AS (${runEventsInsert(events)})
    SELECT * FROM ended ORDER BY n`;
  return rows.map(({ n: _n, ...row }) => modelRow<HeartbeatRun>(row));
}

/**
 * R8 step 5: the summary comment of a succeeded issue-bound run, once (none if the run already
 * posted one), touching the issue; nothing if the issue is gone.
 */
export async function postRunSummaryComment(tx: Tx, comment: { runId: string; companyId: string; agentId: string; issueId: string; body: string }): Promise<void> {
  const now = new Date();
  await tx.$executeRaw`
    WITH touched AS (
      UPDATE issues SET updated_at = ${now}
      WHERE id = ${comment.issueId}::uuid AND company_id = ${comment.companyId}::uuid
        AND NOT EXISTS (SELECT 1 FROM issue_comments c WHERE c.issue_id = ${comment.issueId}::uuid AND c.created_by_run_id = ${comment.runId}::uuid)
        -- Issue 14 §3: nor when its comment was an earlier run's, repeated under the same Idempotency-Key.
        AND NOT EXISTS (SELECT 1 FROM heartbeat_runs r WHERE r.id = ${comment.runId}::uuid AND r.issue_comment_satisfied_by_comment_id IS NOT NULL)
      RETURNING id
    )
    INSERT INTO issue_comments (company_id, issue_id, author_agent_id, created_by_run_id, body, created_at, updated_at)
    SELECT ${comment.companyId}::uuid, touched.id, ${comment.agentId}::uuid, ${comment.runId}::uuid, ${comment.body}, ${now}, ${now}
    FROM touched`;
}

/**
 * R8 step 10: the agent's runtime state after the run, and (for step 11's decision) how many of the
 * agent's runs are still `running` — this run is already terminal.
 */
export async function recordAgentRunState(
  tx: Tx,
  state: { agentId: string; companyId: string; adapterType: string; runId: string; runStatus: string; error: string | null },
): Promise<{ otherRunningRuns: number }> {
  const now = new Date();
  const rows = await tx.$queryRaw<Array<{ running: number }>>`
    WITH state AS (
      INSERT INTO agent_runtime_state (agent_id, company_id, adapter_type, last_run_id, last_run_status, last_error, created_at, updated_at)
      VALUES (${state.agentId}::uuid, ${state.companyId}::uuid, ${state.adapterType}, ${state.runId}::uuid, ${state.runStatus}::heartbeat_run_status,
              ${state.error}, ${now}, ${now})
      ON CONFLICT (agent_id) DO UPDATE
      SET last_run_id = EXCLUDED.last_run_id, last_run_status = EXCLUDED.last_run_status, last_error = EXCLUDED.last_error, updated_at = EXCLUDED.updated_at
    )
    SELECT count(*)::int AS running FROM heartbeat_runs WHERE agent_id = ${state.agentId}::uuid AND status = 'running'`;
  return { otherRunningRuns: rows[0].running };
}

export interface RunEndingClose {
  runId: string;
  /** R27: how the run's leases end. */
  leaseEnd: LeaseEnd;
  /** R8 step 11 (R10, R11): the agent's status after the run, when it changes. */
  agentStatus: { agentId: string; status: string } | null;
  /** R69: whose queued runs a freed slot lets start (null: not asked). */
  nextQueuedOf: { agentId: string; maxConcurrentRuns: number } | null;
  now: Date;
}

/**
 * R8's closing writes in one statement: the agent's status (step 11), the run's leases (R27), and
 * the agent's queued runs that now hold a free slot (R69, read after the terminal write, so this
 * run no longer counts as running). Returns those runs' ids.
 */
export async function closeRunEnding(tx: Tx, close: RunEndingClose): Promise<string[]> {
  const agentStatus = close.agentStatus
    ? Prisma.sql`, agent_settled AS (
        UPDATE agents SET status = ${close.agentStatus.status}::agent_status, last_heartbeat_at = ${close.now}, updated_at = ${close.now}
        WHERE id = ${close.agentStatus.agentId}::uuid
      )`
    : Prisma.empty;
  const next = close.nextQueuedOf
    ? claimableQueuedRunIdsSql(close.nextQueuedOf.agentId, close.nextQueuedOf.maxConcurrentRuns)
    : Prisma.sql`SELECT NULL::uuid AS id WHERE false`;
  const rows = await tx.$queryRaw<Array<{ id: string }>>`WITH ${leaseEndCtes([close.runId], close.leaseEnd, close.now)}${agentStatus} ${next}`;
  return rows.map((row) => row.id);
}
