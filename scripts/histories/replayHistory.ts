/**
 * Replays recorded workflow histories against workflow code with the SDK's replayer: no server,
 * no activities, only "does this code issue the same commands the history recorded?". Used by
 * `npm run replay` and by test/replay/replay.test.ts.
 */
import { DefaultLogger, Runtime, Worker, type ReplayWorkerOptions } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import type { HistoryJson } from './exportHistory.ts';

/** The workflow code to replay against: a workflows entry file (bundled here) or a prebuilt bundle. */
export type WorkflowCode = Pick<ReplayWorkerOptions, 'workflowsPath' | 'workflowBundle'>;

export interface RecordedHistory {
  /** What the history is called in reports: a workflow id or a file name. */
  name: string;
  /** The id the workflow had (histories do not contain it); Vigil's workflows do not depend on it. */
  workflowId: string;
  history: HistoryJson;
}

export type ReplayVerdict =
  | { name: string; eventCount: number; deterministic: true }
  | { name: string; eventCount: number; deterministic: false; nondeterminism: boolean; error: Error };

/**
 * Installs an SDK runtime that logs errors only, the native core's included: a replay that
 * breaks makes core log a warning per workflow task, and the verdict already says it.
 * Call before anything else touches the SDK's runtime.
 */
export function installQuietTemporalRuntime(): void {
  Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } } });
}

/** Replays every history on one replay worker (the code is bundled once) and judges each. */
export async function replayHistories(code: WorkflowCode, recorded: RecordedHistory[]): Promise<ReplayVerdict[]> {
  const verdicts: ReplayVerdict[] = [];
  const results = Worker.runReplayHistories(
    { ...code, replayName: 'vigil-replay' },
    recorded.map(({ workflowId, history }) => ({ workflowId, history })),
  );
  let index = 0;
  for await (const result of results) {
    const { name, history } = recorded[index++];
    const eventCount = history.events.length;
    verdicts.push(
      result.error
        ? { name, eventCount, deterministic: false, nondeterminism: result.error instanceof DeterminismViolationError, error: result.error }
        : { name, eventCount, deterministic: true },
    );
  }
  return verdicts;
}

/** The one-line verdict `npm run replay` prints. */
export function describeVerdict(verdict: ReplayVerdict): string {
  if (verdict.deterministic) return `deterministic: the current workflow code replays ${verdict.name} (${verdict.eventCount} events)`;
  const what = verdict.nondeterminism ? 'NOT deterministic' : 'replay failed';
  return `${what}: the current workflow code does not replay ${verdict.name} (${verdict.eventCount} events)\n  ${verdict.error.name}: ${verdict.error.message}`;
}
