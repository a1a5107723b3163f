/**
 * R40: a `scheduled_retry` run becomes `queued` once due — or is cancelled if its issue was
 * reassigned or cancelled meanwhile. The run's own workflow calls `promoteScheduledRetry` when its
 * durable timer fires; `promoteDueScheduledRetries` is the periodic safety net for retries whose
 * workflow was lost. Both are the same guarded update, so a run is promoted once.
 */
import type { ActivityDeps } from './deps.ts';
import { appendRunEvent } from '../store/runEvents.ts';
import { boundIssueId } from '../store/json.ts';
import { releaseExecutionLock } from '../store/systemRuns.ts';
import { recoveryEventTexts } from '../domain/recoveryTexts.ts';
import { runLogFields } from '../runLogContext.ts';

export type PromotionOutcome = 'queued' | 'cancelled' | 'not_due' | 'not_scheduled';

/** R40 selects at most this many due retries per tick. */
const PROMOTION_BATCH = 50;

export async function promoteScheduledRetry(deps: ActivityDeps, runId: string, now = new Date()): Promise<PromotionOutcome> {
  const { prisma } = deps;
  const run = await prisma.heartbeatRun.findUnique({ where: { id: runId } });
  if (!run || run.status !== 'scheduled_retry') return 'not_scheduled';
  if (run.scheduledRetryAt && run.scheduledRetryAt > now) return 'not_due';
  const due = { id: run.id, status: 'scheduled_retry' as const, scheduledRetryAt: { lte: now } };
  const issueId = boundIssueId(run.contextSnapshot);
  const issue = issueId ? await prisma.issue.findUnique({ where: { id: issueId }, select: { id: true, assigneeAgentId: true, status: true } }) : null;
  const drop =
    issue && issue.status === 'cancelled'
      ? { errorCode: 'issue_cancelled', error: recoveryEventTexts.scheduledRetryIssueCancelled }
      : issue && issue.assigneeAgentId !== run.agentId
        ? { errorCode: 'issue_reassigned', error: recoveryEventTexts.scheduledRetryReassigned }
        : null;
  const outcome = await prisma.$transaction(async (tx): Promise<PromotionOutcome> => {
    if (drop) {
      const cancelled = await tx.heartbeatRun.updateMany({ where: due, data: { status: 'cancelled', finishedAt: now, ...drop } });
      if (cancelled.count === 0) return 'not_scheduled';
      if (run.wakeupRequestId) {
        await tx.agentWakeupRequest.update({ where: { id: run.wakeupRequestId }, data: { status: 'cancelled', error: drop.error, finishedAt: now } });
      }
      if (issue) {
        await releaseExecutionLock(tx, issue.id, run.id);
      }
      await appendRunEvent(tx, { companyId: run.companyId, runId: run.id, agentId: run.agentId, eventType: 'lifecycle', level: 'warn', message: drop.error, payload: { errorCode: drop.errorCode } });
      return 'cancelled';
    }
    const promoted = await tx.heartbeatRun.updateMany({ where: due, data: { status: 'queued' } });
    if (promoted.count === 0) return 'not_scheduled';
    await appendRunEvent(tx, { companyId: run.companyId, runId: run.id, agentId: run.agentId, eventType: 'lifecycle', message: recoveryEventTexts.scheduledRetryPromoted });
    return 'queued';
  });
  if (outcome === 'cancelled' && drop) deps.metrics.runFinished('cancelled', drop.errorCode);
  if (outcome === 'queued' || outcome === 'cancelled') deps.logger.info(`scheduled retry ${outcome === 'queued' ? 'promoted' : 'dropped'}`, { ...runLogFields(run), errorCode: drop?.errorCode ?? null });
  return outcome;
}

export function promoteDueScheduledRetries(deps: ActivityDeps, now = new Date(), scope: { companyId?: string } = {}): Promise<{ promoted: number; runIds: string[] }> {
  return deps.metrics.timeSweep('scheduled_retry_promotion', async () => {
    const result = await promoteDue(deps, now, scope);
    deps.metrics.sweepItems('scheduled_retry_promotion', 'promoted', result.promoted);
    return result;
  });
}

async function promoteDue(deps: ActivityDeps, now: Date, scope: { companyId?: string }): Promise<{ promoted: number; runIds: string[] }> {
  const due = await deps.prisma.heartbeatRun.findMany({
    where: { status: 'scheduled_retry', scheduledRetryAt: { lte: now }, ...(scope.companyId ? { companyId: scope.companyId } : {}) },
    orderBy: [{ scheduledRetryAt: 'asc' }, { createdAt: 'asc' }, { id: 'asc' }],
    take: PROMOTION_BATCH,
    select: { id: true },
  });
  const runIds: string[] = [];
  for (const { id } of due) {
    if ((await promoteScheduledRetry(deps, id, now)) === 'queued') runIds.push(id);
  }
  return { promoted: runIds.length, runIds };
}
