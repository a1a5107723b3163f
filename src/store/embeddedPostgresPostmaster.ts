/**
 * The postmaster of the embedded cluster as a process: launched detached with its output in the
 * cluster's log file, ready once its postmaster.pid says so, and stopped with a fast shutdown.
 */
import { spawn } from 'node:child_process';
import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { killOnExit } from '../platform/killOnExit.ts';
import { isPidAlive, sleep, tailLines, waitForPidExit } from '../platform/processes.ts';
import type { StartupInterrupt } from '../platform/startupInterrupt.ts';
import type { Binaries, Layout, RunAs } from './embeddedPostgresCluster.ts';

export const READY_TIMEOUT_MS = 60_000;
const FAST_SHUTDOWN_TIMEOUT_MS = 30_000;

interface PostmasterPid {
  pid: number;
  dataDir: string;
  port: number;
  /** "starting", "ready" or "stopping" (PostgreSQL ≥ 10 writes it on line 8). */
  status: string;
}

/**
 * Spawns the postmaster and waits until its postmaster.pid says `ready`. From the spawn on, the
 * postmaster gets a fast shutdown if this process exits (killOnExit; `untrack` ends that once the
 * caller stopped it). A failed or interrupted start stops the postmaster before throwing.
 */
export async function launchServer(
  layout: Layout,
  binaries: Binaries,
  runAs: RunAs | null,
  port: number,
  ownProcessGroup: boolean,
  log: (line: string) => void,
  interrupt?: StartupInterrupt,
): Promise<{ pid: number; untrack: () => void }> {
  await fs.rename(layout.logFile, `${layout.logFile}.1`).catch(() => undefined);
  const logFd = openSync(layout.logFile, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_APPEND, 0o644);
  let exited: string | null = null;
  let pid: number | undefined;
  try {
    // Detached (by default): see EmbeddedPostgresOptions.ownProcessGroup.
    const child = spawn(
      binaries.postgres,
      [
        '-D', layout.clusterDir,
        '-p', String(port),
        '-c', 'listen_addresses=127.0.0.1',
        // TCP only: no socket file in /tmp to collide with another PostgreSQL on the same port.
        '-c', 'unix_socket_directories=',
      ],
      { detached: ownProcessGroup, stdio: ['ignore', logFd, logFd], env: { ...process.env, LC_ALL: 'C' }, ...(runAs ?? {}) },
    );
    child.once('error', (error) => (exited = error.message));
    child.once('exit', (code, signal) => (exited = `exit code ${code ?? signal}`));
    child.unref();
    pid = child.pid;
  } finally {
    closeSync(logFd);
  }
  if (pid === undefined) throw await startFailure(layout, `could not spawn ${binaries.postgres}: ${exited ?? 'unknown error'}`);
  const untrack = killOnExit({ pid }, 'SIGINT');

  try {
    await interrupt?.checkpoint('postgres-spawned');
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
      const pidFile = await readPostmasterPid(layout);
      if (pidFile?.pid === pid && pidFile.status === 'ready') return { pid, untrack };
      if (exited !== null) throw await startFailure(layout, `postgres stopped during start-up (${exited})`);
      interrupt?.signal.throwIfAborted();
      if (Date.now() > deadline) throw await startFailure(layout, `postgres was not ready after ${READY_TIMEOUT_MS / 1000} s`);
      await sleep(15);
    }
  } catch (error) {
    // A postmaster in start-up takes the fast shutdown too, and removes its postmaster.pid.
    if (exited === null) await fastShutdown(pid, layout).catch(() => undefined);
    untrack();
    if (interrupt?.signal.aborted) log(`PostgreSQL stopped before it was ready (pid ${pid})`);
    throw error;
  }
}

async function startFailure(layout: Layout, reason: string): Promise<Error> {
  const output = await fs.readFile(layout.logFile, 'utf8').catch(() => '');
  return new Error(`The embedded PostgreSQL did not start: ${reason}. Last lines of ${layout.logFile}:\n${tailLines(output)}`);
}

export async function readPostmasterPid(layout: Layout): Promise<PostmasterPid | null> {
  let raw: string;
  try {
    raw = await fs.readFile(path.join(layout.clusterDir, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const lines = raw.split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return null;
  return { pid, dataDir: lines[1] ?? '', port: Number(lines[3]), status: (lines[7] ?? '').trim() };
}

/**
 * SIGINT is PostgreSQL's "fast" shutdown: it rolls back open transactions, disconnects clients and
 * writes a checkpoint. SIGQUIT (immediate: crash recovery on the next start) only if that hangs.
 */
export async function fastShutdown(pid: number, layout: Layout): Promise<void> {
  if (!isPidAlive(pid)) return;
  process.kill(pid, 'SIGINT');
  if (await waitForPidExit(pid, FAST_SHUTDOWN_TIMEOUT_MS)) return;
  process.kill(pid, 'SIGQUIT');
  if (await waitForPidExit(pid, 10_000)) return;
  throw await startFailure(layout, `postgres (pid ${pid}) did not stop within ${FAST_SHUTDOWN_TIMEOUT_MS / 1000 + 10} s`);
}
