/**
 * A real Vigil for one test file: the API on 127.0.0.1:<random port> and a worker on a task queue
 * of its own, against the PostgreSQL and Temporal server of the global setup.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { startVigil, type RunningVigil, type StartVigilOptions } from '../../src/vigil.ts';
import { generateAdminToken } from '../../src/auth/tokens.ts';
import { createLogger, type Logger, type LogLevel } from '../../src/logger.ts';
import { installTemporalRuntime } from '../../src/temporal/runtime.ts';
import { findFreePorts } from '../../src/platform/freePorts.ts';
import { plainTemporalConnection } from '../../src/temporal/temporalConnection.ts';
import { ApiClient } from './apiClient.ts';

export const TEST_TEMPORAL_UI_URL = 'http://127.0.0.1:8233';

export interface TestVigil {
  vigil: RunningVigil;
  /** Client authenticated as the instance admin. */
  admin: ApiClient;
  apiUrl: string;
  adminToken: string;
  dataDir: string;
  taskQueue: string;
  stop(): Promise<void>;
}

/**
 * The process's one Temporal runtime (installed with the first Vigil): the SDK's lines go to the
 * capturing Vigils' `onLogLine` (as JSON, through Vigil's logger), errors also to stderr; the
 * worker's metrics are served on a free 127.0.0.1 port.
 */
let temporalMetricsUrl: string | null | undefined;
const sdkLineSinks = new Set<(line: string) => void>();

async function ensureTemporalRuntime(): Promise<string | null> {
  if (temporalMetricsUrl === undefined) {
    const [port] = await findFreePorts(1);
    const captured = createLogger('debug', {}, (line) => {
      for (const sink of sdkLineSinks) sink(line);
    });
    const stderr = createLogger('error');
    const sdkLogger: Logger = {
      debug: (message, fields) => captured.debug(message, fields),
      info: (message, fields) => captured.info(message, fields),
      warn: (message, fields) => captured.warn(message, fields),
      error: (message, fields) => {
        captured.error(message, fields);
        stderr.error(message, fields);
      },
      child: () => sdkLogger,
      enabled: (level) => level === 'error' || sdkLineSinks.size > 0,
    };
    temporalMetricsUrl = installTemporalRuntime({ logger: sdkLogger, metricsBindAddress: `127.0.0.1:${port}` }).metricsUrl;
  }
  return temporalMetricsUrl;
}

export interface TestVigilOptions {
  adapterHeartbeatTimeoutMs?: number;
  taskQueue?: string;
  /** Every JSON log line of this Vigil — and of the process's Temporal SDK while it runs — instead of stderr. */
  onLogLine?: (line: string) => void;
  /** Another database on the test run's server (a scratch one), instead of the shared one. */
  databaseUrl?: string;
  /** The live-event hub's cadence (e.g. a poll so slow that only notifications can deliver). */
  liveEvents?: StartVigilOptions['liveEvents'];
  /** With `onLogLine`: the lowest level captured (default debug). */
  logLevel?: LogLevel;
  /** R68's recovery sweeper, as `npm start` runs it (off by default: each test file sweeps its own company). */
  recoverySweeper?: StartVigilOptions['recoverySweeper'];
  /** R70's per-agent heartbeat Schedules (off by default: a schedule outlives its test's worker). */
  timerHeartbeats?: StartVigilOptions['timerHeartbeats'];
  /** How long a stop lets running agents finish (default 1 s: tests rarely wait on a drain). */
  shutdownGraceMs?: number;
  /**
   * Issue 13: host id, reattach window and shutdown mode. Default `kill`: a test's Vigil ends its
   * agents when it stops (a test of detaching says so), in the run's own supervisor directory.
   */
  agentHosting?: StartVigilOptions['agentHosting'];
}

/**
 * What every Vigil of a test starts with, in this process or its own (support/vigilProcess.ts):
 * the global setup's servers and workflow bundle, the API on a free 127.0.0.1 port, a short grace.
 */
export function testVigilSettings(own: { taskQueue: string; dataDir: string; adminToken: string; adapterHeartbeatTimeoutMs?: number; databaseUrl?: string }) {
  return {
    databaseUrl: own.databaseUrl ?? inject('databaseUrl'),
    temporal: plainTemporalConnection(inject('temporalAddress'), inject('temporalNamespace'), 'the test setup'),
    temporalUiUrl: null as string | null,
    taskQueue: own.taskQueue,
    dataDir: own.dataDir,
    adminToken: own.adminToken,
    runTokenSecret: null,
    adapterHeartbeatTimeoutMs: own.adapterHeartbeatTimeoutMs ?? 5_000,
    host: '127.0.0.1',
    port: 0,
    workflowBundlePath: inject('workflowBundlePath'),
    shutdownGraceMs: 1_000,
    agentHosting: { shutdownMode: 'kill' } as StartVigilOptions['agentHosting'],
  };
}

export async function startTestVigil(options: TestVigilOptions = {}): Promise<TestVigil> {
  const metricsUrl = await ensureTemporalRuntime();
  const onLogLine = options.onLogLine;
  if (onLogLine) sdkLineSinks.add(onLogLine);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-file-'));
  const adminToken = generateAdminToken();
  const taskQueue = options.taskQueue ?? `vigil-test-${randomUUID()}`;
  const vigil = await startVigil({
    ...testVigilSettings({ taskQueue, dataDir, adminToken, adapterHeartbeatTimeoutMs: options.adapterHeartbeatTimeoutMs, databaseUrl: options.databaseUrl }),
    temporalUiUrl: TEST_TEMPORAL_UI_URL,
    logger: onLogLine ? createLogger(options.logLevel ?? 'debug', {}, onLogLine) : createLogger('warn'),
    temporalMetricsUrl: metricsUrl,
    liveEvents: options.liveEvents,
    recoverySweeper: options.recoverySweeper,
    timerHeartbeats: options.timerHeartbeats,
    ...(options.shutdownGraceMs !== undefined ? { shutdownGraceMs: options.shutdownGraceMs } : {}),
    agentHosting: { shutdownMode: 'kill', ...options.agentHosting },
  });
  return {
    vigil,
    admin: new ApiClient(vigil.apiUrl, adminToken),
    apiUrl: vigil.apiUrl,
    adminToken,
    dataDir,
    taskQueue,
    stop: async () => {
      await vigil.stop();
      if (onLogLine) sdkLineSinks.delete(onLogLine);
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
