/**
 * What a run's ending writes besides the terminal columns themselves, shared by the per-run
 * pipeline (src/activities/runEnding/) and the orphan reaper's batches (src/activities/reaper/),
 * so both write the same error text and the same events. Pure.
 */
import type { TerminalWrite } from './runOutcome.ts';
import { runTexts } from './texts.ts';
import { recoveryEventTexts } from './recoveryTexts.ts';

/** A run event's content; the store adds company, run, agent and `seq`. */
export interface RunEventContent {
  eventType: string;
  level: 'info' | 'warn' | 'error';
  message: string | null;
  payload: Record<string, unknown>;
}

/** R20: the stored error — the base text, plus "; retrying once" when the one retry is due (R22). */
export function storedRunError(baseError: string | null, retryOnce: boolean): string | null {
  return retryOnce ? `${baseError}${recoveryEventTexts.retryingOnce}` : baseError;
}

/** R8 step 3: the lifecycle event written with the terminal status. */
export function runFinishedEvent(write: Pick<TerminalWrite, 'status' | 'errorCode' | 'exitCode' | 'signal'>): RunEventContent {
  return {
    eventType: 'lifecycle',
    level: write.status === 'succeeded' ? 'info' : write.status === 'cancelled' ? 'warn' : 'error',
    message: runTexts.runFinished(write.status),
    payload: { status: write.status, errorCode: write.errorCode, exitCode: write.exitCode, signal: write.signal },
  };
}

/** R25: the lost run's error event — the base message, naming the retry when one was queued. */
export function processLostEvent(run: { processPid: number | null; processGroupId: number | null }, baseError: string | null, retryRunId: string | null): RunEventContent {
  return {
    eventType: 'error',
    level: 'error',
    message: retryRunId ? `${baseError}${recoveryEventTexts.queuedRetry(retryRunId)}` : baseError,
    payload: { processPid: run.processPid, processGroupId: run.processGroupId, ...(retryRunId ? { retryRunId } : {}) },
  };
}
