/**
 * `npm run replay -- <workflowId | path/to/history.json>`: does the CURRENT workflow code still
 * replay this run's history? Given a workflow id (`run-<runId>`, a sweep's id), the history is
 * first exported from Vigil's Temporal with the CLI and saved under `<dataDir>/histories/`.
 * Exit code 0 = deterministic, 1 = not (or the history could not be had), 2 = bad usage.
 * See docs/workflow-versioning.md.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../src/config.ts';
import { WORKFLOWS_ENTRY } from '../src/temporal/worker.ts';
import { exportWorkflowHistory, formatHistoryJson, isHistoryJson, recordedWorkflowId, vigilTemporalTarget, type HistoryJson } from './histories/exportHistory.ts';
import { describeVerdict, installQuietTemporalRuntime, replayHistories } from './histories/replayHistory.ts';

const USAGE = 'usage: npm run replay -- <workflowId | path/to/history.json>   (e.g. run-<runId>, or test/replay/success.json)';

/** A file argument names a history on disk; anything else is a workflow id. */
function looksLikeFile(arg: string): boolean {
  return arg.endsWith('.json') || arg.includes('/') || existsSync(arg);
}

async function historyFromFile(file: string): Promise<HistoryJson> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`No history file ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new Error(`${file} is not JSON: ${(error as Error).message}`);
  }
  if (!isHistoryJson(parsed) || parsed.events.length === 0) {
    throw new Error(`${file} is not a workflow history (expected {"events": [...]}, as \`temporal workflow show --output json\` prints)`);
  }
  return parsed;
}

async function historyFromServer(workflowId: string): Promise<HistoryJson> {
  const config = loadConfig();
  const target = await vigilTemporalTarget(config, (line) => process.stderr.write(`[replay] ${line}\n`));
  process.stderr.write(`[replay] exporting ${workflowId} from ${target.address} (namespace ${target.namespace})\n`);
  const history = await exportWorkflowHistory(target, workflowId);
  const dir = path.join(config.dataDir, 'histories');
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `${workflowId.replace(/[^\w.-]/g, '_')}.json`);
  await writeFile(file, formatHistoryJson(history));
  process.stderr.write(`[replay] saved the history (${history.events.length} events) to ${file}\n`);
  return history;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2).filter((arg) => arg !== '--');
  if (args.length !== 1 || args[0] === '--help' || args[0] === '-h') {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  const [target] = args;
  installQuietTemporalRuntime();
  const fromFile = looksLikeFile(target);
  const history = fromFile ? await historyFromFile(target) : await historyFromServer(target);
  // Histories do not need it to replay; Vigil's workflows never read their own id.
  const workflowId = fromFile ? (recordedWorkflowId(history) ?? path.basename(target, '.json')) : target;
  const [verdict] = await replayHistories({ workflowsPath: WORKFLOWS_ENTRY }, [{ name: target, workflowId, history }]);
  process.stdout.write(`${describeVerdict(verdict)}\n`);
  return verdict.deterministic ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error) => {
    // Missing file, unknown workflow id, unreachable server: one clear line, no stack trace.
    process.stderr.write(`[replay] ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
