/**
 * The `vigil_process_loss_detection_seconds` histogram: how long a lost agent process went
 * unnoticed, from the moment it was lost to the commit of the run's `process_lost` write.
 *
 * "The moment it was lost", per path:
 * - `exit_signal` (R21, the adapter returned `processLost`): the child's exit as the adapter saw it,
 *   noted by `executeAdapter` on this process;
 * - `heartbeat_timeout` (the adapter activity's worker died): the last heartbeat the Temporal
 *   server recorded = the `ActivityTaskTimedOut` event's time minus the activity's heartbeat
 *   timeout, read from the run's workflow history;
 * - `worker_shutdown` (the worker shut down under the agent and killed its group): the
 *   `ActivityTaskFailed` event's time;
 * - `reaper` (R19–R21, the orphan reaper found the pid dead): the run row's last write while it was
 *   running (pid record, last output flush) — an upper bound of the true detection time.
 * Where the moment cannot be known (an exit noted on another worker, no history) nothing is observed.
 */
import { Context } from '@temporalio/activity';
import { tsToMs } from '@temporalio/common/lib/time.js';
import type { ExecutionOutcome } from '../domain/runOutcome.ts';
import type { ProcessLossPath } from '../metrics/vigilMetrics.ts';
import type { ActivityDeps } from './deps.ts';

export interface LossMoment {
  path: ProcessLossPath;
  /** Null when the moment is not known here. */
  lostAt: Date | null;
}

const HISTORY_TIMEOUT_MS = 5_000;

/**
 * The run's workflow history (this activity's own workflow) says how and when the adapter
 * activity was lost: its latest timed-out or failed attempt.
 */
async function lossFromHistory(context: Context): Promise<LossMoment | null> {
  const execution = context.info.workflowExecution;
  if (!execution) return null;
  const { workflowId, runId } = execution;
  const history = await context.client.workflow.getHandle(workflowId, runId).fetchHistory();
  const events = history.events ?? [];
  for (let i = events.length - 1; i >= 0; i--) {
    const event = events[i];
    if (event.activityTaskTimedOutEventAttributes) {
      const scheduledId = String(event.activityTaskTimedOutEventAttributes.scheduledEventId ?? '');
      const scheduled = events.find((e) => String(e.eventId ?? '') === scheduledId)?.activityTaskScheduledEventAttributes;
      const lostAt = scheduled?.heartbeatTimeout && event.eventTime ? new Date(tsToMs(event.eventTime) - tsToMs(scheduled.heartbeatTimeout)) : null;
      return { path: 'heartbeat_timeout', lostAt };
    }
    if (event.activityTaskFailedEventAttributes) {
      return { path: 'worker_shutdown', lostAt: event.eventTime ? new Date(tsToMs(event.eventTime)) : null };
    }
  }
  return null;
}

/**
 * Where and when the process of a run just written `process_lost` was lost. `runUpdatedAt` is the
 * run row as finalize read it, before its terminal write.
 */
export async function processLossMoment(deps: ActivityDeps, runId: string, outcome: ExecutionOutcome, runUpdatedAt: Date): Promise<LossMoment> {
  switch (outcome.kind) {
    case 'reaped':
      return { path: 'reaper', lostAt: runUpdatedAt };
    case 'worker_lost': {
      const unknown: LossMoment = { path: 'heartbeat_timeout', lostAt: null };
      let context: Context;
      try {
        context = Context.current();
      } catch {
        return unknown; // not inside an activity
      }
      const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), HISTORY_TIMEOUT_MS).unref());
      return (await Promise.race([lossFromHistory(context).catch(() => null), timeout])) ?? unknown;
    }
    default:
      return { path: 'exit_signal', lostAt: deps.metrics.takeProcessExit(runId) };
  }
}
