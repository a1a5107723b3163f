/**
 * The orphan reaper's set-based writes (§6, R19–R27): one statement per kind for a whole batch of
 * reaped runs, inside the batch's transaction (src/activities/reaper/settleOrphanBatch.ts). Row for
 * row the same columns as the per-run ending writes one run at a time — `queueProcessLossRetry`
 * (activities/processLossRetry.ts, through store/systemRuns.ts), `recordAgentRunState` and
 * `settleAgentAfterRun` (activities/runEnding/agentBookkeeping.ts). The terminal writes and the
 * leases are the per-run statements themselves, called with the batch (`writeRunTerminals`,
 * `endRunLeases`). The caller computes every
 * value in TypeScript; arrays travel as `unnest` parameters, events and activity rows as JSON.
 *
 * Locks follow store/locks.ts's order — agents, then runs, then issues — each set in id order, so
 * two batches, or a batch and a run's own finalize, wait for each other instead of deadlocking.
 */
import { Prisma, type PrismaClient } from './db.ts';
import { claimableQueuedRunIdsSql } from './agentSlots.ts';
import { redactJson } from '../domain/redaction.ts';

type Tx = Prisma.TransactionClient;
type Db = PrismaClient | Tx;

export interface ReapIssueRow {
  id: string;
  companyId: string;
  status: string;
  title: string;
  description: string | null;
  executionRunId: string | null;
}

/**
 * R28.1's target issues, locked in id order: the issues the runs are bound to, and the issues whose
 * execution lock is one of `unboundRunIds` (runs bound to no issue).
 */
export async function lockReapIssues(tx: Tx, boundIssueIds: readonly string[], unboundRunIds: readonly string[]): Promise<ReapIssueRow[]> {
  if (boundIssueIds.length === 0 && unboundRunIds.length === 0) return [];
  return tx.$queryRaw<ReapIssueRow[]>`
    SELECT id, company_id AS "companyId", status::text AS status, title, description, execution_run_id AS "executionRunId"
    FROM issues
    WHERE id = ANY(${[...new Set(boundIssueIds)]}::uuid[]) OR execution_run_id = ANY(${[...unboundRunIds]}::uuid[])
    ORDER BY id FOR NO KEY UPDATE`;
}

export interface ReapedRetryRow {
  retryRunId: string;
  companyId: string;
  agentId: string;
  /** The lost run the retry replaces; the issue's lock moves only from it (R23). */
  lostRunId: string;
  issueId: string | null;
  agentNameKey: string;
  wakeReason: string;
  wakePayload: Record<string, unknown>;
  contextSnapshot: Record<string, unknown>;
  processLossRetryCount: number;
}

/**
 * R23 for the batch, in one statement: each retry's `queued` automation wake and `queued` run
 * (the columns `createSystemRun` writes), and the execution lock moved to the retry only where the
 * lost run still holds it (`checkoutRunId` stays).
 */
export async function insertProcessLossRetries(tx: Tx, retries: readonly ReapedRetryRow[], now: Date): Promise<void> {
  if (retries.length === 0) return;
  const col = <T>(pick: (r: ReapedRetryRow) => T) => retries.map(pick);
  await tx.$executeRaw`
    WITH input AS (
      SELECT * FROM unnest(${col((r) => r.retryRunId)}::uuid[], ${col((r) => r.companyId)}::uuid[], ${col((r) => r.agentId)}::uuid[],
                           ${col((r) => r.lostRunId)}::uuid[], ${col((r) => r.issueId)}::uuid[], ${col((r) => r.agentNameKey)}::text[],
                           ${col((r) => r.wakeReason)}::text[], ${col((r) => JSON.stringify(r.wakePayload))}::text[],
                           ${col((r) => JSON.stringify(r.contextSnapshot))}::text[], ${col((r) => r.processLossRetryCount)}::int[])
        AS t(run_id, company_id, agent_id, lost_run_id, issue_id, agent_name_key, reason, payload, context_snapshot, process_loss_retry_count)
    ),
    wake AS (
      -- R23: source automation, trigger system, requested by the system, linked to its run.
      INSERT INTO agent_wakeup_requests (company_id, agent_id, source, trigger_detail, reason, payload, status,
                                         requested_by_actor_type, run_id, requested_at, created_at, updated_at)
      SELECT company_id, agent_id, 'automation', 'system', reason, payload::jsonb, 'queued', 'system', run_id, ${now}, ${now}, ${now}
      FROM input
      RETURNING id, run_id
    ),
    runs AS (
      -- R23: the queued retry, its lineage and R22's count.
      INSERT INTO heartbeat_runs (id, company_id, agent_id, invocation_source, trigger_detail, status, wakeup_request_id, context_snapshot,
                                  retry_of_run_id, process_loss_retry_count, continuation_attempt, scheduled_retry_at,
                                  scheduled_retry_attempt, scheduled_retry_reason, created_at, updated_at)
      SELECT i.run_id, i.company_id, i.agent_id, 'automation', 'system', 'queued', wake.id, i.context_snapshot::jsonb,
             i.lost_run_id, i.process_loss_retry_count, 0, NULL, 0, NULL, ${now}, ${now}
      FROM input i JOIN wake ON wake.run_id = i.run_id
    )
    -- R23: the lock follows the retry only if the lost run still holds it.
    UPDATE issues AS iss
    SET execution_run_id = i.run_id, execution_agent_name_key = i.agent_name_key, execution_locked_at = ${now}, updated_at = ${now}
    FROM input i
    WHERE i.issue_id IS NOT NULL AND iss.id = i.issue_id AND iss.execution_run_id = i.lost_run_id`;
}

