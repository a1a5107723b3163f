/**
 * R5/R6/R12/R20: how the end of an execution maps onto the run row's terminal fields.
 * Pure: the finalize activity persists what this returns.
 */
import type { RunStatus } from './runStatus.ts';
import type { AdapterResult } from './adapterResult.ts';
import { buildStopMetadata, stopReasonFor } from './stopMetadata.ts';
import { redactSecrets } from './redaction.ts';
import { processLostMessage, runTexts, workerLostMessage } from './texts.ts';

/** What the adapter reported, in a form that crosses the activity boundary (JSON, no Dates). */
export type AdapterResultPayload = Omit<AdapterResult, 'startedAt' | 'finishedAt'> & {
  /**
   * R21 exit path: ISO time the adapter saw its child die, when `processLost`; else null. Absent
   * from results of older builds (then the moment is unknown).
   */
  lostAt: string | null;
};

/** How an execution ended, as the run workflow observed it. */
export type ExecutionOutcome =
  | { kind: 'adapter_result'; result: AdapterResultPayload }
  /** Cancelled through the workflow (manual cancel, agent pause, budget stop) with the cancel reason. */
  | { kind: 'cancelled'; reason: string }
  /**
   * The adapter activity stopped heartbeating, or its worker shut down under it: its child is gone.
   * `lostAt` (ISO) is the last moment the process was known alive — the last heartbeat Temporal
   * recorded, or the moment the shutting-down worker ended the group — null when the failure does
   * not say (an activity of an older build).
   */
  | { kind: 'worker_lost'; via: 'heartbeat_timeout' | 'worker_shutdown'; detail: string; lostAt: string | null }
  /** The adapter or the code preparing it threw (R6, R7). */
  | { kind: 'adapter_threw'; message: string }
  /** The orphan reaper found the run's process gone (R19–R21). */
  | { kind: 'reaped'; descendantOnly: boolean };

export interface TerminalWrite {
  status: Extract<RunStatus, 'succeeded' | 'failed' | 'cancelled' | 'timed_out'>;
  error: string | null;
  errorCode: string | null;
  exitCode: number | null;
  signal: string | null;
  resultJson: Record<string, unknown>;
  stdoutExcerpt: string | null;
  stderrExcerpt: string | null;
}

/** Failure type of an adapter activity that ended because its worker shut down (a lost process). */
export const WORKER_SHUTDOWN_FAILURE = 'WorkerShutdown';

/**
 * Failure type of an adapter activity whose worker began shutting down before the agent started:
 * no process existed, so nothing was lost; the run workflow hands the run to another worker.
 */
export const WORKER_SHUTDOWN_BEFORE_START_FAILURE = 'WorkerShutdownBeforeStart';

/** How many times one run is handed to another worker that way before it counts as a lost process. */
export const MAX_WORKER_HANDOVERS = 5;

/**
 * Failure type of an adapter activity whose worker detached from a running agent (a deploy,
 * VIGIL_SHUTDOWN_MODE=detach, issue 13): the agent runs on under its host's supervisor, and the
 * run workflow sends the adapter activity to the host's task queue to reattach.
 */
export const WORKER_DETACHED_FAILURE = 'WorkerDetached';

/** How many times one run comes back to its agent (each after a worker died or detached). */
export const MAX_REATTACHES = 20;

/**
 * The adapter activity's heartbeat details: when it was last alive, and the task queue of the
 * host its agent runs on (issue 13). A heartbeat timeout carries the last one Temporal recorded
 * (`TimeoutFailure.lastHeartbeatDetails`), so the run workflow reads the moment its worker was
 * last known alive, and where its agent is, from its own history, deterministically.
 */
export interface AdapterHeartbeat {
  aliveAt: string;
  hostQueue?: string;
}

/** The details of a `WORKER_DETACHED_FAILURE`: where the agent runs on, and when it was last watched. */
export interface WorkerDetachedDetails {
  hostQueue: string;
  aliveAt: string;
}

/** The host task queue a heartbeat's details (or a detach failure's) name, null when none. */
export function agentHostQueue(details: unknown): string | null {
  const queue = typeof details === 'object' && details !== null ? (details as Record<string, unknown>).hostQueue : undefined;
  return typeof queue === 'string' && queue !== '' ? queue : null;
}

/** The details of a `WORKER_SHUTDOWN_FAILURE` (or `..._BEFORE_START_`): when the group was ended. */
export interface WorkerShutdownDetails {
  lostAt: string;
}

function isoField(value: unknown, key: string): string | null {
  const at = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
  return typeof at === 'string' && Number.isFinite(Date.parse(at)) ? at : null;
}

/** The `aliveAt` of a heartbeat timeout's last recorded heartbeat, null when it has none. */
export function lastAliveAt(lastHeartbeatDetails: unknown): string | null {
  return isoField(lastHeartbeatDetails, 'aliveAt');
}

