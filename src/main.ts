/**
 * `npm start`: bring up everything Vigil needs on embedded defaults and print where it is.
 * PostgreSQL (embedded unless DATABASE_URL), migrations, a Temporal dev server (unless
 * TEMPORAL_ADDRESS), the worker and the API. SIGINT (Ctrl-C), SIGTERM or SIGHUP at any moment,
 * start-up included, stops what this process started, newest first (src/processLifecycle.ts).
 * With VIGIL_ROLE=api or worker, only that part, against the DATABASE_URL and Temporal it is given.
 *
 * Exit status: 0 once a requested stop has stopped everything, whether start-up had finished or
 * not; 1 when start-up failed, or a stop did not complete; 128 + signal (130 for SIGINT, 143 for
 * SIGTERM) when a second signal cut the stop short.
 */
import { mkdir } from 'node:fs/promises';
import { loadConfig, type VigilConfig } from './config.ts';
import { createLogger } from './logger.ts';
import { startEmbeddedPostgres } from './store/embeddedPostgres.ts';
import { applyMigrations } from './store/migrate.ts';
import { resolveTemporalCli } from './temporal/temporalCli.ts';
import { loadTemporalDevConfig } from './temporal/devServerConfig.ts';
import { startTemporalDevServer } from './temporal/devServer.ts';
import { ensureSearchAttributes } from './temporal/searchAttributes.ts';
import { describeTemporalConnection, plainTemporalConnection } from './temporal/temporalConnection.ts';
import { connectClient } from './temporal/temporalConnect.ts';
import { resolveAdminToken } from './adminToken.ts';
import { startVigil } from './vigil.ts';
import { installTemporalRuntime } from './temporal/runtime.ts';
import { findFreePorts } from './platform/freePorts.ts';
import { ProcessLifecycle } from './processLifecycle.ts';

const say = (line: string) => process.stdout.write(`[vigil] ${line}\n`);

