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
 *
 * The process itself (command line, output, readiness): devServerProcess.ts. A server left by a
 * killed Vigil: devServerLeftover.ts.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { killOnExit } from '../platform/killOnExit.ts';
import { isPidAlive, isPortAnswering, isSameProcess, processStartTime, terminatePid } from '../platform/processes.ts';
import type { StartupInterrupt } from '../platform/startupInterrupt.ts';
import type { TemporalDevConfig } from './devServerConfig.ts';
import { recoverLeftoverServer, removeStateIfFor, writeState } from './devServerLeftover.ts';
import {
  BIND_IP,
  buildLaunch,
  FileOutput,
  MemoryOutput,
  spawnServer,
  STOP_GRACE_MS,
  waitUntilServing,
  type Launch,
} from './devServerProcess.ts';

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
  /**
   * A stop request during the start (`npm start`'s Ctrl-C): a server that does not serve yet is
   * stopped and the start throws the request's reason. A serving one is returned, for the caller to stop.
   */
  interrupt?: StartupInterrupt;
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
      const untrack = killOnExit({ pid: adopted.pid }, 'SIGTERM');
      return await track(adopted.pid, adopted.startTime, stateDir, launch, fingerprint, true, untrack, log);
    }
  }
  await ensurePortsFree(launch);

  const output = stateDir ? new FileOutput(path.join(stateDir, 'server.log')) : new MemoryOutput();
  const { child, exited } = await spawnServer(binary, launch.args, output, stateDir !== null);
  const pid = child.pid!;
  // From the spawn on: an exit without stop() (a forced exit, a crash) still stops the server.
  const untrack = killOnExit({ pid }, 'SIGTERM');
  const startTime = await processStartTime(pid);
  try {
    await opts.interrupt?.checkpoint('temporal-spawned');
    await waitUntilServing(launch, exited, timeoutMs, output, opts.interrupt?.signal);
  } catch (error) {
    await terminatePid(pid, { signal: 'SIGTERM', killAfterMs: STOP_GRACE_MS });
    untrack();
    if (opts.interrupt?.signal.aborted) log(`Temporal dev server stopped before it served (pid ${pid})`);
    throw error;
  }
  log(
    `Temporal dev server started on ${launch.address} in ${((Date.now() - startedAt) / 1000).toFixed(1)} s ` +
      `(namespace ${launch.namespace}${launch.uiUrl ? `, UI ${launch.uiUrl}` : ''}, ${dbFile ? `db ${dbFile}` : 'in memory'})`,
  );
  return track(pid, startTime, stateDir, launch, fingerprint, false, untrack, log);
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
// Ownership and stop

async function track(
  pid: number,
  startTime: string | null,
  stateDir: string | null,
  launch: Launch,
  fingerprint: string,
  reused: boolean,
  untrack: () => void,
  log: (line: string) => void,
): Promise<TemporalDevServer> {
  if (stateDir) await writeState(stateDir, pid, startTime, launch, fingerprint);

  const stopServer = async () => {
    // Only the process we started or adopted, proven by its start time.
    const ours = startTime === null ? isPidAlive(pid) : await isSameProcess(pid, startTime);
    if (ours) {
      const how = await terminatePid(pid, { signal: 'SIGTERM', killAfterMs: STOP_GRACE_MS });
      log(`Temporal dev server stopped (pid ${pid}${how === 'killed' ? `, killed after ${STOP_GRACE_MS / 1000} s` : ''})`);
    }
    untrack();
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
