/**
 * What every benchmark stands on: its own embedded PostgreSQL (migrated) and an in-memory Temporal
 * dev server, on free ports in a temporary folder, so a benchmark never touches `.vigil`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig } from '../src/config.ts';
import { startEmbeddedPostgres } from '../src/store/embeddedPostgres.ts';
import { applyMigrations } from '../src/store/migrate.ts';
import { resolveTemporalCli } from '../src/temporal/temporalCli.ts';
import { loadTemporalDevConfig } from '../src/temporal/devServerConfig.ts';
import { startTemporalDevServer } from '../src/temporal/devServer.ts';
import { findFreePorts } from '../src/platform/freePorts.ts';

export async function startBenchServers(name: string, log: (line: string) => void) {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const config = loadConfig();
  const root = await mkdtemp(path.join(os.tmpdir(), `${name}-`));
  // The agents' supervisor (issue 13) keeps its files in the bench's own folder, removed at the end,
  // unless the benchmark chose one itself; worker processes it starts inherit the choice.
  process.env.VIGIL_SUPERVISOR_DIR ??= path.join(root, 'supervisor');
  const [pgPort, temporalPort, uiPort] = await findFreePorts(3);
  const pg = await startEmbeddedPostgres({ dataDir: root, port: pgPort, log });
  await applyMigrations(pg.databaseUrl);
  const binary = await resolveTemporalCli({ explicitPath: config.temporalCliPath, cacheDir: config.cacheDir, log });
  const temporal = await startTemporalDevServer({ binary, config: loadTemporalDevConfig(), dataDir: null, port: temporalPort, uiPort, headless: true, log });
  return {
    root,
    databaseUrl: pg.databaseUrl,
    temporal,
    dbPoolSize: config.dbPoolSize,
    async stop() {
      await temporal.stop();
      await pg.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
