/**
 * R70's timer tick for one agent: what the agent's Temporal Schedule (`<prefix>heartbeat-<agentId>`,
 * temporal/heartbeatSchedules.ts) starts every `intervalSec`. One local activity enqueues the
 * timer wake through R71 and starts the run's workflow (a run of its own, `run-<runId>`); the
 * tick's result says what happened (queued, coalesced, or skipped and why). A refused wake
 * completes the tick too: only an error the activity's retries could not get past fails it.
 */
import { proxyLocalActivities, workflowInfo } from '@temporalio/workflow';
import type { RunActivities } from '../activities/index.ts';
import type { HeartbeatTimerInput, TimerTickResult } from '../domain/timerTick.ts';

/**
 * A local activity: one marker in the history and no activity task round trip, which matters at
 * one tick per agent per interval. Its transactions are short; retried if the database hiccups.
 */
const { enqueueTimerWake } = proxyLocalActivities<RunActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', maximumInterval: '10 seconds', maximumAttempts: 5 },
  summary: 'enqueue the timer wake',
});

export async function heartbeatTimerWorkflow(input: HeartbeatTimerInput): Promise<TimerTickResult> {
  // The tick's execution keys the wake, so a retried activity never enqueues a second one. The
  // workflow id alone is not enough: it carries the tick's time to the second, which a manual
  // trigger can share with another tick.
  const { workflowId, runId } = workflowInfo();
  return enqueueTimerWake({ agentId: input.agentId, tickId: `${workflowId}/${runId}` });
}
