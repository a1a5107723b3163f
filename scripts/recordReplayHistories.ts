/**
 * `npm run replay:record [-- <name> ...]`: records the workflow histories committed under
 * test/replay/ — one per representative run (histories/recordingScenarios.ts) — with the current
 * workflow code.
 *
 * Starts its own stack in the system temp dir (histories/recordingStack.ts), drives every scenario
 * through the REST API with the fake agents, waits for each workflow to close, exports it with
 * the Temporal CLI exactly as `npm run replay -- <workflowId>` does, checks that it replays, and
 * writes test/replay/<name>.json. Names select scenarios (e.g. `-- cancel escalation`); default:
 * all. Refresh after every intentional workflow change: see docs/workflow-versioning.md.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { exportWorkflowHistory, formatHistoryJson, temporalCliBinary } from './histories/exportHistory.ts';
import { describeVerdict, installQuietTemporalRuntime, replayHistories, type RecordedHistory } from './histories/replayHistory.ts';
import { startRecordingStack } from './histories/recordingStack.ts';
import { SCENARIOS, stopAllWork, type RecordingContext } from './histories/recordingScenarios.ts';

const HISTORY_DIR = fileURLToPath(new URL('../test/replay/', import.meta.url));
const log = (line: string) => process.stdout.write(`[record] ${line}\n`);

function selectedScenarios(names: string[]) {
  const known = SCENARIOS.flatMap((scenario) => scenario.files);
  const unknown = names.filter((name) => !known.includes(name));
  if (unknown.length > 0) throw new Error(`Unknown scenario(s) ${unknown.join(', ')}; known: ${known.join(', ')}`);
  return names.length === 0 ? SCENARIOS : SCENARIOS.filter((scenario) => scenario.files.some((file) => names.includes(file)));
}

async function main() {
  const scenarios = selectedScenarios(process.argv.slice(2).filter((arg) => arg !== '--'));
  // Lost workers and cancelled activities are expected here; the SDK would log each one.
  installQuietTemporalRuntime();
  const started = Date.now();
  const stack = await startRecordingStack(log);
  try {
    const ctx: RecordingContext = { ...stack, log };
    log(`stack up in ${Date.now() - started} ms; driving ${scenarios.flatMap((s) => s.files).join(', ')}`);
    const drive = async (batch: typeof scenarios) => (await Promise.all(batch.map((scenario) => scenario.drive(ctx)))).flat();
    const recordings = [...(await drive(scenarios.filter((s) => s.first))), ...(await drive(scenarios.filter((s) => !s.first)))];
    await stopAllWork(ctx);

    const target = { binary: await temporalCliBinary(undefined, log), address: stack.temporalAddress, namespace: stack.temporalNamespace };
    const recorded: RecordedHistory[] = [];
    for (const { file, workflowId, runId } of recordings) {
      recorded.push({ name: file, workflowId, history: await exportWorkflowHistory(target, workflowId, runId) });
    }
    // A history the current code cannot replay would only make the replay test fail later.
    const verdicts = await replayHistories({ workflowBundle: { codePath: stack.workflowBundlePath } }, recorded);
    const failed = verdicts.filter((verdict) => !verdict.deterministic);
    if (failed.length > 0) throw new Error(`Recorded histories that do not replay:\n${failed.map(describeVerdict).join('\n')}`);

    for (const { name, history } of recorded) {
      const file = path.join(HISTORY_DIR, `${name}.json`);
      const text = formatHistoryJson(history);
      await writeFile(file, text);
      log(`${path.relative(process.cwd(), file)}: ${history.events.length} events, ${(text.length / 1024).toFixed(1)} KiB`);
    }
    log(`recorded ${recorded.length} histories in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    await stack.stop();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`[record] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
