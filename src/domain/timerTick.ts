/**
 * R70's timer tick for one agent, as its Temporal Schedule fires it (`workflows/heartbeatTimer.ts`):
 * whether the interval has elapsed, and the wake it then asks for. Pure, so the workflow may
 * import the types and the tests hit the rule directly.
 */

/** What the schedule starts the tick workflow with. */
export interface HeartbeatTimerInput {
  agentId: string;
}

/** The tick activity's input: the agent, and the tick's own id (`<workflowId>/<runId>`), the wake's idempotency key. */
export interface TimerTickInput {
  agentId: string;
  tickId: string;
}

/** The tick workflow's result, shown in Temporal UI. */
export type TimerTickResult =
  | { agentId: string; outcome: 'queued' | 'coalesced'; runId: string; wakeId: string }
  | { agentId: string; outcome: 'deferred'; wakeId: string }
  | {
      agentId: string;
      outcome: 'skipped';
      /**
       * R70's own checks (`agent_missing`, `no_interval`, `interval_not_elapsed`), or the enqueue's
       * gate that refused it: `agent_not_invokable`, or a skipped wake's reason (`budget.blocked`,
       * `heartbeat.disabled`, …) with its `wakeId`.
       */
      reason: string;
      wakeId?: string;
      message?: string;
      elapsedSec?: number;
    };

export type TimerTickDecision =
  | { kind: 'enqueue' }
  | { kind: 'skip'; reason: 'no_interval' }
  | { kind: 'skip'; reason: 'interval_not_elapsed'; elapsedSec: number };

/**
 * R70: due when `now − (lastHeartbeatAt ?? createdAt) ≥ intervalSec`, so a run that just finished
 * (whatever woke it) postpones the timer. The reference checks every 30 s; a Schedule ticks once an
 * interval, so the wake goes out at the tick NEAREST the due moment: a tick up to half an interval
 * early fires. Otherwise the tick after a timer run — early by that run's duration, since
 * `lastHeartbeatAt` is written when a run ends — would skip, and an hourly agent run every two hours. Whether the timer is enabled and the agent invokable are
 * the enqueue's gates (R71 step 4–5), which record why they skipped.
 */
export function decideTimerTick(input: { intervalSec: number; lastHeartbeatAt: Date | null; createdAt: Date; now: Date }): TimerTickDecision {
  if (input.intervalSec <= 0) return { kind: 'skip', reason: 'no_interval' };
  const elapsedSec = (input.now.getTime() - (input.lastHeartbeatAt ?? input.createdAt).getTime()) / 1000;
  if (elapsedSec < input.intervalSec / 2) return { kind: 'skip', reason: 'interval_not_elapsed', elapsedSec: Math.floor(elapsedSec) };
  return { kind: 'enqueue' };
}

/** R70: the timer wake, exactly as the reference's scheduler asks for it. */
export function timerWakeRequest(now: Date, tickId: string) {
  return {
    source: 'timer' as const,
    triggerDetail: 'system',
    reason: 'heartbeat_timer',
    requestedByActorType: 'system' as const,
    requestedByActorId: 'heartbeat_scheduler',
    contextSnapshot: { source: 'scheduler', reason: 'interval_elapsed', now: now.toISOString() },
    idempotencyKey: tickId,
  };
}