/** The `lostAt` of a worker-shutdown failure's details, null when it has none. */
export function shutdownLostAt(failureDetails: readonly unknown[] | undefined | null): string | null {
  return isoField(failureDetails?.[0], 'lostAt');
}

interface RunContext {
  adapterType: string;
  adapterConfig: Record<string, unknown>;
  priorResultJson: Record<string, unknown> | null;
  processPid: number | null;
  processGroupId: number | null;
}

function withStopMetadata(
  run: RunContext,
  resultJson: Record<string, unknown>,
  status: TerminalWrite['status'],
  errorCode: string | null,
  error: string | null,
): Record<string, unknown> {
  const stop = buildStopMetadata({
    adapterType: run.adapterType,
    adapterConfig: run.adapterConfig,
    stopReason: stopReasonFor(status, errorCode, error),
  });
  return { ...(run.priorResultJson ?? {}), ...resultJson, ...stop };
}

/** R5: the adapter returned. */
function fromAdapterResult(run: RunContext, result: AdapterResultPayload): TerminalWrite {
  let status: TerminalWrite['status'];
  let error: string | null;
  let errorCode: string | null;
  if (result.cancelled) {
    status = 'cancelled';
    error = result.errorMessage ?? 'Cancelled';
    errorCode = 'cancelled';
  } else if (result.processLost) {
    // The child died from a signal nobody in Vigil sent (API.md): the process is lost.
    status = 'failed';
    errorCode = 'process_lost';
    error = processLostMessage({ pid: run.processPid, processGroupId: run.processGroupId });
  } else if (result.timedOut) {
    status = 'timed_out';
    errorCode = 'timeout';
    error = result.errorMessage ?? 'Timed out';
  } else if ((result.exitCode ?? 0) === 0 && !result.errorMessage) {
    status = 'succeeded';
    errorCode = null;
    error = null;
  } else {
    status = 'failed';
    errorCode = result.errorCode ?? 'adapter_failed';
    error = result.errorMessage ?? 'Adapter failed';
  }
  const resultJson: Record<string, unknown> = { ...result.resultJson };
  if (result.errorFamily) resultJson.errorFamily = result.errorFamily;
  if (result.retryNotBefore) {
    resultJson.retryNotBefore = result.retryNotBefore;
    resultJson.transientRetryNotBefore = result.retryNotBefore;
  }
  if (!resultJson.summary && result.summary) resultJson.summary = result.summary;
  return {
    status,
    error: error === null ? null : redactSecrets(error),
    errorCode,
    exitCode: result.exitCode,
    signal: result.signal,
    resultJson: withStopMetadata(run, resultJson, status, errorCode, error),
    stdoutExcerpt: result.stdoutExcerpt || null,
    stderrExcerpt: result.stderrExcerpt || null,
  };
}

export function terminalWriteFor(run: RunContext, outcome: ExecutionOutcome): TerminalWrite {
  switch (outcome.kind) {
    case 'adapter_result':
      return fromAdapterResult(run, outcome.result);
    case 'cancelled': {
      // R14 step 3: cancellation keeps the prior resultJson and adds stop metadata.
      const error = redactSecrets(outcome.reason || runTexts.cancelledByControlPlane);
      return {
        status: 'cancelled',
        error,
        errorCode: 'cancelled',
        exitCode: null,
        signal: null,
        resultJson: withStopMetadata(run, {}, 'cancelled', 'cancelled', error),
        stdoutExcerpt: null,
        stderrExcerpt: null,
      };
    }
    case 'worker_lost': {
      // R21 on Temporal: a heartbeat timeout means the worker holding the child is gone.
      const error = workerLostMessage(run.processPid);
      return {
        status: 'failed',
        error,
        errorCode: 'process_lost',
        exitCode: null,
        signal: null,
        resultJson: withStopMetadata(run, { workerLost: outcome.detail }, 'failed', 'process_lost', error),
        stdoutExcerpt: null,
        stderrExcerpt: null,
      };
    }
    case 'reaped': {
      // R20/R21: the base message; finalize appends "; retrying once" when a retry is queued.
      const error = processLostMessage({ pid: run.processPid, processGroupId: run.processGroupId, descendantOnly: outcome.descendantOnly });
      return {
        status: 'failed',
        error,
        errorCode: 'process_lost',
        exitCode: null,
        signal: null,
        resultJson: withStopMetadata(run, {}, 'failed', 'process_lost', error),
        stdoutExcerpt: null,
        stderrExcerpt: null,
      };
    }
    case 'adapter_threw': {
      // R6: the run fails with adapter_failed and the (redacted) exception message.
      const error = redactSecrets(outcome.message || 'Adapter failed');
      return {
        status: 'failed',
        error,
        errorCode: 'adapter_failed',
        exitCode: null,
        signal: null,
        resultJson: withStopMetadata(run, {}, 'failed', 'adapter_failed', error),
        stdoutExcerpt: null,
        stderrExcerpt: null,
      };
    }
  }
}
