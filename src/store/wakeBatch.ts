/**
 * R71's writes for many wakes at once, one statement per kind (the stranded sweep's batches: R53,
 * R54 re-dispatches and R57.6 recovery-owner dispatches): the `skipped` wakes of R71.5 and the
 * `queued` wake + `queued` run pairs of R71's "create a run". Row for row the same columns as
 * `store/wakeups.ts` (`createWake`, `insertQueuedRun`) and `store/systemRuns.ts` write one at a time.
 * Arrays travel as `unnest` parameters; the caller computes every value in TypeScript.
 */
import { randomUUID } from 'node:crypto';
import type { HeartbeatRun, Prisma, PrismaClient } from './db.ts';
import { modelRows } from './modelRows.ts';
import type { JsonObject } from './json.ts';
import type { WakeSource } from '../domain/wakeAdmission.ts';

type Db = PrismaClient | Prisma.TransactionClient;

/** The request columns every wake row carries. */
export interface BatchWakeRequest {
  companyId: string;
  agentId: string;
  source: WakeSource;
  triggerDetail: string | null;
  reason: string | null;
  payload: JsonObject;
  requestedByActorType: 'user' | 'agent' | 'system' | null;
  requestedByActorId: string | null;
}

export interface SkippedWakeInput extends BatchWakeRequest {
  /** R71.5: the gate's reason (written as the wake's reason) and message (its error). */
  skipReason: string;
  message: string;
}

/** R71.5: `skipped` wakes, finished at once, no run. */
export async function insertSkippedWakes(db: Db, wakes: readonly SkippedWakeInput[], now: Date): Promise<void> {
  if (wakes.length === 0) return;
  await db.$executeRaw`
    INSERT INTO agent_wakeup_requests (company_id, agent_id, source, trigger_detail, reason, payload, status, coalesced_count,
                                       requested_by_actor_type, requested_by_actor_id, finished_at, error,
                                       requested_at, created_at, updated_at)
    SELECT w.company_id, w.agent_id, w.source::wakeup_source, w.trigger_detail, w.reason, w.payload::jsonb, 'skipped', 0,
           w.actor_type::actor_type, w.actor_id, ${now}, w.error, ${now}, ${now}, ${now}
    FROM unnest(${wakes.map((w) => w.companyId)}::uuid[], ${wakes.map((w) => w.agentId)}::uuid[], ${wakes.map((w) => w.source)}::text[],
                ${wakes.map((w) => w.triggerDetail)}::text[], ${wakes.map((w) => w.skipReason)}::text[],
                ${wakes.map((w) => JSON.stringify(w.payload))}::text[], ${wakes.map((w) => w.requestedByActorType)}::text[],
                ${wakes.map((w) => w.requestedByActorId)}::text[], ${wakes.map((w) => w.message)}::text[])
      AS w(company_id, agent_id, source, trigger_detail, reason, payload, actor_type, actor_id, error)`;
}

export interface QueuedRunBatchInput extends BatchWakeRequest {
  /** The run's context, already enriched (R71 step 1). */
  contextSnapshot: JsonObject;
  retryOfRunId: string | null;
  idempotencyKey?: string | null;
  /** R46: only a liveness continuation's run carries an attempt (default 0). */
  continuationAttempt?: number;
}

/**
 * R71 "create a run" for one or many wakes: each `queued` wake pointing at its `queued` run, in one
 * statement. `runIds` are chosen by the caller so each wake points at its run from its first
 * write. Returns the runs as written, in input order. The issue lock is not stamped (lazy
 * locking, R4).
 */
export async function insertQueuedRunRows(tx: Prisma.TransactionClient, runs: readonly QueuedRunBatchInput[], runIds: readonly string[], now: Date): Promise<HeartbeatRun[]> {
  if (runs.length === 0) return [];
  const rows = await tx.$queryRaw<Array<Record<string, unknown>>>`
    WITH input AS (
      SELECT * FROM unnest(${[...runIds]}::uuid[], ${runs.map((r) => r.companyId)}::uuid[], ${runs.map((r) => r.agentId)}::uuid[],
                           ${runs.map((r) => r.source)}::text[], ${runs.map((r) => r.triggerDetail)}::text[], ${runs.map((r) => r.reason)}::text[],
                           ${runs.map((r) => JSON.stringify(r.payload))}::text[], ${runs.map((r) => r.requestedByActorType)}::text[],
                           ${runs.map((r) => r.requestedByActorId)}::text[], ${runs.map((r) => r.idempotencyKey ?? null)}::text[],
                           ${runs.map((r) => JSON.stringify(r.contextSnapshot))}::text[], ${runs.map((r) => r.retryOfRunId)}::uuid[],
                           ${runs.map((r) => r.continuationAttempt ?? 0)}::int[])
        WITH ORDINALITY AS t(run_id, company_id, agent_id, source, trigger_detail, reason, payload, actor_type, actor_id, idempotency_key,
                             context_snapshot, retry_of_run_id, continuation_attempt, n)
    ),
    wake AS (
      INSERT INTO agent_wakeup_requests (company_id, agent_id, source, trigger_detail, reason, payload, status,
                                         requested_by_actor_type, requested_by_actor_id, idempotency_key, run_id, requested_at, created_at, updated_at)
      SELECT company_id, agent_id, source::wakeup_source, trigger_detail, reason, payload::jsonb, 'queued',
             actor_type::actor_type, actor_id, idempotency_key, run_id, ${now}, ${now}, ${now}
      FROM input
      RETURNING id, run_id
    ),
    created AS (
      INSERT INTO heartbeat_runs (id, company_id, agent_id, invocation_source, trigger_detail, status, wakeup_request_id,
                                  context_snapshot, retry_of_run_id, continuation_attempt, created_at, updated_at)
      SELECT i.run_id, i.company_id, i.agent_id, i.source::wakeup_source, i.trigger_detail, 'queued', wake.id,
             i.context_snapshot::jsonb, i.retry_of_run_id, i.continuation_attempt, ${now}, ${now}
      FROM input i JOIN wake ON wake.run_id = i.run_id
      RETURNING *
    )
    SELECT c.* FROM created c JOIN input i ON i.run_id = c.id ORDER BY i.n`;
  return modelRows<HeartbeatRun>(rows);
}

/** `insertQueuedRunRows` with fresh run ids; returns the ids in input order. */
export async function insertQueuedRuns(tx: Prisma.TransactionClient, runs: readonly QueuedRunBatchInput[], now: Date): Promise<string[]> {
  const runIds = runs.map(() => randomUUID());
  await insertQueuedRunRows(tx, runs, runIds, now);
  return runIds;
}
