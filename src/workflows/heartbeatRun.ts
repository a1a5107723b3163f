/**
 * One heartbeat run = one workflow, id `run-<runId>`: claim the run (R4), execute the agent's
 * adapter process (one attempt, heartbeating), and finalize it through the post-terminal pipeline
 * (R8). Cancellation (R14) arrives as an update that cancels the adapter activity; the activity
 * kills the process group first, and only then is the run written `cancelled`.
 *
 * Issue 13: the agent outlives its worker under the host's supervisor. When the adapter activity's
 * worker dies (heartbeat timeout) or detaches on a deploy, the activity runs again on the task
 * queue of the agent's host and attaches to it; only if no worker comes back to that host within
 * the reattach window is the process lost (R21, one retry). A cancel that finds no worker
 * watching the agent ends its group through the host's next worker.
 */
import {
  ActivityCancellationType,
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  TimeoutFailure,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  getExternalWorkflowHandle,
  isCancellation,
  patched,
  type LocalActivityOptions,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  upsertMemo,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { RunActivities, ClaimResult } from '../activities/index.ts';
import type { ExecutionOutcome } from '../domain/runOutcome.ts';
import {
  MAX_REATTACHES,
  MAX_WORKER_HANDOVERS,
  WORKER_DETACHED_FAILURE,
  WORKER_SHUTDOWN_BEFORE_START_FAILURE,
  WORKER_SHUTDOWN_FAILURE,
  agentHostQueue,
  lastAliveAt,
  shutdownLostAt,
} from '../domain/runOutcome.ts';
import { runTexts } from '../domain/texts.ts';
import { runWorkflowId } from '../domain/runWorkflowId.ts';
import { adapterActivityTimeout } from '../domain/runTimeouts.ts';
import { recoveryDecisionMemo } from '../domain/recoveryDecision.ts';

export interface HeartbeatRunInput {
  runId: string;
  /** Heartbeat timeout of the adapter activity; a worker that dies is noticed after this long. */
  adapterHeartbeatTimeoutMs: number;
  /**
   * Issue 13: how long the run waits for a worker on its agent's host after its worker died or
   * detached (VIGIL_REATTACH_WINDOW_SEC). Absent (a run started before issue 13): no reattaching.
   */
  reattachWindowMs?: number;
}

export interface CancelRunRequest {
  reason?: string;
}

/** What the workflow returns (shown as its result in Temporal UI). */
export interface RunWorkflowResult {
  runId: string;
  status: string;
  errorCode: string | null;
}

export interface RunWorkflowState {
  phase: 'waiting_for_retry' | 'claiming' | 'waiting_for_slot' | 'executing' | 'finalizing' | 'finished';
  status: string | null;
}

export const cancelRunUpdate = defineUpdate<RunWorkflowState, [CancelRunRequest]>('cancelRun');
export const slotFreedSignal = defineSignal('slotFreed');
export const runStateQuery = defineQuery<RunWorkflowState>('runState');

/**
 * Claim and finalize are short, idempotent database transactions: local activities, run by the
 * worker that holds the workflow task, so they cost no server round trip and no extra workflow
 * task (they appear in the history as markers). Retried if the database hiccups.
 */
const LIFECYCLE_OPTIONS: LocalActivityOptions = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 10 },
};
/** Each step carries the one-line summary Temporal UI shows beside the activity type. */
const step = (summary: string) => proxyLocalActivities<RunActivities>({ ...LIFECYCLE_OPTIONS, summary });
const lifecycle = {
  claimRun: step('claim run').claimRun,
  promoteScheduledRetry: step('promote scheduled retry').promoteScheduledRetry,
  finalizeRun: step('finalize run').finalizeRun,
  afterRunFinalized: step('escalate or continue after the run').afterRunFinalized,
  startRuns: step('start follow-up runs').startRuns,
};

/** Ends a run's agent through a worker of its host (issue 13); a host with no worker within the window leaves it to the supervisor. */
async function endUnwatchedAgent(runId: string, graceSec: number, placement: NonNullable<Placement>): Promise<void> {
  const onHost = proxyActivities<RunActivities>({
    summary: 'end the cancelled run\'s agent on its host',
    taskQueue: placement.hostQueue,
    scheduleToStartTimeout: placement.windowMs,
    startToCloseTimeout: `${Math.max(1, graceSec) * 2 + 30} seconds`,
    retry: { maximumAttempts: 3 },
  });
  await onHost.terminateAgent({ runId, graceSec }).catch(() => undefined);
}

/** How long a run waits for a free agent slot (or a paused agent) before re-checking on its own. */
const SLOT_RECHECK = '30 seconds';

/** Where the adapter activity runs: any worker of the run's queue, or (reattaching) the agent's host for at most the window. */
type Placement = { hostQueue: string; windowMs: number } | null;

