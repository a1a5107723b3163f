/**
 * Issue 11 §5, the newcomer on a fresh machine: as root, with the checkout in a folder the
 * `postgres` user cannot enter (`/root/vigil`, a `mktemp -d` folder), the embedded PostgreSQL keeps
 * its cluster under /var/lib/vigil/<hash>/postgres, says so, and `<dataDir>/postgres` links there.
 * Root only: as another user PostgreSQL runs as that user and every folder it made is its own.
 */
import { spawnSync } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readFile, readlink, realpath, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { withClient } from '../support/scratchDatabase.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { findFreePorts } from '../../src/platform/freePorts.ts';
import { isPidAlive, isPortAnswering, processWorkingDirectory } from '../../src/platform/processes.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/store/embeddedPostgres.ts';
import { privateCheckoutFolder } from '../../src/store/embeddedPostgresLocation.ts';
import { killWithSigkill, runFixture } from './childProcess.ts';

const asRoot = process.getuid?.() === 0;

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

interface PrivateCheckout {
  /** The `mktemp -d` folder, mode 0700: the `postgres` user cannot enter it. */
  hidden: string;
  /** `<hidden>/vigil/.vigil`, like `/root/vigil/.vigil`. */
  dataDir: string;
  /** `/var/lib/vigil/<hash>`, computed from the data directory's real path. */
  folder: string;
}

/** A checkout's data directory inside a private folder; it and its /var/lib/vigil folder go afterwards. */
async function givenPrivateCheckout(): Promise<PrivateCheckout> {
  const hidden = await mkdtemp(path.join(os.tmpdir(), 'vigil-private-'));
  await chmod(hidden, 0o700);
  const dataDir = path.join(hidden, 'vigil', '.vigil');
  await mkdir(dataDir, { recursive: true });
  const folder = privateCheckoutFolder(await realpath(dataDir));
  cleanups.push(async () => {
    await stopAnyPostgresIn(path.join(folder, 'postgres'));
    await rm(folder, { recursive: true, force: true });
    await rm(hidden, { recursive: true, force: true });
  });
  return { hidden, dataDir, folder };
}

/** Safety net for failed tests: a postgres serving this cluster (proven by its cwd) is stopped, by pid. */
async function stopAnyPostgresIn(clusterDir: string): Promise<void> {
  const pid = await postmasterPidIn(clusterDir);
  if (pid && isPidAlive(pid) && processWorkingDirectory(pid) === clusterDir) {
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 200 && isPidAlive(pid); i++) await new Promise((r) => setTimeout(r, 25));
  }
}

async function postmasterPidIn(clusterDir: string): Promise<number | null> {
  const text = await readFile(path.join(clusterDir, 'postmaster.pid'), 'utf8').catch(() => null);
  return text ? Number(text.split('\n')[0]) : null;
}

async function started(server: Promise<EmbeddedPostgres>): Promise<EmbeddedPostgres> {
  const running = await server;
  cleanups.push(() => running.stop());
  return running;
}

async function query<T extends object>(databaseUrl: string, sql: string): Promise<T[]> {
  return withClient(databaseUrl, async (client) => (await client.query(sql)).rows as T[]);
}

function postgresUid(): number {
  return Number(spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).stdout.trim());
}

const dataLine = ({ hidden, dataDir, folder }: PrivateCheckout) =>
  `PostgreSQL data: ${folder}/postgres (the "postgres" user cannot enter ${hidden}; ${dataDir}/postgres links there)`;

