/**
 * Vigil's configuration, read once from the environment and typed.
 * Nothing else in the code base reads `process.env`.
 */
import os from 'node:os';
import path from 'node:path';
import { STARTUP_POINTS, type StartupPoint } from './platform/startupInterrupt.ts';

export interface VigilConfig {
  /** Where Vigil keeps its embedded PostgreSQL, Temporal SQLite file, run logs and admin token. */
  dataDir: string;
  /** External PostgreSQL; when unset Vigil starts an embedded one under `dataDir`. */
  databaseUrl: string | null;
  /** Port of the embedded PostgreSQL. */
  embeddedPgPort: number;
  /** External Temporal frontend (`host:port`); when unset Vigil starts a dev server. */
  temporalAddress: string | null;
  temporalNamespace: string;
  temporalPort: number | null;
  temporalUiPort: number | null;
  /** Base URL of Temporal UI used for `temporalUiUrl` links (derived when Vigil starts the dev server). */
  temporalUiUrl: string | null;
  /** Explicit path to the `temporal` CLI binary. */
  temporalCliPath: string | null;
  /** Cache folder shared by every checkout on the machine (the built Temporal CLI lives here). */
  cacheDir: string;
  taskQueue: string;
  host: string;
  port: number;
  adminToken: string | null;
  /** Secret that signs run tokens; generated into the database when unset. */
  runTokenSecret: string | null;
  /** Connections in Vigil's PostgreSQL pool (claims and finalizes each hold one briefly). */
  dbPoolSize: number;
  /** Heartbeat timeout of the adapter activity: a worker that dies surfaces after this long. */
  adapterHeartbeatTimeoutMs: number;
  /** R68: how often the recovery sweeper runs its chain; at least 10 s. */
  recoveryIntervalMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  /**
   * Port of the Temporal worker's own Prometheus endpoint on 127.0.0.1, which `GET /metrics`
   * appends; when unset a free port is picked at start.
   */
  temporalMetricsPort: number | null;
  /** How long `live_events` rows are kept: how long a board may stay away and still resume (Last-Event-ID). */
  liveEventsRetentionMs: number;
  /**
   * VIGIL_STARTUP_PAUSE_AT, a test hook: `npm start` holds its start-up at this point until it is
   * asked to stop, so a test can signal it exactly there (test/platform/startupSignals.test.ts).
   */
  startupPauseAt: StartupPoint | null;
}

function intFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  }
  return value;
}

function optionalIntFrom(env: NodeJS.ProcessEnv, name: string): number | null {
  return env[name] ? intFrom(env, name, 0) : null;
}

function nonEmpty(value: string | undefined): string | null {
  return value && value.trim() !== '' ? value.trim() : null;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): VigilConfig {
  const xdgCache = nonEmpty(env.XDG_CACHE_HOME) ?? path.join(os.homedir(), '.cache');
  const logLevel = (nonEmpty(env.VIGIL_LOG_LEVEL) ?? 'info') as VigilConfig['logLevel'];
  if (!['debug', 'info', 'warn', 'error'].includes(logLevel)) {
    throw new Error(`VIGIL_LOG_LEVEL must be one of debug, info, warn, error, got "${logLevel}"`);
  }
  const startupPauseAt = nonEmpty(env.VIGIL_STARTUP_PAUSE_AT);
  if (startupPauseAt !== null && !(STARTUP_POINTS as readonly string[]).includes(startupPauseAt)) {
    throw new Error(`VIGIL_STARTUP_PAUSE_AT must be one of ${STARTUP_POINTS.join(', ')}, got "${startupPauseAt}"`);
  }
  return {
    dataDir: path.resolve(cwd, nonEmpty(env.VIGIL_DATA_DIR) ?? '.vigil'),
    databaseUrl: nonEmpty(env.DATABASE_URL),
    embeddedPgPort: intFrom(env, 'VIGIL_PG_PORT', 54329),
    temporalAddress: nonEmpty(env.TEMPORAL_ADDRESS),
    temporalNamespace: nonEmpty(env.TEMPORAL_NAMESPACE) ?? 'default',
    temporalPort: optionalIntFrom(env, 'TEMPORAL_PORT'),
    temporalUiPort: optionalIntFrom(env, 'TEMPORAL_UI_PORT'),
    temporalUiUrl: nonEmpty(env.TEMPORAL_UI_URL),
    temporalCliPath: nonEmpty(env.TEMPORAL_CLI_PATH),
    cacheDir: path.resolve(nonEmpty(env.VIGIL_CACHE_DIR) ?? path.join(xdgCache, 'vigil')),
    taskQueue: nonEmpty(env.VIGIL_TASK_QUEUE) ?? 'vigil-runs',
    host: nonEmpty(env.HOST) ?? '127.0.0.1',
    port: intFrom(env, 'PORT', 3100),
    adminToken: nonEmpty(env.VIGIL_ADMIN_TOKEN),
    runTokenSecret: nonEmpty(env.VIGIL_RUN_TOKEN_SECRET),
    dbPoolSize: intFrom(env, 'VIGIL_DB_POOL_SIZE', 20),
    adapterHeartbeatTimeoutMs: intFrom(env, 'VIGIL_ADAPTER_HEARTBEAT_TIMEOUT_MS', 10_000),
    recoveryIntervalMs: Math.max(10_000, intFrom(env, 'VIGIL_RECOVERY_INTERVAL_MS', 30_000)),
    logLevel,
    temporalMetricsPort: optionalIntFrom(env, 'VIGIL_TEMPORAL_METRICS_PORT'),
    liveEventsRetentionMs: Math.max(1, intFrom(env, 'VIGIL_LIVE_EVENTS_RETENTION_HOURS', 24)) * 60 * 60 * 1000,
    startupPauseAt: startupPauseAt as StartupPoint | null,
  };
}
