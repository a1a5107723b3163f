/**
 * What every parked retry of a failed run is (R38 for the transient ladder, and a usage limit's one
 * retry): a `scheduled_retry` run of a system wake, due at `dueAt`, carrying the failed run's
 * context plus its schedule, that takes the issue's execution lock from the failed run — so the
 * issue stays `in_progress` and the failed run's release (R28.3) recovers nothing. Its workflow
 * waits for the due time on a durable Temporal timer.
 */
import type { Prisma } from '../store/db.ts';
import { boundIssueId } from '../store/json.ts';
import { createSystemRun, moveExecutionLock } from '../store/systemRuns.ts';
import { appendRunEvent } from '../store/runEvents.ts';

type Tx = Prisma.TransactionClient;

export interface ScheduledRetryRequest {
  /** The failed run's context snapshot (as an object). */
  context: Record<string, unknown>;
  kind: { wakeReason: string; retryReason: string };
  /** Keys added to the retry's context and wake payload (`retryOfRunId`, `scheduledRetryAt`, …). */
  schedule: Record<string, unknown>;
  dueAt: Date;
  scheduledRetryAttempt: number;
}

/** Creates the parked retry of `run` and moves the issue's lock to it; returns its id. */
export async function createScheduledRetryRun(
  tx: Tx,
  run: { id: string; companyId: string },
  agent: { id: string; name: string },
  request: ScheduledRetryRequest,
): Promise<string> {
  const { context, kind, schedule } = request;
  const issueId = boundIssueId(context);
  const retry = await createSystemRun(tx, {
    companyId: run.companyId,
    agentId: agent.id,
    wake: { reason: kind.wakeReason, payload: { ...(issueId ? { issueId } : {}), ...schedule } },
    run: {
      status: 'scheduled_retry',
      contextSnapshot: { ...context, ...schedule, wakeReason: kind.wakeReason },
      retryOfRunId: run.id,
      continuationAttempt: Number(context.livenessContinuationAttempt ?? 0) || 0,
      scheduledRetryAt: request.dueAt,
      scheduledRetryAttempt: request.scheduledRetryAttempt,
      scheduledRetryReason: kind.retryReason,
    },
  });
  if (issueId) await moveExecutionLock(tx, { issueId, newRunId: retry.id, agentName: agent.name, onlyFrom: run.id });
  return retry.id;
}

/** A warning on the failed run's timeline saying what became of its retry. */
export function noteRetryOutcome(tx: Tx, run: { id: string; companyId: string; agentId: string }, message: string, payload: Record<string, unknown>) {
  return appendRunEvent(tx, { companyId: run.companyId, runId: run.id, agentId: run.agentId, eventType: 'lifecycle', level: 'warn', message, payload });
}
