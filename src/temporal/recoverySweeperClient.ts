/**
 * Vigil's side of the recovery sweeper (`workflows/recoverySweeper.ts`): every Vigil process
 * ensures the one sweeper of its instance at start, and runs R68's startup pass through it.
 *
 * - One sweeper per namespace and id prefix, however many Vigils start at once: signal-with-start
 *   is atomic on the server (start it, or signal the running one), and the `configure` signal
 *   brings a running sweeper to this process's interval.
 * - A sweeper left on another task queue (Vigil's `VIGIL_TASK_QUEUE` changed) has no worker and
 *   would never sweep again: it is terminated and started here, keeping its paused halves (memo).
 * - Upgrades: the two Temporal Schedules of earlier Vigils are deleted, and a Schedule that was
 *   paused pauses the same half of the sweeper, so an upgrade neither doubles the sweeps nor
 *   resumes what an operator had stopped.
 */
import { ScheduleNotFoundError, WorkflowNotFoundError, type Client, type WorkflowHandle } from '@temporalio/client';
import { configureSweeperSignal, pauseSweepsSignal, recoverySweeperWorkflow, sweepNowUpdate, type SweepPassResult } from '../workflows/recoverySweeper.ts';
import { legacyRecoveryScheduleIds, recoverySweeperWorkflowId, SWEEPER_WORKFLOW_TASK_TIMEOUT, SWEEP_KINDS, type SweepKind } from '../domain/recoverySweeper.ts';
import { recoverySweeperTexts } from '../domain/texts.ts';
import type { Logger } from '../logger.ts';

export interface RecoverySweeperOptions {
  taskQueue: string;
  /** Prefix of the sweeper's workflow id, so separate Vigil instances on one namespace don't collide. */
  idPrefix: string;
  intervalMs: number;
  /** Only this company (tests); default every company. */
  companyId?: string;
  /** Continue-as-new budget (tests make it small); default `SWEEPER_HISTORY_BUDGET`. */
  historyBudget?: { events: number; bytes: number };
}

export function recoverySweeperHandle(client: Client, idPrefix: string): WorkflowHandle<typeof recoverySweeperWorkflow> {
  return client.workflow.getHandle<typeof recoverySweeperWorkflow>(recoverySweeperWorkflowId(idPrefix));
}

export async function ensureRecoverySweeper(client: Client, options: RecoverySweeperOptions, logger?: Logger): Promise<WorkflowHandle<typeof recoverySweeperWorkflow>> {
  const workflowId = recoverySweeperWorkflowId(options.idPrefix);
  const keepPaused = new Set<SweepKind>([...(await removeLegacySchedules(client, options.idPrefix, logger)), ...(await retireOnOtherTaskQueue(client, workflowId, options.taskQueue, logger))]);
  const handle = await client.workflow.signalWithStart(recoverySweeperWorkflow, {
    workflowId,
    taskQueue: options.taskQueue,
    workflowTaskTimeout: SWEEPER_WORKFLOW_TASK_TIMEOUT,
    args: [{ intervalMs: options.intervalMs, companyId: options.companyId, historyBudget: options.historyBudget }],
    signal: configureSweeperSignal,
    signalArgs: [{ intervalMs: options.intervalMs }],
    staticSummary: recoverySweeperTexts.staticSummary,
    staticDetails: recoverySweeperTexts.staticDetails,
  });
  if (keepPaused.size > 0) await handle.signal(pauseSweepsSignal, { sweeps: SWEEP_KINDS.filter((kind) => keepPaused.has(kind)) });
  return handle;
}

/**
 * R68 at startup, once per Vigil process: reap with no staleness threshold (after a restart every
 * `running` row without a live workflow is an orphan), then the rest of the chain, as a pass of
 * the sweeper. A Vigil starting while another's startup pass waits shares that pass.
 */
export function runStartupRecovery(client: Client, idPrefix: string): Promise<SweepPassResult> {
  return recoverySweeperHandle(client, idPrefix).executeUpdate(sweepNowUpdate, { args: [{ staleThresholdMs: 0, trigger: 'startup' }] });
}

/** Deletes the Schedules of earlier Vigils; returns the halves whose Schedule was paused. */
async function removeLegacySchedules(client: Client, idPrefix: string, logger?: Logger): Promise<SweepKind[]> {
  const paused: SweepKind[] = [];
  for (const [kind, scheduleId] of Object.entries(legacyRecoveryScheduleIds(idPrefix)) as Array<[SweepKind, string]>) {
    const schedule = client.schedule.getHandle(scheduleId);
    try {
      if ((await schedule.describe()).state.paused) paused.push(kind);
      await schedule.delete();
      logger?.info(recoverySweeperTexts.legacySchedulesRemoved, { scheduleId, paused: paused.includes(kind) });
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
    }
  }
  return paused;
}

/** Terminates a running sweeper whose task queue no worker of this Vigil polls; returns its paused halves. */
async function retireOnOtherTaskQueue(client: Client, workflowId: string, taskQueue: string, logger?: Logger): Promise<SweepKind[]> {
  let described;
  try {
    described = await client.workflow.getHandle(workflowId).describe();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return [];
    throw error;
  }
  if (described.status.name !== 'RUNNING' || described.taskQueue === taskQueue) return [];
  const reason = recoverySweeperTexts.movedTaskQueue(described.taskQueue, taskQueue);
  try {
    await client.workflow.getHandle(workflowId, described.runId).terminate(reason);
    logger?.warn(reason, { workflowId });
  } catch (error) {
    // Another Vigil starting on the same queue retired it first.
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  }
  const paused = (described.memo as { paused?: unknown } | undefined)?.paused;
  return Array.isArray(paused) ? SWEEP_KINDS.filter((kind) => paused.includes(kind)) : [];
}
