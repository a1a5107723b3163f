/**
 * Vigil's configuration, read once from the environment and typed.
 * Nothing else in the code base reads `process.env`.
 */
import { defaultSupervisorDir } from './adapters/supervisor/client.ts';
import { agentHosting, DEFAULT_REATTACH_WINDOW_SEC, SHUTDOWN_MODES, type AgentHosting, type ShutdownMode } from './adapters/supervisor/agentHosting.ts';
import os from 'node:os';
import path from 'node:path';
import { STARTUP_POINTS, type StartupPoint } from './platform/startupInterrupt.ts';
import { DEFAULT_RUN_LOG_MAX_BYTES, DEFAULT_RUN_LOG_RETENTION_DAYS, RUN_LOG_MAX_BYTES_RANGE } from './domain/runLogBounds.ts';
import { loadTemporalConnectionSettings, type TemporalConnectionSettings } from './temporal/temporalConnection.ts';

/** What one Vigil process does (VIGIL_ROLE): everything, the board API only, or the worker only. */
export const VIGIL_ROLES = ['all', 'api', 'worker'] as const;
export type VigilRole = (typeof VIGIL_ROLES)[number];

export interface VigilConfig {
  /**
   * `all` (default): API, worker and, unless given, its own PostgreSQL and Temporal; `api`: the
   * REST API, SSE, /metrics and the workflow starts; `worker`: the task queue's runs and recovery
   * activities, with only a health/metrics port. `api` and `worker` need DATABASE_URL and a Temporal address.
   */
  role: VigilRole;
  /** This worker's stable identity (VIGIL_WORKER_ID; default host name + data directory), recorded on its runs. */
  workerId: string;
  /** How long a stopping worker lets running agents finish before it ends them (VIGIL_SHUTDOWN_GRACE_SEC). */
  shutdownGraceMs: number;
  /** Issue 13: the host's agent supervisor (VIGIL_SUPERVISOR_DIR, VIGIL_HOST_ID, VIGIL_REATTACH_WINDOW_SEC, VIGIL_SHUTDOWN_MODE). */
  agentHosting: AgentHosting;
  /**
   * The API URL handed to agents as VIGIL_API_URL (VIGIL_API_URL): required by a `worker`, which
   * serves no API itself; role `all` hands out its own API's URL when unset.
   */
  agentApiUrl: string | null;
  /** Where Vigil keeps its embedded PostgreSQL, Temporal SQLite file, run logs and admin token. */
  dataDir: string;
  /** External PostgreSQL; when unset Vigil starts an embedded one under `dataDir`. */
  databaseUrl: string | null;
  /** Port of the embedded PostgreSQL. */
  embeddedPgPort: number;
  /**
   * An external Temporal as Temporal's own environment configuration describes it (TEMPORAL_ADDRESS,
   * TEMPORAL_API_KEY, TEMPORAL_TLS*, a TEMPORAL_PROFILE of TEMPORAL_CONFIG_FILE, ...); null when no
   * address is configured anywhere, and Vigil starts a dev server (src/temporal/temporalConnection.ts).
   */
  temporal: TemporalConnectionSettings | null;
  temporalPort: number | null;
  temporalUiPort: number | null;
  /** Base URL of Temporal UI used for `temporalUiUrl` links (derived when Vigil starts the dev server). */
  temporalUiUrl: string | null;
  /** Explicit path to the `temporal` CLI binary. */
  temporalCliPath: string | null;
  /** Cache folder shared by every checkout on the machine (the built Temporal CLI lives here). */
  cacheDir: string;
  taskQueue: string;
  /**
   * VIGIL_INSTANCE_ID (default `vigil`): prefixes the ids of this instance's recovery sweeper and
   * heartbeat Schedules, so two Vigil instances can share one Temporal namespace.
   */
  instanceId: string;
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
  /** Issue 11: a run's log in PostgreSQL stops at this many bytes, then one marker line (VIGIL_RUN_LOG_MAX_BYTES). */
  runLogMaxBytes: number;
  /** Issue 11: how many days a run's log is kept after the run ended (VIGIL_RUN_LOG_RETENTION_DAYS). */
  runLogRetentionDays: number;
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

function intWithin(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const value = intFrom(env, name, fallback);
  if (value < min || value > max) throw new Error(`${name} must be between ${min} and ${max}, got "${env[name]}"`);
  return value;
}

function nonEmpty(value: string | undefined): string | null {
  return value && value.trim() !== '' ? value.trim() : null;
}

function instanceIdFrom(env: NodeJS.ProcessEnv): string {
  const id = nonEmpty(env.VIGIL_INSTANCE_ID) ?? 'vigil';
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(id)) throw new Error(`VIGIL_INSTANCE_ID must be 1-63 letters, digits, '.', '_' or '-', got "${id}"`);
  return id;
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
  const shutdownMode = (nonEmpty(env.VIGIL_SHUTDOWN_MODE) ?? 'detach') as ShutdownMode;
  if (!SHUTDOWN_MODES.includes(shutdownMode)) throw new Error(`VIGIL_SHUTDOWN_MODE must be one of ${SHUTDOWN_MODES.join(', ')}, got "${shutdownMode}"`);
  const role = (nonEmpty(env.VIGIL_ROLE) ?? 'all') as VigilRole;
  if (!VIGIL_ROLES.includes(role)) throw new Error(`VIGIL_ROLE must be one of ${VIGIL_ROLES.join(', ')}, got "${role}"`);
  const dataDir = path.resolve(cwd, nonEmpty(env.VIGIL_DATA_DIR) ?? '.vigil');
  const agentApiUrl = nonEmpty(env.VIGIL_API_URL);
  if (agentApiUrl !== null && !/^https?:\/\/[^/]+/.test(agentApiUrl)) throw new Error(`VIGIL_API_URL must be an http(s) URL, got "${agentApiUrl}"`);
  if (role === 'worker' && agentApiUrl === null) {
    throw new Error('VIGIL_ROLE=worker needs VIGIL_API_URL: the URL of a Vigil API (role api or all) that its agents call back');
  }
  return {
    role,
    workerId: nonEmpty(env.VIGIL_WORKER_ID) ?? `${os.hostname()}:${dataDir}`,
    shutdownGraceMs: intFrom(env, 'VIGIL_SHUTDOWN_GRACE_SEC', 30) * 1000,
    agentHosting: agentHosting({
      supervisorDir: defaultSupervisorDir(env, cwd),
      hostId: nonEmpty(env.VIGIL_HOST_ID) ?? undefined,
      reattachWindowMs: intWithin(env, 'VIGIL_REATTACH_WINDOW_SEC', DEFAULT_REATTACH_WINDOW_SEC, 1, 7 * 24 * 3600) * 1000,
      shutdownMode,
    }),
    agentApiUrl: agentApiUrl?.replace(/\/+$/, '') ?? null,
    dataDir,
    databaseUrl: nonEmpty(env.DATABASE_URL),
    embeddedPgPort: intFrom(env, 'VIGIL_PG_PORT', 54329),
    temporal: loadTemporalConnectionSettings(env),
    temporalPort: optionalIntFrom(env, 'TEMPORAL_PORT'),
    temporalUiPort: optionalIntFrom(env, 'TEMPORAL_UI_PORT'),
    temporalUiUrl: nonEmpty(env.TEMPORAL_UI_URL),
    temporalCliPath: nonEmpty(env.TEMPORAL_CLI_PATH),
    cacheDir: path.resolve(nonEmpty(env.VIGIL_CACHE_DIR) ?? path.join(xdgCache, 'vigil')),
    taskQueue: nonEmpty(env.VIGIL_TASK_QUEUE) ?? 'vigil-runs',
    instanceId: instanceIdFrom(env),
    host: nonEmpty(env.HOST) ?? '127.0.0.1',
    // A worker serves only its health/metrics port: 3101 by default, beside an API on 3100.
    port: intFrom(env, 'PORT', role === 'worker' ? 3101 : 3100),
    adminToken: nonEmpty(env.VIGIL_ADMIN_TOKEN),
    runTokenSecret: nonEmpty(env.VIGIL_RUN_TOKEN_SECRET),
    dbPoolSize: intFrom(env, 'VIGIL_DB_POOL_SIZE', 20),
    adapterHeartbeatTimeoutMs: intFrom(env, 'VIGIL_ADAPTER_HEARTBEAT_TIMEOUT_MS', 10_000),
    recoveryIntervalMs: Math.max(10_000, intFrom(env, 'VIGIL_RECOVERY_INTERVAL_MS', 30_000)),
    logLevel,
    temporalMetricsPort: optionalIntFrom(env, 'VIGIL_TEMPORAL_METRICS_PORT'),
    liveEventsRetentionMs: Math.max(1, intFrom(env, 'VIGIL_LIVE_EVENTS_RETENTION_HOURS', 24)) * 60 * 60 * 1000,
    runLogMaxBytes: intWithin(env, 'VIGIL_RUN_LOG_MAX_BYTES', DEFAULT_RUN_LOG_MAX_BYTES, RUN_LOG_MAX_BYTES_RANGE.min, RUN_LOG_MAX_BYTES_RANGE.max),
    runLogRetentionDays: intWithin(env, 'VIGIL_RUN_LOG_RETENTION_DAYS', DEFAULT_RUN_LOG_RETENTION_DAYS, 1, 36_500),
    startupPauseAt: startupPauseAt as StartupPoint | null,
  };
}
