/**
 * A PostgreSQL left running by a previous Vigil that was killed (`kill -9`): its postmaster is
 * detached, so it outlives Vigil and holds the cluster's postmaster.pid. The next start proves
 * whether that server is really ours and free to take, then adopts it or stops it; the owner file
 * (`postgres.owner.json`) written after every start is what that proof reads.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { currentProcessIdentity, isPidAlive, isSameProcess, processWorkingDirectory, sleep } from '../platform/processes.ts';
import { readPassword, SUPERUSER, type Layout } from './embeddedPostgresCluster.ts';
import { fastShutdown, READY_TIMEOUT_MS, readPostmasterPid } from './embeddedPostgresPostmaster.ts';

const execFileAsync = promisify(execFile);

/** Who owns a running server: written after start, read by the next start after a crash. */
interface OwnerRecord {
  ownerPid: number;
  ownerStartTime: string | null;
  postmasterPid: number;
  postmasterStartTime: string | null;
  port: number;
}

export async function writeOwnerRecord(
  layout: Layout,
  postmasterPid: number,
  postmasterStartTime: string | null,
  port: number,
): Promise<void> {
  const owner = await currentProcessIdentity();
  const record: OwnerRecord = {
    ownerPid: owner.pid,
    ownerStartTime: owner.startTime,
    postmasterPid,
    postmasterStartTime,
    port,
  };
  await fs.writeFile(layout.ownerFile, JSON.stringify(record, null, 2) + '\n');
}

async function readOwnerRecord(layout: Layout): Promise<OwnerRecord | null> {
  try {
    return JSON.parse(await fs.readFile(layout.ownerFile, 'utf8')) as OwnerRecord;
  } catch {
    return null;
  }
}

export async function removeOwnerRecordIfMine(layout: Layout, postmasterPid: number): Promise<void> {
  const owner = await readOwnerRecord(layout);
  if (owner?.postmasterPid === postmasterPid) await fs.rm(layout.ownerFile, { force: true });
}

/** True when `pid` is a postgres postmaster serving exactly this cluster. */
export async function isPostmasterOf(pid: number, layout: Layout): Promise<boolean> {
  if (!isPidAlive(pid)) return false;
  // The postmaster chdirs into its data directory: its cwd proves which cluster it serves.
  const cwd = processWorkingDirectory(pid);
  if (cwd !== null) return cwd === (await fs.realpath(layout.clusterDir).catch(() => layout.clusterDir));
  // No /proc (macOS): a live process named postgres holding this cluster's postmaster.pid.
  const { stdout } = await execFileAsync('ps', ['-p', String(pid), '-o', 'comm=']).catch(() => ({ stdout: '' }));
  return path.basename(stdout.trim()) === 'postgres';
}

/**
 * After Vigil was killed with SIGKILL its PostgreSQL keeps running (detached), and a plain start
 * would fail on the cluster's postmaster.pid. Cases:
 * - postmaster.pid names a dead pid, or a live pid that is not a postgres on this cluster (the OS
 *   reused the number): stale; removed, fresh start.
 * - a postgres on this cluster whose owning Vigil process is still alive: refused, two Vigils must
 *   not share (and later stop) one embedded database.
 * - an orphan on the requested port that accepts our password: adopted (`reused: true`); it is the
 *   same cluster with the same settings, and adopting costs a connection instead of a restart.
 * - an orphan on another port, or one that does not answer: fast shutdown, then a fresh start.
 * Returns the adopted server, or null when the caller must start one.
 */
export async function recoverLeftoverServer(
  layout: Layout,
  port: number,
  log: (line: string) => void,
): Promise<{ pid: number; password: string } | null> {
  const pidFile = await readPostmasterPid(layout);
  if (!pidFile) return null;
  if (!(await isPostmasterOf(pidFile.pid, layout))) {
    await fs.rm(path.join(layout.clusterDir, 'postmaster.pid'), { force: true });
    log(`Removed a stale postmaster.pid (pid ${pidFile.pid} is not a running PostgreSQL on this cluster)`);
    return null;
  }

  const owner = await readOwnerRecord(layout);
  if (owner && owner.postmasterPid === pidFile.pid && owner.ownerPid !== process.pid &&
      (await isSameProcess(owner.ownerPid, owner.ownerStartTime))) {
    throw new Error(
      `The embedded PostgreSQL in ${layout.clusterDir} is in use by another Vigil process (pid ${owner.ownerPid}). ` +
        `Stop that process first, or give this one its own VIGIL_DATA_DIR.`,
    );
  }

  if (pidFile.status === 'starting') {
    const deadline = Date.now() + READY_TIMEOUT_MS;
    while ((await readPostmasterPid(layout))?.status === 'starting' && Date.now() < deadline) await sleep(50);
  }
  const current = await readPostmasterPid(layout);
  if (current?.pid === pidFile.pid && current.status === 'ready' && current.port === port) {
    try {
      const password = await readPassword(layout);
      const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, password, database: 'postgres' });
      await client.connect();
      await client.end();
      return { pid: pidFile.pid, password };
    } catch {
      // falls through to a clean restart
    }
  }
  log(`Stopping PostgreSQL left running by a previous Vigil (pid ${pidFile.pid}, port ${pidFile.port}) to restart it on port ${port}`);
  await fastShutdown(pidFile.pid, layout);
  return null;
}
