/**
 * Vigil's running parts wired together: Prisma, the Temporal client, the worker and the API.
 * `npm start` (src/main.ts) calls this after bringing up PostgreSQL and Temporal; the tests call
 * it against the servers their global setup started.
 */
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, type Worker } from '@temporalio/worker';
import { createPrismaClient, type PrismaClient } from './store/db.ts';
import { RunLogStore } from './store/runLogStore.ts';
import { loadRunTokenSecret } from './auth/tokens.ts';
import { createRunActivities } from './activities/index.ts';
import type { ActivityDeps, Telemetry } from './activities/deps.ts';
import { createRunWorker } from './temporal/worker.ts';
import { createRunExecutions } from './temporal/runExecutions.ts';
import { ensureRecoverySweeper, runStartupRecovery, type RecoverySweeperOptions } from './temporal/recoverySweeperClient.ts';
import { HeartbeatSchedules, type HeartbeatScheduleOptions } from './temporal/heartbeatSchedules.ts';
import { timerHeartbeatTexts } from './domain/texts.ts';
import { createApp } from './api/app.ts';
import { RunControl } from './api/runControl.ts';
import { LiveEventHub, type LiveEventHubOptions } from './live/liveEventHub.ts';
import type { Logger } from './logger.ts';
import { runCompanies, withRunContext } from './runLogContext.ts';
import { createVigilMetrics, type VigilMetrics } from './metrics/vigilMetrics.ts';
import type { LifecyclePhase, StartupInterrupt } from './platform/startupInterrupt.ts';

export interface StartVigilOptions {
  databaseUrl: string;
  temporalAddress: string;
  temporalNamespace: string;
  temporalUiUrl: string | null;
  taskQueue: string;
  dataDir: string;
  adminToken: string;
  runTokenSecret: string | null;
  adapterHeartbeatTimeoutMs: number;
  /** PostgreSQL connections in the pool. */
  dbPoolSize?: number;
  host: string;
  port: number;
  logger: Logger;
  workflowBundlePath?: string;
  maxConcurrentRuns?: number;
  shutdownGraceMs?: number;
  telemetry?: Telemetry;
  /** The Temporal worker's Prometheus endpoint (`temporal/runtime.ts`), appended to `GET /metrics`. */
  temporalMetricsUrl?: string | null;
  /** R68's recovery sweeper (temporal/recoverySweeperClient.ts), with its startup pass; off unless given. */
  recoverySweeper?: Omit<RecoverySweeperOptions, 'taskQueue'> & { runAtStartup: boolean };
  /**
   * R70's timer heartbeats, one Temporal Schedule per agent (temporal/heartbeatSchedules.ts): kept
   * in step by the agent routes, and reconciled in the background at start; off unless given.
   */
  timerHeartbeats?: Omit<HeartbeatScheduleOptions, 'taskQueue'> & { reconcileAtStartup: boolean };
  /** The live channel's retention and read cadence (defaults in live/liveEventHub.ts). */
  liveEvents?: Omit<LiveEventHubOptions, 'prisma' | 'databaseUrl' | 'logger'>;
  /**
   * `npm start`'s stop request: checked before the worker (and its workflow bundle); an
   * interrupted or failed start closes what it opened and throws.
   */
  interrupt?: StartupInterrupt;
  /**
   * The process's phase for `GET /api/health`, which answers `ok` only when `ready`. `npm start`
   * passes its own (ready once everything started); by default, ready once startVigil returned.
   */
  phase?: () => LifecyclePhase;
}

export interface RunningVigil {
  prisma: PrismaClient;
  temporal: Client;
  apiUrl: string;
  runControl: RunControl;
  worker: Worker;
  metrics: VigilMetrics;
  liveEvents: LiveEventHub;
  /** The agents' heartbeat Schedules; null when `timerHeartbeats` was not given. */
  heartbeatSchedules: HeartbeatSchedules | null;
  stop(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server.address() as AddressInfo));
  });
}

export async function startVigil(options: StartVigilOptions): Promise<RunningVigil> {
  // What is open so far, closed newest first when the start fails or is interrupted.
  const opened: Array<() => Promise<unknown>> = [];
  try {
    return await assembleVigil(options, opened);
  } catch (error) {
    for (const close of opened.reverse()) await close().catch(() => undefined);
    throw error;
  }
}

