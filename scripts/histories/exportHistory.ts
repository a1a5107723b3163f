/**
 * Exports one workflow's event history with the Temporal CLI (`temporal workflow show --output
 * json`), the same way for `npm run replay -- <workflowId>` and for `npm run replay:record`, so a
 * committed history is exactly what an operator would export from a live server.
 *
 * The JSON is kept verbatim: proto3 JSON as the CLI prints it (`eventType:
 * "EVENT_TYPE_WORKFLOW_EXECUTION_STARTED"`, int64 ids as strings, payloads base64). The SDK's
 * `historyFromJSON` reads that form (it also accepts the older `WorkflowExecutionStarted` names),
 * and every other Temporal tool reads it too.
 */
import { execFile } from 'node:child_process';
import { loadConfig, type VigilConfig } from '../../src/config.ts';
import { loadTemporalDevConfig } from '../../src/temporal/devServerConfig.ts';
import { resolveTemporalCli } from '../../src/temporal/temporalCli.ts';

/** Where and with what the CLI talks to Temporal. */
export interface TemporalTarget {
  binary: string;
  address: string;
  namespace: string;
}

/** The CLI's JSON: `{ events: [...] }`, each event proto3 JSON. */
export interface HistoryJson {
  events: Array<Record<string, unknown> & { eventId: string; eventType: string }>;
}

export type HistoryExportFailure = 'not_found' | 'unreachable' | 'failed';

export class HistoryExportError extends Error {
  constructor(
    readonly kind: HistoryExportFailure,
    message: string,
  ) {
    super(message);
    this.name = 'HistoryExportError';
  }
}

/**
 * The Temporal that Vigil itself uses: TEMPORAL_ADDRESS/TEMPORAL_NAMESPACE when set, else the dev
 * server `npm start` runs (127.0.0.1 on temporal-dev.yml's port, or TEMPORAL_PORT), with the CLI
 * binary Vigil resolves (TEMPORAL_CLI_PATH, PATH, or the machine cache).
 */
export async function vigilTemporalTarget(config: VigilConfig = loadConfig(), log: (line: string) => void = () => {}): Promise<TemporalTarget> {
  const binary = await temporalCliBinary(config, log);
  if (config.temporal) return { binary, address: config.temporal.address, namespace: config.temporal.namespace };
  const dev = loadTemporalDevConfig();
  return { binary, address: `127.0.0.1:${config.temporalPort ?? dev.port}`, namespace: dev.namespace };
}

/** The same `temporal` binary Vigil's dev server runs (built once per machine if need be). */
export function temporalCliBinary(config: VigilConfig = loadConfig(), log: (line: string) => void = () => {}): Promise<string> {
  return resolveTemporalCli({ explicitPath: config.temporalCliPath, cacheDir: config.cacheDir, log });
}

/** The latest run of `workflowId`, or the run `runId` (an execution that continued as new). */
export async function exportWorkflowHistory(target: TemporalTarget, workflowId: string, runId?: string): Promise<HistoryJson> {
  const args = ['workflow', 'show', '--workflow-id', workflowId, ...(runId ? ['--run-id', runId] : []), '--output', 'json', '--address', target.address, '--namespace', target.namespace];
  const { code, stdout, stderr } = await runCli(target.binary, args);
  if (code !== 0) throw classifyFailure(target, workflowId, stderr || stdout);
  let parsed: unknown;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new HistoryExportError('failed', `temporal workflow show printed something that is not JSON for ${workflowId}: ${stdout.slice(0, 200)}`);
  }
  if (!isHistoryJson(parsed) || parsed.events.length === 0) {
    throw new HistoryExportError('failed', `temporal workflow show returned no events for ${workflowId}`);
  }
  return parsed;
}

export function isHistoryJson(value: unknown): value is HistoryJson {
  return typeof value === 'object' && value !== null && Array.isArray((value as HistoryJson).events);
}

/** The workflow id, as recent servers (1.29 here) record it in the started event; older histories lack it. */
export function recordedWorkflowId(history: HistoryJson): string | null {
  const started = history.events[0] as { workflowExecutionStartedEventAttributes?: { workflowId?: string } };
  return started.workflowExecutionStartedEventAttributes?.workflowId ?? null;
}

/** The history in the form committed under test/replay/: two-space indented, one trailing newline. */
export function formatHistoryJson(history: HistoryJson): string {
  return `${JSON.stringify(history, null, 2)}\n`;
}

/** The CLI logs `time=… level=ERROR msg="…"`: keep the message. */
function cliMessage(output: string): string {
  const line = output.trim().split('\n').pop() ?? '';
  const msg = /msg="((?:[^"\\]|\\.)*)"/.exec(line)?.[1];
  return msg ? msg.replace(/\\(.)/g, '$1') : line;
}

function classifyFailure(target: TemporalTarget, workflowId: string, output: string): HistoryExportError {
  const detail = cliMessage(output);
  if (/not ?found/i.test(output)) {
    return new HistoryExportError('not_found', `No workflow ${workflowId} in namespace ${target.namespace} at ${target.address} (${detail})`);
  }
  if (/failed reaching server|connection refused|deadline exceeded|no such host|Unavailable/i.test(output)) {
    return new HistoryExportError(
      'unreachable',
      `Cannot reach Temporal at ${target.address}: is \`npm start\` running, or TEMPORAL_ADDRESS set to the right server? (${detail})`,
    );
  }
  return new HistoryExportError('failed', `temporal workflow show failed for ${workflowId}: ${detail || '(no output)'}`);
}

function runCli(binary: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // A long run's history can be several MB of JSON.
    execFile(binary, args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 512 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error && typeof error.code !== 'number') {
        reject(new HistoryExportError('failed', `Could not run ${binary}: ${error.message}`));
        return;
      }
      resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
    });
  });
}
