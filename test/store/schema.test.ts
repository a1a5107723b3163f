/**
 * prisma/schema.prisma and prisma/migrations describe the same database.
 *
 * The judge is Prisma itself: `prisma migrate diff --from-migrations --to-schema-datamodel
 * --exit-code` replays the migrations into a shadow database, compares it with the schema and
 * prints the SQL that would close any gap. Prisma 7's CLI needs its native schema engine for that,
 * which cannot be downloaded here (ENVIRONMENT.md), so the diff runs on Prisma 6.19.3, whose CLI
 * carries a WebAssembly schema engine that talks to PostgreSQL through @prisma/adapter-pg.
 *
 * Prisma 6 is a pinned dev dependency of its own package, `test/support/prisma-diff-cli` (a
 * `file:` dev dependency), so `npm install` installs it nested there: as a top-level dependency
 * (even under an npm alias) its `prisma` bin would race Prisma 7's for `node_modules/.bin/prisma`
 * and, seen here, win — breaking `prisma generate`. Nothing is installed while tests run.
 *
 * Prisma's diff ignores partial and expression indexes, so those of the recovery_indexes migration
 * are checked here by name and, for the one the recovery rules hinge on, by behaviour.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPrismaClient, type PrismaClient } from '../../src/store/db.ts';
import { applyMigrations } from '../../src/store/migrate.ts';
import { createScratchDatabase, withClient } from '../support/scratchDatabase.ts';

const MIGRATIONS_DIR = fileURLToPath(new URL('../../prisma/migrations', import.meta.url));
const SCHEMA_FILE = fileURLToPath(new URL('../../prisma/schema.prisma', import.meta.url));


/** Every index the recovery_indexes migration creates, none of which Prisma's diff looks at. */
const RAW_SQL_INDEXES = [
  'issues_active_stranded_issue_recovery_uq',
  'issues_active_stale_run_evaluation_uq',
  'issues_active_productivity_review_uq',
  'issues_active_liveness_recovery_incident_uq',
  'issues_active_liveness_recovery_leaf_uq',
  'issues_open_routine_execution_uq',
  'environments_company_local_uq',
  'heartbeat_runs_company_issue_created_idx',
  'heartbeat_runs_live_status_idx',
  'heartbeat_runs_scheduled_retry_due_idx',
  'agent_wakeup_requests_company_status_issue_idx',
];

function run(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) {
  return new Promise<{ exitCode: number; stdout: string; stderr: string }>((resolve) => {
    execFile(command, args, { ...options, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      const exitCode = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ exitCode, stdout, stderr: stderr || (error ? String(error) : '') });
    });
  });
}

const requireFromTests = createRequire(import.meta.url);
/** The Prisma 6 CLI, installed nested in test/support/prisma-diff-cli by `npm install`. */
const PRISMA_DIFF_CLI = createRequire(requireFromTests.resolve('vigil-prisma-diff-cli/package.json')).resolve('prisma/build/index.js');

/**
 * A Prisma 6 config for `migrate diff`: the wasm engine (`engine: "js"`) on Vigil's own
 * @prisma/adapter-pg 7, connected to this test's scratch databases only, with three adjustments:
 * - the shadow database is one this test created (and drops): the adapter's own shadow database
 *   cannot be dropped at the end because the adapter still holds a connection to it;
 * - PostgreSQL's one-byte `"char"` columns (pg_constraint.confdeltype, …), which the schema
 *   describer reads, are handed over as text; adapter-pg has no column type for them;
 * - idle pooled connections don't keep the CLI alive for pg's 10 s idle timeout after it's done.
 */
function prismaDiffConfig(serverUrl: string, databases: { main: string; shadow: string }): string {
  const adapterModule = pathToFileURL(createRequire(import.meta.url).resolve('@prisma/adapter-pg')).href;
  const { hostname, port, username, password } = new URL(serverUrl);
  const server = {
    host: hostname,
    port: Number(port || 5432),
    user: decodeURIComponent(username),
    password: decodeURIComponent(password),
    allowExitOnIdle: true,
  };
  return `
import { PrismaPg } from ${JSON.stringify(adapterModule)};

const server = ${JSON.stringify(server)};
const PG_CHAR = 18;
const PG_TEXT = 25;

function readCharAsText(adapter) {
  const performIO = adapter.performIO.bind(adapter);
  adapter.performIO = async (query) => {
    const result = await performIO(query);
    for (const field of result.fields ?? []) if (field.dataTypeID === PG_CHAR) field.dataTypeID = PG_TEXT;
    return result;
  };
  return adapter;
}

class PreparedShadowPrismaPg extends PrismaPg {
  async connectToShadowDb() {
    return readCharAsText(await new PrismaPg({ ...server, database: ${JSON.stringify(databases.shadow)} }).connect());
  }
}

export default {
  experimental: { adapter: true },
  engine: 'js',
  adapter: async () => new PreparedShadowPrismaPg({ ...server, database: ${JSON.stringify(databases.main)} }),
};
`;
}