export interface AgentRunStateRow {
  agentId: string;
  companyId: string;
  adapterType: string;
  lastRunId: string;
  lastRunStatus: string;
  lastError: string | null;
}

/**
 * R8 step 10 for the batch's agents: each agent's runtime state names its last reaped run (one
 * upsert), and (for step 11) how many of its runs are still `running` after the batch.
 */
export async function recordReapedAgentStates(tx: Tx, states: readonly AgentRunStateRow[], now: Date): Promise<Map<string, number>> {
  if (states.length === 0) return new Map();
  const col = <T>(pick: (s: AgentRunStateRow) => T) => states.map(pick);
  const rows = await tx.$queryRaw<Array<{ agent_id: string; running: number }>>`
    WITH input AS (
      SELECT * FROM unnest(${col((s) => s.agentId)}::uuid[], ${col((s) => s.companyId)}::uuid[], ${col((s) => s.adapterType)}::text[],
                           ${col((s) => s.lastRunId)}::uuid[], ${col((s) => s.lastRunStatus)}::text[], ${col((s) => s.lastError)}::text[])
        AS t(agent_id, company_id, adapter_type, last_run_id, last_run_status, last_error)
    ),
    state AS (
      INSERT INTO agent_runtime_state (agent_id, company_id, adapter_type, last_run_id, last_run_status, last_error, created_at, updated_at)
      SELECT agent_id, company_id, adapter_type, last_run_id, last_run_status::heartbeat_run_status, last_error, ${now}, ${now} FROM input
      ON CONFLICT (agent_id) DO UPDATE
      SET last_run_id = EXCLUDED.last_run_id, last_run_status = EXCLUDED.last_run_status, last_error = EXCLUDED.last_error, updated_at = EXCLUDED.updated_at
    )
    SELECT i.agent_id::text AS agent_id,
           (SELECT count(*)::int FROM heartbeat_runs r WHERE r.agent_id = i.agent_id AND r.status = 'running') AS running
    FROM input i`;
  return new Map(rows.map((row) => [row.agent_id, row.running]));
}

export interface AgentStatusRow {
  agentId: string;
  status: string;
}

export interface ReapActivityRow {
  companyId: string;
  actorType: 'agent' | 'system';
  actorId: string;
  action: string;
  entityType: string;
  entityId: string;
  agentId: string | null;
  runId: string | null;
  details: Record<string, unknown>;
}

/**
 * R8 step 11 (R10, R11) and the batch's activity rows, in one statement: each agent's status after
 * its runs, with its heartbeat time, and the activity rows (R27's lease releases, R11's first
 * heartbeat) as `logActivity` writes them.
 */
export async function settleReapedAgents(tx: Tx, agents: readonly AgentStatusRow[], activity: readonly ReapActivityRow[], now: Date): Promise<void> {
  if (agents.length === 0 && activity.length === 0) return;
  const activityRows = activity.map((a) => ({
    company_id: a.companyId,
    actor_type: a.actorType,
    actor_id: a.actorId,
    action: a.action,
    entity_type: a.entityType,
    entity_id: a.entityId,
    agent_id: a.agentId,
    run_id: a.runId,
    details: redactJson(a.details),
  }));
  await tx.$executeRaw`
    WITH settled AS (
      -- R10/R11: the status step 11 decided, and the heartbeat.
      UPDATE agents a SET status = s.status::agent_status, last_heartbeat_at = ${now}, updated_at = ${now}
      FROM unnest(${agents.map((a) => a.agentId)}::uuid[], ${agents.map((a) => a.status)}::text[]) AS s(agent_id, status)
      WHERE a.id = s.agent_id
    )
    INSERT INTO activity_log (company_id, actor_type, actor_id, action, entity_type, entity_id, agent_id, run_id, details, created_at)
    SELECT company_id, actor_type::actor_type, actor_id, action, entity_type, entity_id, agent_id, run_id, details, ${now}
    FROM jsonb_to_recordset(${JSON.stringify(activityRows)}::jsonb)
      AS x(company_id uuid, actor_type text, actor_id text, action text, entity_type text, entity_id text, agent_id uuid, run_id uuid, details jsonb)`;
}

/**
 * R25 "try to start the agent's next queued run", for every agent the reap touched, in one
 * statement: each agent's claimable queued runs (R69, store/agentSlots.ts's query), in input order.
 */
export async function claimableQueuedRunIdsOfAgents(db: Db, agents: ReadonlyArray<{ agentId: string; maxConcurrentRuns: number }>): Promise<string[]> {
  if (agents.length === 0) return [];
  const parts = agents.map((a, i) => Prisma.sql`SELECT ${i}::int AS n, q.id FROM (${claimableQueuedRunIdsSql(a.agentId, a.maxConcurrentRuns)}) q`);
  const rows = await db.$queryRaw<Array<{ id: string }>>`SELECT id FROM (${Prisma.join(parts, ' UNION ALL ')}) slots ORDER BY n`;
  return rows.map((row) => row.id);
}
