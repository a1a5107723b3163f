/**
 * Applies prisma/migrations to a database without Prisma's schema engine, which cannot be
 * downloaded here (ENVIRONMENT.md). It keeps Prisma's bookkeeping exactly — the same
 * `_prisma_migrations` table, one row per migration folder, checksum = sha256 of migration.sql —
 * so `prisma migrate status` / `deploy` stay usable wherever the engine exists.
 *
 * Unlike `prisma migrate deploy`, each migration runs in its own transaction: a failed migration
 * leaves nothing behind and is simply retried on the next start. The flip side: a migration must
 * not contain statements that refuse to run in a transaction (CREATE INDEX CONCURRENTLY, …).
 */
import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { appFile } from '../platform/appFiles.ts';

export interface ApplyMigrationsOptions {
  /** Folder holding `<name>/migration.sql`; defaults to the repository's prisma/migrations. */
  migrationsDir?: string;
  log?: (line: string) => void;
}

/** Resolved from the code's location, not the cwd (platform/appFiles.ts), so tests, `npm start` and dist/ find the same folder. */
const DEFAULT_MIGRATIONS_DIR = appFile('prisma', 'migrations');

/**
 * The key Prisma's schema engine locks (`pg_advisory_lock(72707369)`), so this runner, another
 * Vigil process and `prisma migrate deploy` never migrate the same database at once.
 */
const PRISMA_MIGRATE_LOCK_KEY = 72707369;

/** Prisma's own definition of its bookkeeping table on PostgreSQL. */
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface LocalMigration {
  name: string;
  sql: string;
  checksum: string;
}

interface RecordedMigration {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
}

export async function applyMigrations(
  databaseUrl: string,
  options: ApplyMigrationsOptions = {},
): Promise<{ applied: string[] }> {
  const log = options.log ?? (() => {});
  const local = await readLocalMigrations(options.migrationsDir ?? DEFAULT_MIGRATIONS_DIR);

  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    // A session-level lock, held across the per-migration transactions. Closing the connection
    // releases it, so a crashed process never leaves the database locked.
    await client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK_KEY]);
    await client.query(CREATE_MIGRATIONS_TABLE);
    const pending = selectPending(local, await readRecordedMigrations(client));
    for (const migration of pending) {
      await applyOne(client, migration);
      log(`Applied migration ${migration.name}`);
    }
    return { applied: pending.map((migration) => migration.name) };
  } finally {
    await client.end();
  }
}

async function readLocalMigrations(migrationsDir: string): Promise<LocalMigration[]> {
  const entries = await readdir(migrationsDir, { withFileTypes: true });
  const names = entries
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort(); // Prisma orders migrations by folder name, i.e. by their UTC timestamp prefix.
  return Promise.all(
    names.map(async (name) => {
      const file = path.join(migrationsDir, name, 'migration.sql');
      const bytes = await readFile(file).catch((error: NodeJS.ErrnoException) => {
        throw new Error(`Migration folder ${name} has no readable migration.sql (${error.code ?? error.message})`);
      });
      return { name, sql: bytes.toString('utf8'), checksum: createHash('sha256').update(bytes).digest('hex') };
    }),
  );
}

async function readRecordedMigrations(client: pg.Client): Promise<RecordedMigration[]> {
  const result = await client.query<RecordedMigration>(
    'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" WHERE rolled_back_at IS NULL',
  );
  return result.rows;
}

/**
 * The local migrations not yet applied, after refusing the states in which applying more would
 * build on an unknown schema: an applied migration edited since, or one that failed half-way
 * (only `prisma migrate deploy` can leave that; it needs `prisma migrate resolve`).
 */
function selectPending(local: LocalMigration[], recorded: RecordedMigration[]): LocalMigration[] {
  const failed = recorded.find((row) => row.finished_at === null);
  if (failed) {
    throw new Error(
      `Migration ${failed.migration_name} started but never finished in this database. ` +
        'Repair the database by hand, then mark it with `prisma migrate resolve` before migrating again.',
    );
  }
  const appliedChecksums = new Map(recorded.map((row) => [row.migration_name, row.checksum]));
  for (const migration of local) {
    const appliedChecksum = appliedChecksums.get(migration.name);
    if (appliedChecksum !== undefined && appliedChecksum !== migration.checksum) {
      throw new Error(
        `Migration ${migration.name} was modified after it was applied to this database ` +
          `(recorded checksum ${appliedChecksum}, file checksum ${migration.checksum}). ` +
          'Never edit an applied migration; add a new one instead.',
      );
    }
  }
  return local.filter((migration) => !appliedChecksums.has(migration.name));
}

async function applyOne(client: pg.Client, migration: LocalMigration): Promise<void> {
  const id = randomUUID();
  await client.query('BEGIN');
  try {
    await client.query(
      'INSERT INTO "_prisma_migrations" (id, checksum, migration_name) VALUES ($1, $2, $3)',
      [id, migration.checksum, migration.name],
    );
    // No parameters: pg sends a simple query, which may hold many statements.
    await client.query(migration.sql);
    await client.query(
      // clock_timestamp(): now() would still be the transaction's start, i.e. started_at.
      'UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1',
      [id],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw new Error(`Migration ${migration.name} failed and was rolled back: ${(error as Error).message}`, {
      cause: error,
    });
  }
}
