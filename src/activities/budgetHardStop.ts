/**
 * R15's budget hard stop for work in flight: once a cost event makes a hard budget limit reached,
 * the runs in the limit's scope (the agent's, or the whole company's) are cancelled with
 * "Cancelled due to budget pause" — `stopReason: "budget_paused"`, so no recovery follows (R28's
 * release without immediate recovery) — and the scope's pending wakes are cancelled too. R74's
 * gate already refuses every new claim, wake and recovery; this stops what was already running.
 */
import type { ActivityDeps } from './deps.ts';
import { getInvocationBlock } from '../store/budget.ts';
import { runTexts } from '../domain/texts.ts';
import { LIVE_RUN_STATUSES } from '../domain/runStatus.ts';

export interface BudgetStopResult {
  blocked: boolean;
  cancelledRunIds: string[];
  cancelledWakes: number;
}

export async function enforceBudgetHardStop(
  deps: ActivityDeps,
  input: { companyId: string; agentId: string; exceptRunId?: string },
): Promise<BudgetStopResult> {
  const block = await getInvocationBlock(deps.prisma, { companyId: input.companyId, agentId: input.agentId });
  // Projects are not bound to runs here; a manual company pause is not a budget stop.
  if (!block || !block.budget || block.scope === 'project') return { blocked: false, cancelledRunIds: [], cancelledWakes: 0 };
  const scope = block.scope === 'company' ? { companyId: input.companyId } : { companyId: input.companyId, agentId: input.agentId };
  const reason = runTexts.cancelledByBudgetPause;
  const wakes = await deps.prisma.agentWakeupRequest.updateMany({
    where: { ...scope, runId: null, status: { in: ['queued', 'deferred_issue_execution'] } },
    data: { status: 'cancelled', error: reason, finishedAt: new Date() },
  });
  const live = await deps.prisma.heartbeatRun.findMany({
    where: { ...scope, status: { in: [...LIVE_RUN_STATUSES] }, ...(input.exceptRunId ? { id: { not: input.exceptRunId } } : {}) },
    select: { id: true },
  });
  const cancelledRunIds = await deps.executions.requestCancel(live.map((run) => run.id), reason);
  if (cancelledRunIds.length > 0 || wakes.count > 0) {
    deps.logger.warn('budget hard stop: cancelling work in flight', { companyId: input.companyId, agentId: input.agentId, scope: block.scope, runIds: cancelledRunIds, cancelledWakes: wakes.count });
  }
  return { blocked: true, cancelledRunIds, cancelledWakes: wakes.count };
}
