/**
 * R8's writes on the hot path, one statement each, inside finalize's transaction (the run's agent
 * and the run are locked first, src/store/locks.ts): the terminal write with the wake's status and
 * the lifecycle event (steps 1–3), the success comment (step 5) and the agent's runtime state
 * (step 10). Raw SQL writes `updated_at` as Prisma's model updates do.
 */
import type { HeartbeatRun, Prisma } from './db.ts';
import { modelRow } from './modelRows.ts';
import { runEventsInsert, type RunEventInput } from './runEvents.ts';
import type { JsonObject } from './json.ts';

type Tx = Prisma.TransactionClient;

export interface TerminalRunWrite {
  runId: string;
  wakeupRequestId: string | null;
  status: string;
  /** The wake's status for this run outcome (domain/runStatus.ts). */
  wakeStatus: string;
  error: string | null;
  errorCode: string | null;
  exitCode: number | null;
  signal: string | null;
  resultJson: JsonObject;
  stdoutExcerpt: string | null;
  stderrExcerpt: string | null;
  /** R42's classification; null leaves the liveness columns as they are (a cancelled run, R14). */
  liveness: { livenessState: string; livenessReason: string | null; nextAction: string | null; lastUsefulActionAt: Date | null } | null;
  /** What a coding-agent CLI reported (R72); null leaves the session columns as they are. */
  session: { sessionIdBefore: string | null; sessionIdAfter: string | null } | null;
  usage: Record<string, unknown> | null;
  /** The lifecycle event (R8 step 3). */
  event: RunEventInput;
  now: Date;
}

/** R8 steps 1–3 (R5): the run's terminal status, its wake's status and the lifecycle event; the run as written. */
export async function writeRunTerminal(tx: Tx, write: TerminalRunWrite): Promise<HeartbeatRun> {
  const { liveness, session } = write;
  const rows = await tx.$queryRaw<Array<Record<string, unknown>>>`
    WITH ended AS (
      UPDATE heartbeat_runs
      SET status = ${write.status}::heartbeat_run_status, finished_at = ${write.now}, error = ${write.error}, error_code = ${write.errorCode},
          exit_code = ${write.exitCode}::int, signal = ${write.signal}, result_json = ${JSON.stringify(write.resultJson)}::jsonb,
          stdout_excerpt = ${write.stdoutExcerpt}, stderr_excerpt = ${write.stderrExcerpt},
          liveness_state = CASE WHEN ${liveness !== null} THEN ${liveness?.livenessState ?? null}::liveness_state ELSE liveness_state END,
          liveness_reason = CASE WHEN ${liveness !== null} THEN ${liveness?.livenessReason ?? null} ELSE liveness_reason END,
          next_action = CASE WHEN ${liveness !== null} THEN ${liveness?.nextAction ?? null} ELSE next_action END,
          last_useful_action_at = CASE WHEN ${liveness !== null} THEN ${liveness?.lastUsefulActionAt ?? null}::timestamptz ELSE last_useful_action_at END,
          session_id_before = CASE WHEN ${session !== null} THEN ${session?.sessionIdBefore ?? null} ELSE session_id_before END,
          session_id_after = CASE WHEN ${session !== null} THEN ${session?.sessionIdAfter ?? null} ELSE session_id_after END,
          usage_json = CASE WHEN ${write.usage !== null} THEN ${write.usage === null ? null : JSON.stringify(write.usage)}::jsonb ELSE usage_json END,
          updated_at = ${write.now}
      WHERE id = ${write.runId}::uuid
      RETURNING *
    ), wake AS (
      UPDATE agent_wakeup_requests
      SET status = ${write.wakeStatus}::wakeup_request_status, finished_at = ${write.now}, error = ${write.error}, updated_at = ${write.now}
      WHERE id = ${write.wakeupRequestId}::uuid
    ), events AS (${runEventsInsert([write.event])})
    SELECT * FROM ended`;
  return modelRow<HeartbeatRun>(rows[0]);
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
