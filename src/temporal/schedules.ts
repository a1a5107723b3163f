/**
 * The periodic recovery sweeps as Temporal Schedules (R68): the orphan reaper (with scheduled-retry
 * promotion and the queue resumer) and the stranded-work reconcile. Overlap policy SKIP: a sweep
 * still running when the next one is due is not doubled. Each schedule is visible and pausable
 * in Temporal UI ("Schedules"), and `temporal schedule trigger` runs one now.
 */
import { ScheduleAlreadyRunning, ScheduleOverlapPolicy, type Client, type ScheduleOptions } from '@temporalio/client';
import { reapOrphanedRunsWorkflow, reconcileStrandedWorkWorkflow } from '../workflows/recoverySweeps.ts';

export interface RecoveryScheduleOptions {
  taskQueue: string;
  /** Prefix of the schedule ids, so separate Vigil instances on one namespace don't collide. */
  idPrefix: string;
  intervalMs: number;
}

/** R68: the periodic reaper skips runs touched within the last 5 minutes. */
export const PERIODIC_REAP_STALE_THRESHOLD_MS = 5 * 60_000;

export function recoveryScheduleIds(idPrefix: string) {
  return { reap: `${idPrefix}reap-orphaned-runs`, reconcile: `${idPrefix}reconcile-stranded-work` };
}

/** Creates one schedule, or brings an existing one up to date (interval, task queue, arguments). */
async function upsertSchedule(client: Client, options: ScheduleOptions): Promise<void> {
  try {
    await client.schedule.create(options);
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    await client.schedule.getHandle(options.scheduleId).update((previous) => ({ ...previous, spec: options.spec, policies: options.policies, action: options.action }));
  }
}

export async function ensureRecoverySchedules(client: Client, options: RecoveryScheduleOptions): Promise<void> {
  const ids = recoveryScheduleIds(options.idPrefix);
  const spec = { intervals: [{ every: options.intervalMs }] };
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: options.intervalMs };
  await upsertSchedule(client, {
    scheduleId: ids.reap,
    spec,
    policies,
    action: {
      type: 'startWorkflow',
      workflowType: reapOrphanedRunsWorkflow,
      args: [{ staleThresholdMs: PERIODIC_REAP_STALE_THRESHOLD_MS }],
      taskQueue: options.taskQueue,
      workflowId: ids.reap,
    },
  });
  await upsertSchedule(client, {
    scheduleId: ids.reconcile,
    spec,
    policies,
    action: { type: 'startWorkflow', workflowType: reconcileStrandedWorkWorkflow, args: [], taskQueue: options.taskQueue, workflowId: ids.reconcile },
  });
}

/**
 * R68 at startup: reap with no staleness threshold (after a restart every running row without a
 * live workflow is an orphan), then reconcile. Started as ordinary workflows; a second start while
 * one runs is refused by its fixed id.
 */
export async function runStartupRecovery(client: Client, options: RecoveryScheduleOptions): Promise<void> {
  const ids = recoveryScheduleIds(options.idPrefix);
  const reap = await client.workflow.start(reapOrphanedRunsWorkflow, {
    taskQueue: options.taskQueue,
    workflowId: `${ids.reap}-at-startup`,
    args: [{ staleThresholdMs: 0 }],
  }).catch(() => null);
  await reap?.result().catch(() => undefined);
  await client.workflow.start(reconcileStrandedWorkWorkflow, { taskQueue: options.taskQueue, workflowId: `${ids.reconcile}-at-startup`, args: [] }).catch(() => undefined);
}
