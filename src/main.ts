/**
 * `npm start`: bring up everything Vigil needs on embedded defaults and print where it is.
 * PostgreSQL (embedded unless DATABASE_URL), migrations, a Temporal dev server (unless
 * TEMPORAL_ADDRESS), the worker and the API. Ctrl-C stops what this process started.
 */
import { mkdir } from 'node:fs/promises';
import { Connection } from '@temporalio/client';
import { loadConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { startEmbeddedPostgres } from './store/embeddedPostgres.ts';
import { applyMigrations } from './store/migrate.ts';
import { resolveTemporalCli } from './temporal/temporalCli.ts';
import { loadTemporalDevConfig } from './temporal/devServerConfig.ts';
import { startTemporalDevServer } from './temporal/devServer.ts';
import { ensureSearchAttributes } from './temporal/searchAttributes.ts';
import { resolveAdminToken } from './adminToken.ts';
import { startVigil } from './vigil.ts';
import { installTemporalRuntime } from './temporal/runtime.ts';
import { findFreePorts } from './platform/processes.ts';

const say = (line: string) => process.stdout.write(`[vigil] ${line}\n`);

/** What this process started, newest first: stopped on Ctrl-C, or when a later step fails. */
const stops: Array<() => Promise<void>> = [];

async function stopAll() {
  for (const stop of stops.splice(0)) {
    await stop().catch((error) => process.stderr.write(`[vigil] stop failed: ${String(error)}\n`));
  }
}

async function main() {
  const config = loadConfig();
  const logger = createLogger(config.logLevel);
  // Once per process, before any Temporal connection: SDK lines through Vigil's JSON logger, and
  // the worker's own metrics on a local port that GET /metrics appends.
  const [temporalMetricsPort] = config.temporalMetricsPort !== null ? [config.temporalMetricsPort] : await findFreePorts(1);
  const temporalRuntime = installTemporalRuntime({ logger, metricsBindAddress: `127.0.0.1:${temporalMetricsPort}` });
  await mkdir(config.dataDir, { recursive: true });

  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const pg = await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, log: say });
    stops.unshift(pg.stop);
    databaseUrl = pg.databaseUrl;
  } else {
    say('PostgreSQL: using DATABASE_URL');
  }
  const migrations = await applyMigrations(databaseUrl, { log: say });
  say(`migrations: ${migrations.applied.length ? `applied ${migrations.applied.join(', ')}` : 'up to date'}`);

  let temporalAddress = config.temporalAddress;
  let temporalUiUrl = config.temporalUiUrl;
  let namespace = config.temporalNamespace;
  if (!temporalAddress) {
    const binary = await resolveTemporalCli({ explicitPath: config.temporalCliPath, cacheDir: config.cacheDir, log: say });
    const devConfig = loadTemporalDevConfig();
    const server = await startTemporalDevServer({
      binary,
      config: devConfig,
      dataDir: config.dataDir,
      port: config.temporalPort,
      uiPort: config.temporalUiPort,
      log: say,
    });
    stops.unshift(server.stop);
    temporalAddress = server.address;
    temporalUiUrl ??= server.uiUrl;
    namespace = server.namespace;
  } else {
    const connection = await Connection.connect({ address: temporalAddress });
    await ensureSearchAttributes(connection, namespace);
    await connection.close();
    say(`Temporal: using TEMPORAL_ADDRESS ${temporalAddress}`);
  }

  const admin = await resolveAdminToken(config.dataDir, config.adminToken);
  const vigil = await startVigil({
    databaseUrl,
    temporalAddress,
    temporalNamespace: namespace,
    temporalUiUrl,
    taskQueue: config.taskQueue,
    dataDir: config.dataDir,
    adminToken: admin.token,
    runTokenSecret: config.runTokenSecret,
    adapterHeartbeatTimeoutMs: config.adapterHeartbeatTimeoutMs,
    recoverySweeper: { idPrefix: 'vigil-', intervalMs: config.recoveryIntervalMs, runAtStartup: true },
    dbPoolSize: config.dbPoolSize,
    host: config.host,
    port: config.port,
    logger,
    temporalMetricsUrl: temporalRuntime.metricsUrl,
    liveEvents: { retentionMs: config.liveEventsRetentionMs },
  });
  stops.unshift(vigil.stop);
  // Runs committed while Temporal was out of reach (or before a crash) get their workflows now.
  const resumed = await vigil.runControl.resumeQueuedRuns();
  if (resumed > 0) say(`started the workflows of ${resumed} queued run(s)`);

  say(`API:         ${vigil.apiUrl}/api`);
  say(`Metrics:     ${vigil.apiUrl}/metrics (Prometheus text, no authentication)`);
  say(`Temporal UI: ${temporalUiUrl ?? '(not available)'}`);
  say(`Temporal:    ${temporalAddress} (namespace ${namespace}, task queue ${config.taskQueue})`);
  say(`Data:        ${config.dataDir}`);
  if (admin.generated) say(`Admin token (first start; kept in ${config.dataDir}/admin-token): ${admin.token}`);
  say('Ready. Ctrl-C stops everything this process started.');

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping…`);
    await stopAll();
    say('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch(async (error) => {
  process.stderr.write(`[vigil] failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  await stopAll();
  process.exit(1);
});