async function assembleVigil(options: StartVigilOptions, opened: Array<() => Promise<unknown>>): Promise<RunningVigil> {
  // Lines about a run get its workflowId and companyId (runLogContext.ts).
  const logger = withRunContext(options.logger);
  const prisma = createPrismaClient(options.databaseUrl, options.dbPoolSize);
  opened.push(() => prisma.$disconnect());
  const metrics = createVigilMetrics({ prisma });
  const stopCompanyLookup = runCompanies.useLookup(async (runId) => (await prisma.heartbeatRun.findUnique({ where: { id: runId }, select: { companyId: true } }))?.companyId ?? null);
  opened.push(async () => stopCompanyLookup());
  const runTokenSecret = await loadRunTokenSecret(prisma, options.runTokenSecret);
  const logStore = new RunLogStore(path.join(options.dataDir, 'run-logs'));
  const clientConnection = await Connection.connect({ address: options.temporalAddress });
  opened.push(() => clientConnection.close());
  const temporal = new Client({ connection: clientConnection, namespace: options.temporalNamespace });
  const telemetry: Telemetry = options.telemetry ?? {
    agentFirstHeartbeat: (event) => logger.info('agent first heartbeat', event),
  };
  const workflowSettings = { taskQueue: options.taskQueue, adapterHeartbeatTimeoutMs: options.adapterHeartbeatTimeoutMs };

  // The API listens first: the activities hand its URL to every agent process.
  const executions = createRunExecutions(temporal, prisma, workflowSettings);
  const activityDeps: ActivityDeps = { prisma, logStore, runTokenSecret, apiUrl: '', telemetry, logger, executions, metrics };
  const runControl = new RunControl({ prisma, temporal, workflowSettings, activityDeps, logger });
  const heartbeatSchedules = options.timerHeartbeats
    ? new HeartbeatSchedules({ client: temporal, prisma, logger }, { taskQueue: options.taskQueue, idPrefix: options.timerHeartbeats.idPrefix, companyId: options.timerHeartbeats.companyId })
    : null;
  const liveEvents = new LiveEventHub({ ...options.liveEvents, prisma, databaseUrl: options.databaseUrl, logger });
  opened.push(() => liveEvents.stop());
  await liveEvents.start();
  let assembled = false;
  const app = createApp({
    prisma,
    activityDeps,
    runControl,
    logStore,
    logger,
    adminToken: options.adminToken,
    runTokenSecret,
    temporalNamespace: options.temporalNamespace,
    temporalUiUrl: options.temporalUiUrl,
    metrics,
    temporalMetricsUrl: options.temporalMetricsUrl ?? null,
    liveEvents,
    heartbeatSchedules,
    checkTemporal: async () => {
      await clientConnection.workflowService.getSystemInfo({});
      return true;
    },
    lifecyclePhase: options.phase ?? (() => (assembled ? 'ready' : 'starting')),
  });
  const server = createServer(app);
  const address = await listen(server, options.host, options.port);
  opened.push(() => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    return closed;
  });
  const agentHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  const apiUrl = `http://${agentHost.includes(':') ? `[${agentHost}]` : agentHost}:${address.port}`;
  activityDeps.apiUrl = apiUrl;

  await options.interrupt?.checkpoint('worker');
  const workerConnection = await NativeConnection.connect({ address: options.temporalAddress });
  opened.push(() => workerConnection.close());
  const worker = await createRunWorker({
    connection: workerConnection,
    namespace: options.temporalNamespace,
    taskQueue: options.taskQueue,
    activities: createRunActivities(activityDeps),
    workflowBundlePath: options.workflowBundlePath,
    maxConcurrentRuns: options.maxConcurrentRuns ?? 50,
    shutdownGraceMs: options.shutdownGraceMs ?? 30_000,
    logger,
  });
  // The bundle took seconds: a stop asked meanwhile ends the start before the worker polls.
  options.interrupt?.signal.throwIfAborted();
  const workerRun = worker.run().catch((error) => {
    logger.error('worker stopped with an error', { error: error instanceof Error ? error.message : String(error) });
  });
  opened.push(async () => {
    if (worker.getState() === 'RUNNING') worker.shutdown();
    await workerRun;
  });
  // The startup pass runs in the background and waits on the sweeper's answer; stop() aborts
  // that wait before closing the client, or its gRPC retry would fire on a closed channel and
  // throw out of a timer (seen as exit code 1 on Ctrl-C under load).
  const startupAbort = new AbortController();
  let startupRecovery: Promise<void> = Promise.resolve();
  if (options.recoverySweeper) {
    const { runAtStartup, ...sweeper } = options.recoverySweeper;
    await ensureRecoverySweeper(temporal, { taskQueue: options.taskQueue, ...sweeper }, logger);
    if (runAtStartup) {
      startupRecovery = temporal.withAbortSignal(startupAbort.signal, () => runStartupRecovery(temporal, sweeper.idPrefix)).then(
        (pass) => logger.info('startup recovery pass done', { durationMs: pass.durationMs, failedSteps: pass.failedSteps, ...pass.counts }),
        (error) => {
          if (!startupAbort.signal.aborted) logger.error('startup recovery failed', { error: error instanceof Error ? error.message : String(error) });
        },
      );
    }
  }

  // R70: a database changed while no Vigil ran (or a route's Temporal call that failed) is
  // corrected here: every agent's desired heartbeat Schedule against Temporal's list.
  let startupReconcile: Promise<void> = Promise.resolve();
  if (heartbeatSchedules && options.timerHeartbeats?.reconcileAtStartup) {
    startupReconcile = heartbeatSchedules.reconcile({ signal: startupAbort.signal }).then(
      (result) => logger.info(timerHeartbeatTexts.reconciled, { checked: result.checked, failed: result.failed, ...result.changes }),
      (error) => {
        if (!startupAbort.signal.aborted) logger.warn(timerHeartbeatTexts.reconcileFailed, { error: error instanceof Error ? error.message : String(error) });
      },
    );
  }

  let stopped: Promise<void> | null = null;
  assembled = true;
  return {
    prisma,
    temporal,
    apiUrl,
    runControl,
    worker,
    metrics,
    liveEvents,
    heartbeatSchedules,
    stop: () =>
      (stopped ??= (async () => {
        await liveEvents.stop(); // ends the SSE streams, which would keep the server open
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
        if (worker.getState() === 'RUNNING') worker.shutdown();
        await workerRun;
        startupAbort.abort();
        await startupRecovery;
        await startupReconcile;
        await workerConnection.close();
        await clientConnection.close();
        stopCompanyLookup();
        await prisma.$disconnect();
      })()),
  };
}