function adapterActivities(claim: Extract<ClaimResult, { kind: 'claimed' }>, heartbeatTimeoutMs: number, placement: Placement) {
  return proxyActivities<RunActivities>({
    summary: placement ? 'reattach to agent process' : 'execute agent process',
    // The adapter enforces timeoutSec itself (R13); this bound only catches a wedged activity.
    startToCloseTimeout: adapterActivityTimeout(claim),
    heartbeatTimeout: heartbeatTimeoutMs,
    // Back to the agent's host: a worker there must take it within the window, or the process is lost.
    ...(placement ? { taskQueue: placement.hostQueue, scheduleToStartTimeout: placement.windowMs } : {}),
    // One attempt: a lost process is recovered by Vigil's own rules (a new run), never a blind replay.
    retry: { maximumAttempts: 1 },
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
  });
}

function isShutdownBeforeStart(error: unknown): boolean {
  return error instanceof ActivityFailure && error.cause instanceof ApplicationFailure && error.cause.type === WORKER_SHUTDOWN_BEFORE_START_FAILURE;
}

/**
 * Issue 13: the host task queue of an agent that may outlive the failed adapter activity — its
 * worker stopped heartbeating, or detached from it on a deploy — null otherwise.
 */
function hostOfUnwatchedAgent(error: unknown): { hostQueue: string; aliveAt: string | null } | null {
  if (!(error instanceof ActivityFailure)) return null;
  const cause = error.cause;
  if (cause instanceof TimeoutFailure && cause.timeoutType === 'HEARTBEAT') {
    const hostQueue = agentHostQueue(cause.lastHeartbeatDetails);
    return hostQueue ? { hostQueue, aliveAt: lastAliveAt(cause.lastHeartbeatDetails) } : null;
  }
  if (cause instanceof ApplicationFailure && cause.type === WORKER_DETACHED_FAILURE) {
    const hostQueue = agentHostQueue(cause.details?.[0]);
    return hostQueue ? { hostQueue, aliveAt: lastAliveAt(cause.details?.[0]) } : null;
  }
  return null;
}

function isScheduleToStartTimeout(error: unknown): boolean {
  return error instanceof ActivityFailure && error.cause instanceof TimeoutFailure && error.cause.timeoutType === 'SCHEDULE_TO_START';
}

function outcomeOfFailure(error: unknown, cancelReason: string | null): ExecutionOutcome {
  if (cancelReason !== null && isCancellation(error)) return { kind: 'cancelled', reason: cancelReason };
  if (error instanceof ActivityFailure && error.cause instanceof TimeoutFailure) {
    const timeout = error.cause;
    if (timeout.timeoutType === 'HEARTBEAT') {
      // Lost at its last heartbeat Temporal recorded: read from this failure, so replay sees the same moment.
      return { kind: 'worker_lost', via: 'heartbeat_timeout', detail: 'adapter activity heartbeat timed out', lostAt: lastAliveAt(timeout.lastHeartbeatDetails) };
    }
    return { kind: 'adapter_threw', message: `Adapter activity timed out (${timeout.timeoutType})` };
  }
  const cause = error instanceof ActivityFailure && error.cause ? error.cause : error;
  if (cause instanceof ApplicationFailure && (cause.type === WORKER_SHUTDOWN_FAILURE || cause.type === WORKER_SHUTDOWN_BEFORE_START_FAILURE)) {
    return { kind: 'worker_lost', via: 'worker_shutdown', detail: 'worker shut down while the agent process was running', lostAt: shutdownLostAt(cause.details) };
  }
  return { kind: 'adapter_threw', message: cause instanceof Error ? cause.message : String(cause) };
}