describe.skipIf(!asRoot)('embedded PostgreSQL in a data directory the postgres user cannot enter (root only)', () => {
  it('keeps the cluster under /var/lib/vigil, says where, and finds it again with its data on the next start', async () => {
    const checkout = await givenPrivateCheckout();
    const [port] = await findFreePorts(1);
    const lines: string[] = [];
    const first = await startEmbeddedPostgres({ dataDir: checkout.dataDir, port, log: (line) => lines.push(line) });
    cleanups.push(() => first.stop());

    expect(lines).toContain(dataLine(checkout));
    expect(await readlink(path.join(checkout.dataDir, 'postgres'))).toBe(path.join(checkout.folder, 'postgres'));
    expect(await readFile(path.join(checkout.folder, 'data-dir'), 'utf8')).toBe(`${checkout.dataDir}\n`);
    const cluster = await stat(path.join(checkout.folder, 'postgres'));
    expect([cluster.uid, cluster.mode & 0o777]).toEqual([postgresUid(), 0o700]);
    expect((await stat(checkout.hidden)).mode & 0o777).toBe(0o700); // never opened
    // Root reads the cluster through the link, as tests and the kill -9 adoption do.
    const pid = await postmasterPidIn(path.join(checkout.dataDir, 'postgres'));
    expect(processWorkingDirectory(pid!)).toBe(path.join(checkout.folder, 'postgres'));
    await query(first.databaseUrl, `create table kept (note text); insert into kept values ('survives a restart')`);
    // Everything else stays in the data directory.
    expect((await lstat(path.join(checkout.dataDir, 'postgres.password'))).isFile()).toBe(true);
    await first.stop();
    expect(isPidAlive(pid!)).toBe(false);

    lines.length = 0;
    const second = await started(startEmbeddedPostgres({ dataDir: checkout.dataDir, port, log: (line) => lines.push(line) }));
    expect(second.reused).toBe(false);
    expect(lines[0]).toBe(dataLine(checkout));
    expect(lines.filter((line) => line.startsWith('Initialising'))).toEqual([]);
    expect(await query(second.databaseUrl, 'select note from kept')).toEqual([{ note: 'survives a restart' }]);
  });

  it('adopts the server left running when its owner was killed with SIGKILL', async () => {
    const checkout = await givenPrivateCheckout();
    const [port] = await findFreePorts(1);
    const owner = runFixture<{ databaseUrl: string }>('startPostgresChild.ts', [checkout.dataDir, String(port)]);
    const { databaseUrl } = await owner.ready;
    await query(databaseUrl, `create table before_crash (id int); insert into before_crash values (1)`);
    const orphan = await postmasterPidIn(path.join(checkout.dataDir, 'postgres'));

    await killWithSigkill(owner);
    expect(isPidAlive(orphan!)).toBe(true);

    const server = await started(startEmbeddedPostgres({ dataDir: checkout.dataDir, port }));
    expect(server.reused).toBe(true);
    expect(await query(server.databaseUrl, 'select id from before_crash')).toEqual([{ id: 1 }]);
    await server.stop();
    expect(isPidAlive(orphan!)).toBe(false);
    expect(await isPortAnswering(port)).toBe(false);
  });

  it('starts with an empty database after the data directory was deleted, removing the cluster it left', async () => {
    const checkout = await givenPrivateCheckout();
    const [port] = await findFreePorts(1);
    const first = await startEmbeddedPostgres({ dataDir: checkout.dataDir, port });
    cleanups.push(() => first.stop());
    await query(first.databaseUrl, 'create table gone (id int)');
    await first.stop();
    await rm(checkout.dataDir, { recursive: true }); // `rm -rf .vigil` removes the link, not the cluster

    const lines: string[] = [];
    const server = await started(startEmbeddedPostgres({ dataDir: checkout.dataDir, port, log: (line) => lines.push(line) }));
    expect(lines.slice(0, 3)).toEqual([
      `Removed ${checkout.folder}/postgres: the PostgreSQL cluster of an earlier ${checkout.dataDir}, which no longer links to it`,
      dataLine(checkout),
      `Initialising a PostgreSQL 17 cluster in ${checkout.folder}/postgres (first start)`,
    ]);
    expect(await query(server.databaseUrl, "select to_regclass('gone') as t")).toEqual([{ t: null }]);
  });

  it('refuses a copy of a data directory whose link leads to the original cluster', async () => {
    const checkout = await givenPrivateCheckout();
    const [port] = await findFreePorts(1);
    await (await startEmbeddedPostgres({ dataDir: checkout.dataDir, port })).stop();
    const copy = path.join(checkout.hidden, 'copy', '.vigil');
    await mkdir(path.dirname(copy));
    expect(spawnSync('cp', ['-a', checkout.dataDir, copy]).status).toBe(0);

    await expect(startEmbeddedPostgres({ dataDir: copy, port })).rejects.toThrow(
      `${copy}/postgres links to the PostgreSQL cluster of another data directory, ${checkout.dataDir}`,
    );
  });

  it('moves a cluster made while the data directory was reachable once a parent is closed, data and all', async () => {
    const checkout = await givenPrivateCheckout();
    const [port] = await findFreePorts(1);
    await chmod(checkout.hidden, 0o755);
    const first = await startEmbeddedPostgres({ dataDir: checkout.dataDir, port });
    cleanups.push(() => first.stop());
    await query(first.databaseUrl, `create table moved (id int); insert into moved values (7)`);
    await first.stop();
    expect((await lstat(path.join(checkout.dataDir, 'postgres'))).isDirectory()).toBe(true); // in place
    await chmod(checkout.hidden, 0o700);

    const lines: string[] = [];
    const server = await started(startEmbeddedPostgres({ dataDir: checkout.dataDir, port, log: (line) => lines.push(line) }));
    expect(lines.slice(0, 2)).toEqual([
      `Moved the PostgreSQL cluster from ${checkout.dataDir}/postgres to ${checkout.folder}/postgres: the "postgres" user cannot enter ${checkout.hidden}`,
      dataLine(checkout),
    ]);
    expect(await query(server.databaseUrl, 'select id from moved')).toEqual([{ id: 7 }]);
  });
});