async function main(): Promise<number> {
  let config: VigilConfig;
  try {
    config = loadConfig();
  } catch (error) {
    process.stderr.write(`[vigil] failed to start: ${(error as Error).message}\n`);
    return 1;
  }
  if (config.role !== 'all' && (!config.databaseUrl || !config.temporal)) {
    process.stderr.write(`[vigil] failed to start: VIGIL_ROLE=${config.role} runs against a shared PostgreSQL and Temporal: set DATABASE_URL and TEMPORAL_ADDRESS (or a Temporal profile) (only role all starts embedded ones)\n`);
    return 1;
  }
  const lifecycle = new ProcessLifecycle(say, config.startupPauseAt);
  lifecycle.installSignalHandlers();

  let failed = false;
  try {
    await startEverything(config, lifecycle);
    lifecycle.ready();
    say('Ready. Ctrl-C stops everything this process started.');
    await lifecycle.stopRequested();
  } catch (error) {
    if (!lifecycle.stopping) {
      failed = true;
      process.stderr.write(`[vigil] failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
    }
  }
  const clean = await lifecycle.stopAll();
  if (lifecycle.stopping) say(clean ? 'stopped' : 'stopped, but not everything: see above');
  return failed || !clean ? 1 : 0;
}

const ROLE_PARTS = { all: 'the API and the worker', api: 'the API', worker: 'the worker' } as const;

async function startEverything(config: VigilConfig, lifecycle: ProcessLifecycle): Promise<void> {
  const { interrupt } = lifecycle;
  const logger = createLogger(config.logLevel);
  // Once per process, before any Temporal connection: SDK lines through Vigil's JSON logger, and
  // the worker's own metrics on a local port that GET /metrics appends.
  const [temporalMetricsPort] = config.temporalMetricsPort !== null ? [config.temporalMetricsPort] : await findFreePorts(1);
  const temporalRuntime = installTemporalRuntime({ logger, metricsBindAddress: `127.0.0.1:${temporalMetricsPort}` });
  await mkdir(config.dataDir, { recursive: true });

  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const pg = await lifecycle.step(
      'postgres',
      () => startEmbeddedPostgres({ dataDir: config.dataDir, port: config.embeddedPgPort, log: say, interrupt }),
      (pg) => ({ what: 'PostgreSQL', stop: pg.stop }),
    );
    databaseUrl = pg.databaseUrl;
  } else {
    say('PostgreSQL: using DATABASE_URL');
  }
  const migrations = await lifecycle.step('migrations', () => applyMigrations(databaseUrl, { log: say }));
  say(`migrations: ${migrations.applied.length ? `applied ${migrations.applied.join(', ')}` : 'up to date'}`);

  let temporal = config.temporal;
  let temporalUiUrl = config.temporalUiUrl;
  if (!temporal) {
    const binary = await lifecycle.step('temporal-cli', () =>
      resolveTemporalCli({ explicitPath: config.temporalCliPath, cacheDir: config.cacheDir, log: say, signal: interrupt.signal }),
    );
    const server = await lifecycle.step(
      'temporal',
      () =>
        startTemporalDevServer({
          binary,
          config: loadTemporalDevConfig(),
          dataDir: config.dataDir,
          port: config.temporalPort,
          uiPort: config.temporalUiPort,
          log: say,
          interrupt,
        }),
      (server) => ({ what: 'the Temporal dev server', stop: server.stop }),
    );
    temporal = plainTemporalConnection(server.address, server.namespace);
    temporalUiUrl ??= server.uiUrl;
  } else {
    const external = temporal;
    await lifecycle.step('temporal', async () => {
      const connection = await connectClient(external);
      await ensureSearchAttributes(connection, external.namespace);
      await connection.close();
    });
    say(`Temporal: using ${describeTemporalConnection(external)}`);
  }

  // A worker serves no board routes: it needs no admin token.
  const admin = config.role === 'worker' ? { token: '', generated: false } : await resolveAdminToken(config.dataDir, config.adminToken);
  const vigil = await lifecycle.step(
    'api',
    () =>
      startVigil({
        role: config.role,
        workerId: config.workerId,
        agentApiUrl: config.agentApiUrl,
        shutdownGraceMs: config.shutdownGraceMs,
        agentHosting: config.agentHosting,
        databaseUrl,
        temporal,
        temporalUiUrl,
        taskQueue: config.taskQueue,
        dataDir: config.dataDir,
        adminToken: admin.token,
        runTokenSecret: config.runTokenSecret,
        adapterHeartbeatTimeoutMs: config.adapterHeartbeatTimeoutMs,
        recoverySweeper: { idPrefix: `${config.instanceId}-`, intervalMs: config.recoveryIntervalMs, runAtStartup: true },
        timerHeartbeats: { idPrefix: `${config.instanceId}-`, reconcileAtStartup: true },
        dbPoolSize: config.dbPoolSize,
        host: config.host,
        port: config.port,
        logger,
        temporalMetricsUrl: temporalRuntime.metricsUrl,
        liveEvents: { retentionMs: config.liveEventsRetentionMs },
        runLogs: { maxBytes: config.runLogMaxBytes, retentionDays: config.runLogRetentionDays },
        interrupt,
        phase: () => lifecycle.phase,
      }),
    (vigil) => ({ what: ROLE_PARTS[config.role], stop: vigil.stop }),
  );
  if (config.role !== 'worker') {
    // Runs committed while Temporal was out of reach (or before a crash) get their workflows now.
    const resumed = await lifecycle.step(null, () => vigil.runControl.resumeQueuedRuns());
    if (resumed > 0) say(`started the workflows of ${resumed} queued run(s)`);
  }

  say(`Role:        ${config.role}${config.role === 'api' ? '' : ` (worker ${config.workerId}, on SIGTERM agents ${config.agentHosting.shutdownMode === 'detach' ? `detach for the next worker of host ${config.agentHosting.hostId}` : `get ${config.shutdownGraceMs / 1000} s, then are ended`})`}`);
  if (config.role === 'worker') say(`Health:      ${vigil.apiUrl}/api/ready (agents call ${config.agentApiUrl})`);
  else say(`API:         ${vigil.apiUrl}/api`);
  say(`Metrics:     ${vigil.apiUrl}/metrics (Prometheus text, no authentication)`);
  say(`Temporal UI: ${temporalUiUrl ?? '(not available)'}`);
  say(`Temporal:    ${temporal.address} (namespace ${temporal.namespace}, task queue ${config.taskQueue})`);
  say(`Data:        ${config.dataDir}`);
  if (admin.generated) say(`Admin token (first start; kept in ${config.dataDir}/admin-token): ${admin.token}`);
}

void main().then((code) => process.exit(code));
