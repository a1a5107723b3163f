/**
 * R70's timer tick for one agent, run by the tick workflow its Temporal Schedule starts
 * (`workflows/heartbeatTimer.ts`): if the interval has elapsed, enqueue the timer wake through
 * R71 (so the invokable, policy and R74 budget gates apply and record their skipped wakes), then
 * start the new run's workflow like every other producer of runs (`executions.start`).
 * A refused wake is an outcome, never a failure: the tick workflow completes either way.
 */
import type { ActivityDeps } from './deps.ts';
import { AppError } from '../errors.ts';
import { enqueueWakeup, findWakeByIdempotencyKey } from '../store/wakeups.ts';
import { heartbeatPolicyOf } from '../domain/heartbeatPolicy.ts';
import { decideTimerTick, timerWakeRequest, type TimerTickInput, type TimerTickResult } from '../domain/timerTick.ts';

/**
 * The enqueue's refusals that skip a tick (by error code): R74, whose `budget.blocked` wake is
 * already written; R71 step 4, a paused or terminated agent (no wake, as R70 only considers
 * invokable agents); and an agent deleted meanwhile.
 */
const TICK_REFUSALS: Record<string, string> = { budget_blocked: 'budget.blocked', agent_not_invokable: 'agent_not_invokable', not_found: 'agent_missing' };

export async function enqueueTimerWake(deps: ActivityDeps, input: TimerTickInput): Promise<TimerTickResult> {
  const { prisma } = deps;
  const agentId = input.agentId;
  const agent = await prisma.agent.findUnique({ where: { id: agentId } });
  if (!agent) return { agentId, outcome: 'skipped', reason: 'agent_missing' };

  // A retry of this tick (the wake committed, then the run's start failed) finishes the first try.
  const earlier = await findWakeByIdempotencyKey(prisma, agentId, input.tickId);
  if (earlier) {
    if (!earlier.runId) return { agentId, outcome: 'deferred', wakeId: earlier.id };
    await deps.executions.start([earlier.runId]);
    return { agentId, outcome: earlier.status === 'coalesced' ? 'coalesced' : 'queued', runId: earlier.runId, wakeId: earlier.id };
  }

  const now = new Date();
  // R70: `now − (lastHeartbeatAt ?? createdAt) ≥ intervalSec`, at the tick nearest that moment.
  const decision = decideTimerTick({ intervalSec: heartbeatPolicyOf(agent.runtimeConfig).intervalSec, lastHeartbeatAt: agent.lastHeartbeatAt, createdAt: agent.createdAt, now });
  if (decision.kind === 'skip') {
    return { agentId, outcome: 'skipped', reason: decision.reason, ...(decision.reason === 'interval_not_elapsed' ? { elapsedSec: decision.elapsedSec } : {}) };
  }

  let result;
  try {
    result = await enqueueWakeup(prisma, agent, timerWakeRequest(now, input.tickId));
  } catch (error) {
    const reason = error instanceof AppError ? TICK_REFUSALS[error.code] : undefined;
    if (!reason) throw error;
    const wake = reason === 'budget.blocked' ? await skippedWakeOfTick(deps, agentId, input.tickId) : null;
    return { agentId, outcome: 'skipped', reason, message: (error as AppError).message, ...(wake ? { wakeId: wake.id } : {}) };
  }
  switch (result.kind) {
    case 'queued':
    case 'coalesced':
      // A coalesced wake may have joined a queued run still waiting for its workflow: start it too.
      await deps.executions.start([result.run.id]);
      return { agentId, outcome: result.kind, runId: result.run.id, wakeId: result.wakeId };
    case 'deferred':
      return { agentId, outcome: 'deferred', wakeId: result.wakeId };
    case 'skipped':
      return { agentId, outcome: 'skipped', reason: result.reason, message: result.message, wakeId: result.wakeId };
  }
}

/** The `budget.blocked` wake the enqueue wrote for this tick (its id goes into the tick's result). */
function skippedWakeOfTick(deps: ActivityDeps, agentId: string, tickId: string) {
  return deps.prisma.agentWakeupRequest.findFirst({ where: { agentId, idempotencyKey: tickId, status: 'skipped' }, orderBy: { requestedAt: 'desc' }, select: { id: true } });
}