export async function heartbeatRunWorkflow(input: HeartbeatRunInput): Promise<RunWorkflowResult> {
  const state: RunWorkflowState = { phase: 'claiming', status: 'queued' };
  let cancelReason: string | null = null;
  let slotFreed = false;
  const executionScope = new CancellationScope();

  setHandler(runStateQuery, () => state);
  setHandler(slotFreedSignal, () => {
    slotFreed = true;
  });
  setHandler(cancelRunUpdate, async (request) => {
    cancelReason ??= request.reason?.trim() || runTexts.cancelledByControlPlane;
    if (state.phase === 'executing') executionScope.cancel();
    await condition(() => state.phase === 'finished');
    return state;
  });

  const finish = (status: string, errorCode: string | null) => {
    state.phase = 'finished';
    state.status = status;
    upsertSearchAttributes({ VigilRunStatus: [status], ...(errorCode ? { VigilErrorCode: [errorCode] } : {}) });
  };
  const finalize = async (outcome: ExecutionOutcome): Promise<RunWorkflowResult> => {
    state.phase = 'finalizing';
    const result = await lifecycle.finalizeRun({ runId: input.runId, outcome });
    finish(result.status, result.errorCode);
    // R8 after the commit: escalation (R32) and liveness continuation (R46).
    const followUps = [...result.followUpRunIds];
    const decisionLines = [...(result.decisionLines ?? [])];
    if (result.escalation || result.livenessContinuation) {
      const aftercare = await lifecycle.afterRunFinalized({ runId: input.runId, escalation: result.escalation, livenessContinuation: result.livenessContinuation });
      // A history recorded before V8 answers with the run ids alone.
      const { followUpRunIds, decisionLines: later } = Array.isArray(aftercare) ? { followUpRunIds: aftercare as string[], decisionLines: [] } : aftercare;
      followUps.push(...followUpRunIds);
      decisionLines.push(...later);
    }
    // V8: Temporal UI shows the decision taken after this run, in one line.
    if (!result.alreadyTerminal && patched('recovery-decision-memo')) upsertMemo({ recoveryDecision: recoveryDecisionMemo(result.status, decisionLines) });
    // Retries, continuations and recovery dispatches are run workflows of their own.
    if (followUps.length > 0) await lifecycle.startRuns(followUps);
    // Hand the freed slot to the agent's next queued runs (R69) without waiting for their re-check.
    for (const next of result.nextQueuedRunIds) {
      if (next === input.runId || followUps.includes(next)) continue;
      await getExternalWorkflowHandle(runWorkflowId(next)).signal(slotFreedSignal).catch(() => undefined);
    }
    return { runId: input.runId, status: result.status, errorCode: result.errorCode };
  };

  // Claim, waiting for a slot while the agent is at its concurrency limit.
  let claim: ClaimResult;
  for (;;) {
    if (cancelReason !== null) return finalize({ kind: 'cancelled', reason: cancelReason });
    claim = await lifecycle.claimRun(input.runId);
    if (claim.kind === 'scheduled') {
      // R38/R40: a scheduled retry waits for its due time on a durable timer, then is promoted
      // (or dropped, if its issue was reassigned or cancelled meanwhile).
      state.phase = 'waiting_for_retry';
      state.status = 'scheduled_retry';
      const waitMs = Math.max(0, Date.parse(claim.dueAt) - Date.now());
      if (await condition(() => cancelReason !== null, waitMs)) continue;
      await lifecycle.promoteScheduledRetry(input.runId);
      state.phase = 'claiming';
      state.status = 'queued';
      continue;
    }
    if (claim.kind !== 'wait_for_slot' && claim.kind !== 'wait_for_agent') break;
    state.phase = 'waiting_for_slot';
    slotFreed = false;
    await condition(() => slotFreed || cancelReason !== null, SLOT_RECHECK);
  }
  if (claim.kind === 'ended') {
    finish(claim.status, null);
    return { runId: input.runId, status: claim.status, errorCode: null };
  }
  if (claim.kind === 'cancel') return finalize({ kind: 'cancelled', reason: claim.reason });
  if (cancelReason !== null) return finalize({ kind: 'cancelled', reason: cancelReason });

  state.phase = 'executing';
  state.status = 'running';
  upsertSearchAttributes({ VigilRunStatus: ['running'] });
  let outcome: ExecutionOutcome;
  let placement: Placement = null;
  let lastSeenAlive: string | null = null;
  for (let handovers = 0, reattaches = 0; ; ) {
    try {
      const adapter = adapterActivities(claim, input.adapterHeartbeatTimeoutMs, placement);
      const reattachable = (input.reattachWindowMs ?? 0) > 0;
      const result = await executionScope.run(() => (reattachable ? adapter.executeAdapter(input.runId, { reattachable }) : adapter.executeAdapter(input.runId)));
      outcome = { kind: 'adapter_result', result };
    } catch (error) {
      // A worker that began draining before the agent started: no process existed, so the same
      // run goes to another worker (a new activity, not a retry of a lost one), a few times at most.
      if (cancelReason === null && handovers < MAX_WORKER_HANDOVERS && isShutdownBeforeStart(error)) {
        handovers++;
        continue;
      }
      const unwatched = (input.reattachWindowMs ?? 0) > 0 ? hostOfUnwatchedAgent(error) : null;
      if (unwatched && patched('reattach-agent-on-its-host')) {
        lastSeenAlive = unwatched.aliveAt ?? lastSeenAlive;
        placement = { hostQueue: unwatched.hostQueue, windowMs: input.reattachWindowMs! };
        if (cancelReason === null && reattaches < MAX_REATTACHES) {
          reattaches++;
          continue;
        }
      }
      if (cancelReason !== null && placement !== null) {
        // R14 with no worker watching the agent: the host's next worker ends its group (if none
        // comes within the window, the supervisor ends it as unattended).
        await endUnwatchedAgent(input.runId, claim.graceSec, placement);
        outcome = { kind: 'cancelled', reason: cancelReason };
      } else if (placement !== null && isScheduleToStartTimeout(error)) {
        // No worker came back to the agent's host within the window: the process is lost (R21).
        outcome = { kind: 'worker_lost', via: 'heartbeat_timeout', detail: 'no worker came back to the agent process within the reattach window', lostAt: lastSeenAlive };
      } else {
        outcome = outcomeOfFailure(error, cancelReason);
      }
    }
    break;
  }
  const result = await finalize(outcome);
  // Let a pending cancel update answer with the final state before the workflow closes.
  await condition(allHandlersFinished);
  return result;
}
