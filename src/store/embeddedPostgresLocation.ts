/**
 * Where the embedded cluster lives: `<dataDir>/postgres`, unless Vigil runs as root and the
 * `postgres` user (who runs PostgreSQL then) cannot enter a directory above the data directory —
 * a checkout in `/root` or in a `mktemp -d` folder, which is what a newcomer on a fresh machine
 * has. Vigil never opens the user's home directory; the cluster then lives in a folder of its own
 * under PRIVATE_CHECKOUT_ROOT, and `<dataDir>/postgres` is a symlink to it, so everything that
 * reads `<dataDir>/postgres/…` as root (the next start, kill -9 adoption, tests, `ls`) finds it,
 * and moving the checkout keeps it. PostgreSQL itself is only ever given the real path.
 *
 *   /var/lib/vigil/          root, 0755, writable by root alone (root starts what is inside)
 *     <hash>/                root, 0755: one per data directory, sha256 of its real path
 *       data-dir             the data directory this folder belongs to
 *       postgres/            the cluster, owned by `postgres`, 0700
 *
 * Everything else of the data directory (password, logs, owner record, Temporal, run logs) stays
 * in it: root writes those, not PostgreSQL.
 */
import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { canEnterAll, canSearch } from './embeddedPostgresBinaries.ts';
import { SUPERUSER, type Layout, type RunAs } from './embeddedPostgresCluster.ts';
import { isPostmasterOf } from './embeddedPostgresLeftover.ts';
import { fastShutdown, readPostmasterPid } from './embeddedPostgresPostmaster.ts';

const execFileAsync = promisify(execFile);

/** /var/lib, not /var/cache (where the binaries are copied): a cluster is data, not a cache. */
export const PRIVATE_CHECKOUT_ROOT = '/var/lib/vigil';
const OWNER_FILE = 'data-dir';

/** The folder of one data directory (given by its real path) under `root`. */
export function privateCheckoutFolder(realDataDir: string, root = PRIVATE_CHECKOUT_ROOT): string {
  return path.join(root, createHash('sha256').update(realDataDir).digest('hex').slice(0, 12));
}

/**
 * Returns the layout with `clusterDir` set to the cluster's real path, after making that path
 * usable by the user PostgreSQL runs as. Logs one `PostgreSQL data: …` line whenever the cluster
 * is not in the data directory itself.
 */
export async function placeCluster(
  layout: Layout,
  runAs: RunAs | null,
  log: (line: string) => void,
  root = PRIVATE_CHECKOUT_ROOT,
): Promise<Layout> {
  const link = layout.clusterDir;
  const realDataDir = await fs.realpath(layout.dataDir);
  let entry = await fs.lstat(link).catch(() => null);

  if (entry?.isSymbolicLink()) {
    const target = path.resolve(layout.dataDir, await fs.readlink(link));
    const ours = isInside(target, root);
    if (!ours || (await exists(path.dirname(target)))) {
      if (ours) {
        await ensureRootOnly(path.dirname(target), false);
        await checkFolderBelongsHere(path.dirname(target), realDataDir, link, target);
      }
      const closed = runAs ? await topmostClosedDirectory(path.dirname(layout.dataDir), runAs) : null;
      log(dataLine(target, link, closed));
      return { ...layout, clusterDir: target };
    }
    await fs.rm(link); // its folder was removed by hand: a fresh cluster, as for a missing directory
    entry = null;
  }

  if (!runAs) return layout;
  const closed = await topmostClosedDirectory(path.dirname(layout.dataDir), runAs);
  if (closed === null) {
    // Vigil's own data directory gets the search bit for others (not read: its listing stays private).
    const stat = await fs.stat(layout.dataDir);
    if (!canSearch(stat, runAs)) await fs.chmod(layout.dataDir, (stat.mode & 0o7777) | 0o001);
    return layout;
  }

  const folder = await claimFolder(realDataDir, layout, runAs, root, log);
  const clusterDir = path.join(folder, 'postgres');
  if (entry) await moveClusterOutOfReach(layout, clusterDir, closed, log);
  await fs.symlink(clusterDir, link);
  log(dataLine(clusterDir, link, closed));
  return { ...layout, clusterDir };
}

function dataLine(clusterDir: string, link: string, closed: string | null): string {
  const why = closed ? `the "${SUPERUSER}" user cannot enter ${closed}; ` : '';
  return `PostgreSQL data: ${clusterDir} (${why}${link} links there)`;
}

/** The directory nearest `/` among `dir` and its parents that `who` may not search, if any. */
async function topmostClosedDirectory(dir: string, who: RunAs): Promise<string | null> {
  let closed: string | null = null;
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    if (!canSearch(await fs.stat(current), who)) closed = current;
    if (path.dirname(current) === current) return closed;
  }
}

/**
 * The data directory's folder under `root`: created, or taken back when it is left from an earlier
 * data directory at this same path (deleted, e.g. `rm -rf .vigil`), whose cluster is then removed
 * just as deleting an in-place cluster would have. A folder that belongs to another data directory
 * (a checkout moved away from this path, that still links to it) is never touched: the next name
 * (`<hash>-2`, …) is used instead.
 */
