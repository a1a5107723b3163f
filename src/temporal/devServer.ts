/**
 * Starts Vigil's local Temporal: `temporal server start-dev` (frontend, history, matching,
 * worker, Web UI in one process) with the settings of temporal-dev.yml, and waits until it really
 * serves Vigil's namespace and search attributes.
 *
 * With a data directory, the server persists to `<dataDir>/<dbFile>` (SQLite) and keeps its
 * state next to it, in `<dataDir>/temporal/`:
 *   server.pid    the server's pid (plain, for humans and scripts)
 *   server.json   pid + kernel start time + settings + owning Vigil process, for crash recovery
 *   server.log    the server's output (previous start: server.log.1)
 * Without one (tests), everything is in memory and output is kept in a small buffer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import {
  currentProcessIdentity,
  isPidAlive,
  isPortAnswering,
  isSameProcess,
  processExecutable,
  processStartTime,
  sleep,
  tailLines,
  terminatePid,
  waitForPort,
} from '../platform/processes.ts';
import type { TemporalDevConfig } from './devServerConfig.ts';

export interface TemporalDevServerOptions {
  /** The `temporal` CLI (see resolveTemporalCli). */
  binary: string;
  config: TemporalDevConfig;
  /** Vigil's data directory; null = in memory, nothing survives a stop (tests). */
  dataDir: string | null;
  /** Frontend port; null/0/undefined = the yml's. Tests pass a free port. */
  port?: number | null;
  /** Web UI port; null/0/undefined = the yml's. */
  uiPort?: number | null;
  /** No Web UI; undefined = the yml's `headless`. */
  headless?: boolean;
  log: (line: string) => void;
  /** How long to wait for the frontend, namespace and search attributes (default 60 s). */
  startTimeoutMs?: number;
}

export interface TemporalDevServer {
  /** `127.0.0.1:<port>`, for Connection.connect / NativeConnection.connect. */
  address: string;
  namespace: string;
  /** `http://127.0.0.1:<uiPort>`, or null when headless. */
  uiUrl: string | null;
  pid: number;
  /** True when a server left running by a killed Vigil was adopted instead of started. */
  reused: boolean;
  /** SIGTERM, then SIGKILL after 5 s; safe to call more than once. */
  stop(): Promise<void>;
}

const BIND_IP = '127.0.0.1';
const STOP_GRACE_MS = 5_000;
const MEMORY_OUTPUT_LIMIT = 64 * 1024;

/** What server.json records about a running dev server. */
interface ServerState {
  pid: number;
  /** Kernel start time of `pid`: proves a live pid is still this server, not a reused number. */
  startTime: string | null;
  /** Vigil process that started or adopted it. */
  ownerPid: number;
  ownerStartTime: string | null;
  /** Binary + arguments: an orphan is reused only if it runs with exactly these. */
  fingerprint: string;
  address: string;
  namespace: string;
  uiUrl: string | null;
}

interface Launch {
  args: string[];
  address: string;
  namespace: string;
  port: number;
  uiPort: number | null;
  uiUrl: string | null;
  searchAttributeNames: string[];
}

/** Servers started or adopted by this process, so an exit without stop() still stops them. */
const runningHere = new Map<number, string>();
let exitHookInstalled = false;

export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const startedAt = Date.now();
  const { log, config } = opts;
  const stateDir = opts.dataDir === null ? null : path.join(path.resolve(opts.dataDir), 'temporal');
  const dbFile = opts.dataDir === null ? null : path.join(path.resolve(opts.dataDir), config.dbFile);
  const launch = buildLaunch(opts, dbFile);
  const binary = await fs.realpath(opts.binary).catch(() => {
    throw new Error(`The Temporal CLI ${opts.binary} does not exist (see resolveTemporalCli / TEMPORAL_CLI_PATH).`);
  });
  const fingerprint = JSON.stringify([binary, ...launch.args]);
  const timeoutMs = opts.startTimeoutMs ?? 60_000;

  if (stateDir) {
    await fs.mkdir(stateDir, { recursive: true });
    await fs.mkdir(path.dirname(dbFile!), { recursive: true });
    const adopted = await recoverLeftoverServer(stateDir, fingerprint, launch, log);
    if (adopted) {
      log(`Temporal dev server reused on ${launch.address}: left running by a previous Vigil (pid ${adopted.pid})`);
      return await track(adopted.pid, adopted.startTime, stateDir, launch, fingerprint, true, log);
    }
  }
  await ensurePortsFree(launch);

  const output = stateDir ? new FileOutput(path.join(stateDir, 'server.log')) : new MemoryOutput();
  const { child, exited } = await spawnServer(binary, launch.args, output, stateDir !== null);
  const pid = child.pid!;
  const startTime = await processStartTime(pid);
  try {
    await waitUntilServing(launch, exited, timeoutMs, output);
  } catch (error) {
    await terminatePid(pid, { signal: 'SIGTERM', killAfterMs: STOP_GRACE_MS });
    throw error;
  }
  log(
    `Temporal dev server started on ${launch.address} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s ` +
      `(namespace ${launch.namespace}${launch.uiUrl ? `, UI ${launch.uiUrl}` : ''}, ${dbFile ? `db ${dbFile}` : 'in memory'})`,
  );
  return track(pid, startTime, stateDir, launch, fingerprint, false, log);
}

