/**
 * One `temporal server start-dev` process: the command line Vigil starts it with (from
 * temporal-dev.yml and the caller's ports), spawning it with its output in a file or a buffer,
 * waiting until it serves Vigil's namespace and search attributes, and the check behind that wait.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import { Connection } from '@temporalio/client';
import { isPortAnswering, sleep, tailLines, waitForPort } from '../platform/processes.ts';
import type { TemporalDevConfig } from './devServerConfig.ts';

export const BIND_IP = '127.0.0.1';
/** SIGTERM-to-SIGKILL grace of every stop: a failed start, stop(), a replaced orphan. */
export const STOP_GRACE_MS = 5_000;
const MEMORY_OUTPUT_LIMIT = 64 * 1024;

export interface Launch {
  args: string[];
  address: string;
  namespace: string;
  port: number;
  uiPort: number | null;
  uiUrl: string | null;
  searchAttributeNames: string[];
}

export function buildLaunch(
  opts: { config: TemporalDevConfig; port?: number | null; uiPort?: number | null; headless?: boolean },
  dbFile: string | null,
): Launch {
  const { config } = opts;
  const port = opts.port || config.port;
  const headless = opts.headless ?? config.headless;
  const uiPort = headless ? null : opts.uiPort || config.uiPort;
  const args = [
    'server', 'start-dev',
    // The CLI's own environment/config-file profiles (TEMPORAL_ADDRESS, ~/.config/temporalio)
    // must not change what Vigil starts.
    '--disable-config-env', '--disable-config-file',
    '--ip', BIND_IP,
    '--port', String(port),
    '--namespace', config.namespace,
    '--log-level', config.logLevel,
    '--log-format', 'text',
  ];
  if (uiPort === null) args.push('--headless');
  else args.push('--ui-ip', BIND_IP, '--ui-port', String(uiPort));
  if (config.httpPort !== null) args.push('--http-port', String(config.httpPort));
  if (config.metricsPort !== null) args.push('--metrics-port', String(config.metricsPort));
  if (dbFile) {
    args.push('--db-filename', dbFile);
    for (const [key, value] of Object.entries(config.sqlitePragmas)) args.push('--sqlite-pragma', `${key}=${value}`);
  }
  for (const [name, type] of Object.entries(config.searchAttributes)) args.push('--search-attribute', `${name}=${type}`);
  for (const [key, value] of Object.entries(config.dynamicConfig)) {
    args.push('--dynamic-config-value', `${key}=${JSON.stringify(value)}`);
  }
  return {
    args,
    address: `${BIND_IP}:${port}`,
    namespace: config.namespace,
    port,
    uiPort,
    uiUrl: uiPort === null ? null : `http://${BIND_IP}:${uiPort}`,
    searchAttributeNames: Object.keys(config.searchAttributes),
  };
}

interface ServerOutput {
  /** stdio for the child. */
  open(): Promise<number | 'pipe'>;
  attach(child: ChildProcess): void;
  tail(): Promise<string>;
}

/** Persistent mode: a file, so the server keeps logging (and living) if Vigil is killed. */
export class FileOutput implements ServerOutput {
  constructor(private readonly file: string) {}
  async open(): Promise<number> {
    await fs.rename(this.file, `${this.file}.1`).catch(() => undefined);
    return openSync(this.file, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_APPEND, 0o644);
  }
  attach(): void {}
  async tail(): Promise<string> {
    const text = await fs.readFile(this.file, 'utf8').catch(() => '');
    return `Last lines of ${this.file}:\n${tailLines(text) || '(empty)'}`;
  }
}

/** In-memory mode: pipes into a bounded buffer, quoted when start-up fails. */
export class MemoryOutput implements ServerOutput {
  private text = '';
  async open(): Promise<'pipe'> {
    return 'pipe';
  }
  attach(child: ChildProcess): void {
    const collect = (chunk: Buffer) => {
      this.text = (this.text + chunk.toString('utf8')).slice(-MEMORY_OUTPUT_LIMIT);
    };
    for (const stream of [child.stdout, child.stderr]) {
      stream?.on('data', collect);
      (stream as unknown as { unref?: () => void } | null)?.unref?.();
    }
  }
  async tail(): Promise<string> {
    return `Last lines of its output:\n${tailLines(this.text) || '(none)'}`;
  }
}

