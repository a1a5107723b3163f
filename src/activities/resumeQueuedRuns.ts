/**
 * R68/R69's queue resumer: every queued run gets its workflow started, or — if it is already
 * waiting for a slot or for its agent — a nudge to claim now. Idempotent: a run's workflow id is
 * its own. Used at start-up, by the periodic reaper sweep and when an agent resumes.
 */
import type { ActivityDeps } from './deps.ts';

export function resumeQueuedRuns(deps: ActivityDeps, scope: { companyId?: string; agentId?: string } = {}): Promise<number> {
  return deps.metrics.timeSweep('queue_resume', async () => {
    const queued = await deps.prisma.heartbeatRun.findMany({
      where: { status: 'queued', ...(scope.companyId ? { companyId: scope.companyId } : {}), ...(scope.agentId ? { agentId: scope.agentId } : {}) },
      select: { id: true },
    });
    await deps.executions.start(queued.map((run) => run.id));
    deps.metrics.sweepItems('queue_resume', 'resumed', queued.length);
    return queued.length;
  });
}
