/**
 * A Temporal dev server left running by a previous Vigil that was killed (`kill -9`), and the
 * record that lets the next start prove it is ours: `<dataDir>/temporal/server.json` (server.pid
 * beside it, plain, for humans and scripts), written after every start or adoption.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Connection } from '@temporalio/client';
import { currentProcessIdentity, isPidAlive, isSameProcess, processExecutable, terminatePid } from '../platform/processes.ts';
import { serviceProblem, STOP_GRACE_MS, type Launch } from './devServerProcess.ts';

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

export async function writeState(
  stateDir: string,
  pid: number,
  startTime: string | null,
  launch: Launch,
  fingerprint: string,
): Promise<void> {
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

async function readState(stateDir: string): Promise<ServerState | null> {
  try {
    return JSON.parse(await fs.readFile(path.join(stateDir, 'server.json'), 'utf8')) as ServerState;
  } catch {
    return null;
  }
}

export async function removeStateIfFor(stateDir: string, pid: number): Promise<void> {
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
export async function recoverLeftoverServer(
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