async function claimFolder(realDataDir: string, layout: Layout, runAs: RunAs, root: string, log: (line: string) => void): Promise<string> {
  await ensureRootOnly(root, true);
  const base = privateCheckoutFolder(realDataDir, root);
  for (let n = 1; ; n++) {
    const folder = n === 1 ? base : `${base}-${n}`;
    const created = await fs.mkdir(folder, { mode: 0o755 }).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'EEXIST') return false;
        throw error;
      },
    );
    await ensureRootOnly(folder, created);
    if (!created) {
      const owner = await readOwner(folder);
      if (owner !== null && owner !== realDataDir) continue;
      await discardStaleCluster(path.join(folder, 'postgres'), layout, log);
    }
    if (!(await canEnterAll(folder, runAs))) {
      throw new Error(
        `PostgreSQL runs as the "${SUPERUSER}" user because Vigil runs as root; that user cannot enter ${layout.dataDir}, ` +
          `nor ${folder} where Vigil would keep the cluster instead. Set VIGIL_DATA_DIR to a directory it can enter, ` +
          `or DATABASE_URL to an existing PostgreSQL.`,
      );
    }
    await fs.writeFile(path.join(folder, OWNER_FILE), realDataDir + '\n');
    return folder;
  }
}

/**
 * Root starts PostgreSQL from these folders and chowns what is inside: they must be root's alone
 * (a real directory, not a link, that nobody else may write to). A new one is given 0755 whatever
 * the umask, so the `postgres` user can enter it.
 */
async function ensureRootOnly(dir: string, create: boolean): Promise<void> {
  if (create) {
    await fs.mkdir(dir, { recursive: true, mode: 0o755 });
    const stat = await fs.lstat(dir);
    if (stat.isDirectory() && (stat.mode & 0o777) !== 0o755 && stat.uid === process.getuid?.()) await fs.chmod(dir, 0o755);
  }
  const stat = await fs.lstat(dir);
  if (!stat.isDirectory() || stat.uid !== process.getuid?.() || (stat.mode & 0o022) !== 0) {
    throw new Error(
      `${dir} must be a directory owned by root that no one else can write to: Vigil, as root, keeps PostgreSQL clusters there. ` +
        `Fix or remove it, or set VIGIL_DATA_DIR to a directory the "${SUPERUSER}" user can enter.`,
    );
  }
}

async function readOwner(folder: string): Promise<string | null> {
  return fs.readFile(path.join(folder, OWNER_FILE), 'utf8').then((text) => text.trim() || null, () => null);
}

/**
 * A copied data directory (`cp -a`, rsync) copies the link, not the cluster: two Vigils would then
 * share one server and stop each other's. Refused while the folder's own data directory still
 * links to it; when it no longer does, the checkout was moved, and the folder follows it.
 */
async function checkFolderBelongsHere(folder: string, realDataDir: string, link: string, target: string): Promise<void> {
  const owner = await readOwner(folder);
  if (owner === null || owner === realDataDir) return;
  const ownersLink = await fs.readlink(path.join(owner, 'postgres')).catch(() => null);
  if (ownersLink !== null && path.resolve(owner, ownersLink) === target) {
    throw new Error(
      `${link} links to the PostgreSQL cluster of another data directory, ${owner} (this one is probably a copy of it). ` +
        `Two Vigils must not share one cluster: remove ${link} to start this one with an empty database, ` +
        `or set VIGIL_DATA_DIR=${owner}.`,
    );
  }
  await fs.writeFile(path.join(folder, OWNER_FILE), realDataDir + '\n');
}

/** The cluster of a deleted data directory: its password went with it, so nobody can use it any more. */
async function discardStaleCluster(clusterDir: string, layout: Layout, log: (line: string) => void): Promise<void> {
  if (!(await exists(clusterDir))) return;
  const stale: Layout = { ...layout, clusterDir };
  const pidFile = await readPostmasterPid(stale);
  if (pidFile && (await isPostmasterOf(pidFile.pid, stale))) await fastShutdown(pidFile.pid, stale);
  await fs.rm(clusterDir, { recursive: true, force: true });
  log(`Removed ${clusterDir}: the PostgreSQL cluster of an earlier ${layout.dataDir}, which no longer links to it`);
}

/** A cluster made while the data directory was reachable (a parent was closed since) moves, data and all. */
async function moveClusterOutOfReach(layout: Layout, to: string, closed: string, log: (line: string) => void): Promise<void> {
  const pidFile = await readPostmasterPid(layout);
  if (pidFile && (await isPostmasterOf(pidFile.pid, layout))) {
    throw new Error(
      `PostgreSQL (pid ${pidFile.pid}) is still running in ${layout.clusterDir}, which the "${SUPERUSER}" user can no longer ` +
        `reach (it cannot enter ${closed}). Stop it (\`kill -INT ${pidFile.pid}\`) and start again: Vigil then moves the cluster to ${to}.`,
    );
  }
  // `mv`, not fs.rename: /var/lib may be another file system, and the files must keep their owner.
  await execFileAsync('mv', ['-T', layout.clusterDir, to]);
  log(`Moved the PostgreSQL cluster from ${layout.clusterDir} to ${to}: the "${SUPERUSER}" user cannot enter ${closed}`);
}

function isInside(target: string, root: string): boolean {
  return target.startsWith(root + path.sep);
}

function exists(file: string): Promise<boolean> {
  return fs.access(file).then(() => true, () => false);
}