/** Prisma 6 requires a `url` in the datasource, which Prisma 7 forbids; the copy gets a dummy one. */
function withDummyDatasourceUrl(schema: string): string {
  const datasource = /datasource db \{\n  provider = "postgresql"\n\}/;
  if (!datasource.test(schema)) throw new Error('schema.prisma: datasource block not in the expected form');
  return schema.replace(datasource, 'datasource db {\n  provider = "postgresql"\n  url      = "postgresql://unused"\n}');
}

describe('database schema', () => {
  const serverUrl = inject('databaseUrl');
  let workDir: string;
  let migrated: Awaited<ReturnType<typeof createScratchDatabase>>;
  let shadow: Awaited<ReturnType<typeof createScratchDatabase>>;
  let prisma: PrismaClient;

  beforeAll(async () => {
    workDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-schema-'));
    migrated = await createScratchDatabase(serverUrl, 'vigil_schema');
    shadow = await createScratchDatabase(serverUrl, 'vigil_schema_shadow');
    await applyMigrations(migrated.url);
    prisma = createPrismaClient(migrated.url);
  });

  afterAll(async () => {
    await prisma?.$disconnect();
    await migrated?.drop();
    await shadow?.drop();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it("runs Prisma 7 as the project's prisma and Prisma 6 only as the diffing CLI", () => {
    const version = (file: string) => (requireFromTests(file) as { version: string }).version;
    expect(version('prisma/package.json')).toMatch(/^7\./);
    expect(version(path.join(path.dirname(PRISMA_DIFF_CLI), '..', 'package.json'))).toBe('6.19.3');
  });

  it('has no difference between prisma/migrations and schema.prisma, according to prisma migrate diff', async () => {
    const configFile = path.join(workDir, 'prisma.config.mjs');
    const schemaFile = path.join(workDir, 'schema.prisma');
    await writeFile(configFile, prismaDiffConfig(serverUrl, { main: migrated.name, shadow: shadow.name }));
    await writeFile(schemaFile, withDummyDatasourceUrl(await readFile(SCHEMA_FILE, 'utf8')));

    const diff = await run(
      process.execPath,
      [PRISMA_DIFF_CLI, 'migrate', 'diff', '--config', configFile, '--from-migrations', MIGRATIONS_DIR, '--to-schema-datamodel', schemaFile, '--script', '--exit-code'],
      {
        cwd: workDir,
        env: {
          ...process.env,
          // Any existing file: stops the CLI from fetching a query engine that diffing never uses.
          PRISMA_QUERY_ENGINE_LIBRARY: process.execPath,
          PRISMA_HIDE_UPDATE_MESSAGE: '1',
          CHECKPOINT_DISABLE: '1',
        },
      },
    );

    // Exit code 2 means "differences found"; stdout then holds the SQL that would close them.
    expect(diff.exitCode, `prisma migrate diff exited ${diff.exitCode}:\n${diff.stdout}\n${diff.stderr}`).toBe(0);
  });

  it('creates every index of the recovery_indexes migration', async () => {
    const rows = await withClient(migrated.url, (client) =>
      client.query<{ indexname: string }>(`SELECT indexname FROM pg_indexes WHERE schemaname = 'public'`),
    );
    expect(rows.rows.map((row) => row.indexname)).toEqual(expect.arrayContaining(RAW_SQL_INDEXES));
  });

  it('allows only one open stranded-issue recovery issue per source issue (R57, R65)', async () => {
    const company = await prisma.company.create({ data: { name: 'Acme', issuePrefix: `T${randomBytes(4).toString('hex')}` } });
    const source = await prisma.issue.create({ data: { companyId: company.id, title: 'Source', status: 'blocked' } });
    const createRecoveryIssue = () =>
      prisma.issue.create({
        data: { companyId: company.id, parentId: source.id, title: 'Recover stalled issue', status: 'todo', originKind: 'stranded_issue_recovery', originId: source.id },
      });
    const first = await createRecoveryIssue();

    await expect(createRecoveryIssue()).rejects.toMatchObject({
      code: 'P2002',
      meta: {
        driverAdapterError: {
          cause: { originalCode: '23505', constraint: { index: 'issues_active_stranded_issue_recovery_uq' } },
        },
      },
    });

    await prisma.issue.update({ where: { id: first.id }, data: { status: 'done' } });
    await expect(createRecoveryIssue()).resolves.toMatchObject({ originId: source.id, status: 'todo' });
  });
});