function buildLaunch(opts: TemporalDevServerOptions, dbFile: string | null): Launch {
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

async function ensurePortsFree(launch: Launch): Promise<void> {
  const checks: [number, string, string][] = [[launch.port, 'frontend', 'TEMPORAL_PORT']];
  if (launch.uiPort !== null) checks.push([launch.uiPort, 'Web UI', 'TEMPORAL_UI_PORT']);
  for (const [port, what, variable] of checks) {
    if (await isPortAnswering(port)) {
      throw new Error(
        `Cannot start the Temporal dev server: the ${what} port ${port} on ${BIND_IP} is used by another program. ` +
          `Stop it, choose another port with ${variable}, or use that Temporal with TEMPORAL_ADDRESS.`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The process and its output

interface ServerOutput {
  /** stdio for the child. */
  open(): Promise<number | 'pipe'>;
  attach(child: ChildProcess): void;
  tail(): Promise<string>;
}

/** Persistent mode: a file, so the server keeps logging (and living) if Vigil is killed. */
class FileOutput implements ServerOutput {
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
class MemoryOutput implements ServerOutput {
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

async function spawnServer(
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
async function waitUntilServing(
  launch: Launch,
  exited: { reason: string | null },
  timeoutMs: number,
  output: ServerOutput,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const failure = async (reason: string) =>
    new Error(`The Temporal dev server did not start: ${reason}. ${await output.tail()}`);

  while (!(await isPortAnswering(launch.port))) {
    if (exited.reason) throw await failure(`it stopped (${exited.reason})`);
    if (Date.now() > deadline) throw await failure(`nothing listened on ${launch.address} after ${timeoutMs / 1000} s`);
    await sleep(25);
  }
  let lastProblem = 'no answer yet';
  const connection = Connection.lazy({ address: launch.address, connectTimeout: 2_000 });
  try {
    for (;;) {
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
  if (launch.uiPort !== null && !(await waitForPort(launch.uiPort, Math.max(1_000, deadline - Date.now())))) {
    throw await failure(`the Web UI did not listen on port ${launch.uiPort}`);
  }
}

/** Null when the server serves the namespace and all search attributes; else what is missing. */
async function serviceProblem(connection: Connection, launch: Launch, deadline: number): Promise<string | null> {
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

// ---------------------------------------------------------------------------------------------
// Ownership, stop and crash recovery

async function track(
  pid: number,
  startTime: string | null,
  stateDir: string | null,
  launch: Launch,
  fingerprint: string,
  reused: boolean,
  log: (line: string) => void,
): Promise<TemporalDevServer> {
  if (stateDir) {
    const owner = await currentProcessIdentity();
    const state: ServerState = {
      pid,
      startTime,
      ownerPid: owner.pid,
      ownerStartTime: owner.startTime,
      fingerprint,
      address: launch.address,
      namespace: launch.namespace,
      uiUrl: launch.uiUrl,
    };
    await fs.writeFile(path.join(stateDir, 'server.json'), JSON.stringify(state, null, 2) + '\n');
    await fs.writeFile(path.join(stateDir, 'server.pid'), `${pid}\n`);
  }
  trackForExit(pid, stateDir ?? `memory:${pid}`);

  const stopServer = async () => {
    runningHere.delete(pid);
    // Only the process we started or adopted, proven by its start time.
    const ours = startTime === null ? isPidAlive(pid) : await isSameProcess(pid, startTime);
    if (ours) {
      const how = await terminatePid(pid, { signal: 'SIGTERM', killAfterMs: STOP_GRACE_MS });
      log(`Temporal dev server stopped (pid ${pid}${how === 'killed' ? `, killed after ${STOP_GRACE_MS / 1000} s` : ''})`);
    }
    if (stateDir) await removeStateIfFor(stateDir, pid);
  };
  let stopping: Promise<void> | null = null;
  return {
    address: launch.address,
    namespace: launch.namespace,
    uiUrl: launch.uiUrl,
    pid,
    reused,
    stop: () => (stopping ??= stopServer()),
  };
}

async function readState(stateDir: string): Promise<ServerState | null> {
  try {
    return JSON.parse(await fs.readFile(path.join(stateDir, 'server.json'), 'utf8')) as ServerState;
  } catch {
    return null;
  }
}

async function removeStateIfFor(stateDir: string, pid: number): Promise<void> {
  const state = await readState(stateDir);
  if (state && state.pid !== pid) return;
  await fs.rm(path.join(stateDir, 'server.json'), { force: true });
  await fs.rm(path.join(stateDir, 'server.pid'), { force: true });
}

/**
 * A Vigil killed with SIGKILL leaves its dev server running: detached, logging to a file, holding
 * the SQLite file. Starting a second server on that file would fight over it, so the orphan is
 * dealt with first. Decision: REUSE it when it runs exactly the same binary and arguments (same
 * ports, namespace, search attributes, dynamic config, db file) and answers; otherwise stop it and
 * start fresh. Reuse keeps the restart after a crash instant and leaves running workflows' timers
 * alone; anything that differs means the yml or the binary changed, and must take effect.
 *
 * The orphan is only signalled when proven: server.json's pid is alive with the kernel start time
 * recorded when we spawned it, and it runs a `temporal` executable. A pid that is merely alive (the
 * OS reused the number) is never touched, and a server whose owning Vigil is still alive is refused.
 */
async function recoverLeftoverServer(
  stateDir: string,
  fingerprint: string,
  launch: Launch,
  log: (line: string) => void,
): Promise<{ pid: number; startTime: string | null } | null> {
  const state = await readState(stateDir);
  if (!state) return null;
  const proven =
    (await isSameProcess(state.pid, state.startTime)) &&
    path.basename((await processExecutable(state.pid)) ?? '') === path.basename(JSON.parse(state.fingerprint)[0]);
  if (!proven) {
    await removeStateIfFor(stateDir, state.pid);
    if (isPidAlive(state.pid)) log(`Ignoring a stale Temporal dev server pid file (pid ${state.pid} is another process now)`);
    return null;
  }
  if (state.ownerPid === process.pid || (await isSameProcess(state.ownerPid, state.ownerStartTime))) {
    throw new Error(
      `The Temporal dev server in ${stateDir} (pid ${state.pid}) is in use by ${state.ownerPid === process.pid ? 'this process' : `another Vigil process (pid ${state.ownerPid})`}. ` +
        `Stop that first, or give this one its own VIGIL_DATA_DIR.`,
    );
  }
  if (state.fingerprint === fingerprint) {
    const connection = Connection.lazy({ address: launch.address, connectTimeout: 2_000 });
    try {
      if ((await serviceProblem(connection, launch, Date.now() + 5_000)) === null) {
        return { pid: state.pid, startTime: state.startTime };
      }
    } finally {
      await connection.close().catch(() => undefined);
    }
    log(`The Temporal dev server left running by a previous Vigil (pid ${state.pid}) does not answer; restarting it`);
  } else {
    log(`Stopping the Temporal dev server left running by a previous Vigil (pid ${state.pid}): its settings differ from temporal-dev.yml`);
  }
  await terminatePid(state.pid, { signal: 'SIGTERM', killAfterMs: STOP_GRACE_MS });
  await removeStateIfFor(stateDir, state.pid);
  return null;
}

/**
 * Node cannot wait in an 'exit' handler, but it can still send a signal: a Vigil (or a test file)
 * that exits without stop() takes its dev servers along instead of leaking them.
 */
function trackForExit(pid: number, key: string): void {
  runningHere.set(pid, key);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const running of runningHere.keys()) {
      try {
        process.kill(running, 'SIGTERM');
      } catch {
        // already gone
      }
    }
  });
}
