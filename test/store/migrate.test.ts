/**
 * The migration runner against real PostgreSQL: each test gets its own scratch database on the
 * test run's server, so it never sees another file's tables or `_prisma_migrations` rows.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { applyMigrations } from '../../src/store/migrate.ts';
import { createScratchDatabase, withClient } from '../support/scratchDatabase.ts';

const REPO_MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A fresh database on the test run's server, dropped after the test. */
async function givenScratchDatabase(): Promise<string> {
  const database = await createScratchDatabase(inject('databaseUrl'), 'vigil_migrate');
  cleanups.push(database.drop);
  return database.url;
}

/** A migrations folder in Prisma's layout, built from `{ folderName: sql }`. */
async function givenMigrationsDir(migrations: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-migrations-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  await writeFile(path.join(dir, 'migration_lock.toml'), 'provider = "postgresql"\n');
  for (const [name, sql] of Object.entries(migrations)) {
    await mkdir(path.join(dir, name));
    await writeFile(path.join(dir, name, 'migration.sql'), sql);
  }
  return dir;
}

async function recordedMigrations(url: string) {
  return withClient(url, async (client) => {
    const result = await client.query<{ migration_name: string; checksum: string; finished: boolean; applied_steps_count: number }>(
      `SELECT migration_name, checksum, finished_at IS NOT NULL AS finished, applied_steps_count
       FROM "_prisma_migrations" ORDER BY migration_name`,
    );
    return result.rows;
  });
}

async function repoMigrationNames(): Promise<string[]> {
  const entries = await readdir(REPO_MIGRATIONS_DIR, { withFileTypes: true });
  return entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
}

describe('applyMigrations', () => {
  it('applies every repository migration once and records it as Prisma does', async () => {
    const url = await givenScratchDatabase();
    const names = await repoMigrationNames();

    const first = await applyMigrations(url);
    const second = await applyMigrations(url);

    expect(first.applied).toEqual(names);
    expect(second.applied).toEqual([]);
    const expected = await Promise.all(
      names.map(async (name) => ({
        migration_name: name,
        checksum: createHash('sha256').update(await readFile(path.join(REPO_MIGRATIONS_DIR, name, 'migration.sql'))).digest('hex'),
        finished: true,
        applied_steps_count: 1,
      })),
    );
    expect(await recordedMigrations(url)).toEqual(expected);
  });

  it('lets two callers migrate the same database at once, applying each migration once', async () => {
    const url = await givenScratchDatabase();
    const names = await repoMigrationNames();

    // allSettled: should one fail, the other still finishes before the database is dropped.
    const results = await Promise.allSettled([applyMigrations(url), applyMigrations(url)]);

    expect(results.map((result) => result.status)).toEqual(['fulfilled', 'fulfilled']);
    const applied = results.map((result) => (result.status === 'fulfilled' ? result.value.applied : []));
    // The advisory lock serialises them: whoever comes second finds nothing left to do.
    expect(applied.sort((a, b) => a.length - b.length)).toEqual([[], names]);
    expect((await recordedMigrations(url)).map((row) => row.migration_name)).toEqual(names);
  });

  it('applies only the migrations added since the last run', async () => {
    const url = await givenScratchDatabase();
    const dir = await givenMigrationsDir({ '20260101000000_a': 'CREATE TABLE a (id int);' });
    await applyMigrations(url, { migrationsDir: dir });

    await mkdir(path.join(dir, '20260102000000_b'));
    await writeFile(path.join(dir, '20260102000000_b', 'migration.sql'), 'CREATE TABLE b (id int);');
    const lines: string[] = [];
    const result = await applyMigrations(url, { migrationsDir: dir, log: (line) => lines.push(line) });

    expect(result.applied).toEqual(['20260102000000_b']);
    expect(lines).toEqual(['Applied migration 20260102000000_b']);
  });

  it('refuses to run when an applied migration was edited afterwards', async () => {
    const url = await givenScratchDatabase();
    const dir = await givenMigrationsDir({ '20260101000000_a': 'CREATE TABLE a (id int);' });
    await applyMigrations(url, { migrationsDir: dir });

    await writeFile(path.join(dir, '20260101000000_a', 'migration.sql'), 'CREATE TABLE a (id bigint);');

    await expect(applyMigrations(url, { migrationsDir: dir })).rejects.toThrow(
      /Migration 20260101000000_a was modified after it was applied/,
    );
  });

  it('refuses to run over a migration that `prisma migrate deploy` left half-applied', async () => {
    const url = await givenScratchDatabase();
    const dir = await givenMigrationsDir({ '20260101000000_a': 'CREATE TABLE a (id int);' });
    await applyMigrations(url, { migrationsDir: dir });
    await withClient(url, (client) =>
      client.query(`INSERT INTO "_prisma_migrations" (id, checksum, migration_name) VALUES ('x', 'y', '20260102000000_b')`),
    );

    await expect(applyMigrations(url, { migrationsDir: dir })).rejects.toThrow(
      /Migration 20260102000000_b started but never finished/,
    );
  });

  it('rolls a failing migration back entirely and records nothing for it', async () => {
    const url = await givenScratchDatabase();
    const dir = await givenMigrationsDir({
      '20260101000000_a': 'CREATE TABLE a (id int);',
      '20260102000000_b': 'CREATE TABLE b (id int);\nINSERT INTO missing_table VALUES (1);',
    });

    await expect(applyMigrations(url, { migrationsDir: dir })).rejects.toThrow(
      /Migration 20260102000000_b failed and was rolled back: relation "missing_table" does not exist/,
    );

    expect((await recordedMigrations(url)).map((row) => row.migration_name)).toEqual(['20260101000000_a']);
    const tables = await withClient(url, (client) => client.query(`SELECT to_regclass('b') AS b`));
    expect(tables.rows[0].b).toBeNull();
  });
});
