/**
 * What a run's ending writes besides the terminal columns themselves, shared by the per-run
 * pipeline (src/activities/runEnding/) and the orphan reaper's batches (src/activities/reaper/),
 * so both write the same error text and the same events. Pure.
 */
import type { TerminalWrite } from './runOutcome.ts';
import { wakeStatusForRunOutcome } from './runStatus.ts';
import { runTexts } from './texts.ts';
import { recoveryEventTexts } from './recoveryTexts.ts';

/** A run event's content; the store adds company, run, agent and `seq`. */
export interface RunEventContent {
  eventType: string;
  level: 'info' | 'warn' | 'error';
  message: string | null;
  payload: Record<string, unknown>;
}

/**
 * One run's terminal columns (R8 steps 1–2) and its wake's status (step 3), as one statement
 * writes them: the terminal write's fields, with `error` the stored one (R20).
 */
export interface TerminalColumns extends TerminalWrite {
  runId: string;
  wakeupRequestId: string | null;
  wakeStatus: string;
  /** R42's classification; null leaves the liveness columns as they are (a cancelled run, R14). */
  liveness: { livenessState: string; livenessReason: string | null; nextAction: string | null; lastUsefulActionAt: Date | null } | null;
  /** What a coding-agent CLI reported (R72); null leaves the session columns as they are. */
  session: { sessionIdBefore: string | null; sessionIdAfter: string | null } | null;
  usage: Record<string, unknown> | null;
}

type EndingRun = { id: string; wakeupRequestId: string | null; stdoutExcerpt: string | null; stderrExcerpt: string | null };

/** The excerpts a run ends with: the terminal write's, else what the run already had. */
export function endedExcerpts(run: EndingRun, write: Pick<TerminalWrite, 'stdoutExcerpt' | 'stderrExcerpt'>): { stdoutExcerpt: string | null; stderrExcerpt: string | null } {
  return { stdoutExcerpt: write.stdoutExcerpt ?? run.stdoutExcerpt, stderrExcerpt: write.stderrExcerpt ?? run.stderrExcerpt };
}

/** R8 steps 1–3: the run's terminal columns, from its terminal write, stored error (R20) and liveness (R42). */
export function terminalColumnsOf(
  run: EndingRun,
  write: TerminalWrite,
  ending: { error: string | null; liveness: TerminalColumns['liveness']; session?: TerminalColumns['session']; usage?: TerminalColumns['usage'] },
): TerminalColumns {
  return {
    runId: run.id,
    wakeupRequestId: run.wakeupRequestId,
    status: write.status,
    wakeStatus: wakeStatusForRunOutcome(write.status),
    error: ending.error,
    errorCode: write.errorCode,
    exitCode: write.exitCode,
    signal: write.signal,
    resultJson: write.resultJson,
    ...endedExcerpts(run, write),
    liveness: ending.liveness,
    session: ending.session ?? null,
    usage: ending.usage ?? null,
  };
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