export async function spawnServer(
  binary: string,
  args: string[],
  output: ServerOutput,
  persistent: boolean,
): Promise<{ child: ChildProcess; exited: { reason: string | null } }> {
  const stdio = await output.open();
  const exited: { reason: string | null } = { reason: null };
  let child: ChildProcess;
  try {
    child = spawn(binary, args, {
      // Persistent (npm start): its own process group, so a Ctrl-C meant for Vigil does not stop
      // Temporal under a worker that is still draining; Vigil stops it last, through stop().
      // In memory (tests): in the caller's group, so an interrupted test run takes it along.
      detached: persistent,
      stdio: ['ignore', stdio, stdio],
    });
  } finally {
    if (typeof stdio === 'number') closeSync(stdio);
  }
  child.once('error', (error) => (exited.reason ??= error.message));
  child.once('exit', (code, signal) => (exited.reason ??= code !== null ? `exit code ${code}` : `signal ${signal}`));
  output.attach(child);
  child.unref();
  if (child.pid === undefined) {
    await sleep(0);
    throw new Error(`Cannot run the Temporal CLI ${binary}: ${exited.reason ?? 'spawn failed'}`);
  }
  return { child, exited };
}

/** Frontend answers, namespace exists, every search attribute is visible (and the UI listens). */
export async function waitUntilServing(
  launch: Launch,
  exited: { reason: string | null },
  timeoutMs: number,
  output: ServerOutput,
  /** Aborted (a stop request): throws its reason at the next check. */
  signal?: AbortSignal,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const failure = async (reason: string) =>
    new Error(`The Temporal dev server did not start: ${reason}. ${await output.tail()}`);

  while (!(await isPortAnswering(launch.port))) {
    signal?.throwIfAborted();
    if (exited.reason) throw await failure(`it stopped (${exited.reason})`);
    if (Date.now() > deadline) throw await failure(`nothing listened on ${launch.address} after ${timeoutMs / 1000} s`);
    await sleep(25);
  }
  let lastProblem = 'no answer yet';
  const connection = Connection.lazy({ address: launch.address, connectTimeout: 2_000 });
  try {
    for (;;) {
      signal?.throwIfAborted();
      if (exited.reason) throw await failure(`it stopped (${exited.reason})`);
      const problem = await serviceProblem(connection, launch, Math.min(deadline, Date.now() + 3_000));
      if (problem === null) break;
      lastProblem = problem;
      if (Date.now() > deadline) {
        throw await failure(`not ready after ${timeoutMs / 1000} s (last check: ${lastProblem})`);
      }
      await sleep(50);
    }
  } finally {
    await connection.close().catch(() => undefined);
  }
  signal?.throwIfAborted();
  if (launch.uiPort !== null && !(await waitForPort(launch.uiPort, Math.max(1_000, deadline - Date.now())))) {
    throw await failure(`the Web UI did not listen on port ${launch.uiPort}`);
  }
}

/** Null when the server serves the namespace and all search attributes; else what is missing. */
export async function serviceProblem(connection: Connection, launch: Launch, deadline: number): Promise<string | null> {
  try {
    return await connection.withDeadline(deadline, async () => {
      await connection.workflowService.getSystemInfo({});
      await connection.workflowService.describeNamespace({ namespace: launch.namespace });
      const listed = await connection.operatorService.listSearchAttributes({ namespace: launch.namespace });
      const missing = launch.searchAttributeNames.filter((name) => listed.customAttributes?.[name] === undefined);
      return missing.length === 0 ? null : `search attributes not visible yet: ${missing.join(', ')}`;
    });
  } catch (error) {
    return (error as Error).message;
  }
}
