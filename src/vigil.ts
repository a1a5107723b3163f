/**
 * Vigil's running parts wired together: Prisma, the Temporal client, and by role (VIGIL_ROLE) the
 * API (REST, SSE, /metrics, workflow starts), the worker (runs and recovery activities, with a
 * health/metrics port of its own when there is no API), or both (`all`).
 * `npm start` (src/main.ts) calls this after bringing up PostgreSQL and Temporal; the tests call
 * it against the servers their global setup started.
 */
import { expiredIdempotencyKeys } from './store/idempotencyKeys.ts';
import { setMaxListeners } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import path from 'node:path';
import { Client } from '@temporalio/client';
import type { NativeConnection } from '@temporalio/worker';
import type { TemporalConnectionSettings } from './temporal/temporalConnection.ts';
import { connectClient, connectNative } from './temporal/temporalConnect.ts';
import { createPrismaClient, type PrismaClient } from './store/db.ts';
import { RunLogStore } from './store/runLogStore.ts';
import { RunLogRetention } from './store/runLogRetention.ts';
import { loadRunTokenSecret } from './auth/tokens.ts';
import { createRunActivities } from './activities/index.ts';
import type { ActivityDeps, Telemetry } from './activities/deps.ts';
import { createRunWorker, type RunWorker } from './temporal/worker.ts';
import { agentHosting, workerAgents, type AgentHosting } from './adapters/supervisor/agentHosting.ts';
import { createRunExecutions } from './temporal/runExecutions.ts';
import { ensureRecoverySweeper, runStartupRecovery, type RecoverySweeperOptions } from './temporal/recoverySweeperClient.ts';
import { HeartbeatSchedules, type HeartbeatScheduleOptions } from './temporal/heartbeatSchedules.ts';
import { timerHeartbeatTexts } from './domain/texts.ts';
import { createApp } from './api/app.ts';
import { createWorkerStatusApp } from './api/workerStatusApp.ts';
import type { VigilRole } from './config.ts';
import type { WorkerState } from './metrics/vigilMetrics.ts';
import { RunControl } from './api/runControl.ts';
import { LiveEventHub, type LiveEventHubOptions } from './live/liveEventHub.ts';
import type { Logger } from './logger.ts';
import { runCompanies, withRunContext } from './runLogContext.ts';
import { createVigilMetrics, type VigilMetrics } from './metrics/vigilMetrics.ts';
import type { LifecyclePhase, StartupInterrupt } from './platform/startupInterrupt.ts';

export interface StartVigilOptions {
  /** What this process runs (default `all`): see src/config.ts. */
  role?: VigilRole;
  /** VIGIL_WORKER_ID (default host name + data directory). */
  workerId?: string;
  /** VIGIL_API_URL handed to agents; required for role `worker`, default this process's own API. */
  agentApiUrl?: string | null;
  databaseUrl: string;
  /** The Temporal both connections reach, with its namespace (src/temporal/temporalConnection.ts). */
  temporal: TemporalConnectionSettings;
  temporalUiUrl: string | null;
  taskQueue: string;
  dataDir: string;
  adminToken: string;
  runTokenSecret: string | null;
  adapterHeartbeatTimeoutMs: number;
  /** PostgreSQL connections in the pool. */
  dbPoolSize?: number;
  /** Where this process listens: the API, or for role `worker` its health/metrics port. */
  host: string;
  port: number;
  logger: Logger;
  workflowBundlePath?: string;
  maxConcurrentRuns?: number;
  shutdownGraceMs?: number;
  /** Issue 13: the host's agent supervisor, task queue, reattach window and shutdown mode (defaults in agentHosting.ts). */
  agentHosting?: Partial<AgentHosting>;
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
  /** Issue 11: the per-run cap of run logs and how long logs of ended runs are kept (defaults in domain/runLogBounds.ts). */
  runLogs?: { maxBytes?: number; retentionDays?: number };
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
  /** This process's HTTP base URL: the API, or for role `worker` its health/metrics port. */
  apiUrl: string;
  runControl: RunControl;
  /** Null in role `api`. */
  worker: RunWorker | null;
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
  const role = options.role ?? 'all';
  const servesApi = role !== 'worker';
  const runsWorker = role !== 'api';
  if (role === 'worker' && !options.agentApiUrl) throw new Error('role worker needs agentApiUrl (VIGIL_API_URL): its agents call an API process back');
  const workerId = options.workerId ?? `${hostname()}:${options.dataDir}`;
  // Lines about a run get its workflowId and companyId (runLogContext.ts).
  const logger = withRunContext(options.logger);
  const prisma = createPrismaClient(options.databaseUrl, options.dbPoolSize);
  opened.push(() => prisma.$disconnect());
  const metrics = createVigilMetrics({ prisma });
  const stopCompanyLookup = runCompanies.useLookup(async (runId) => (await prisma.heartbeatRun.findUnique({ where: { id: runId }, select: { companyId: true } }))?.companyId ?? null);
  opened.push(async () => stopCompanyLookup());
  const runTokenSecret = await loadRunTokenSecret(prisma, options.runTokenSecret);
  const logStore = new RunLogStore(prisma, { maxBytes: options.runLogs?.maxBytes, localFileDir: path.join(options.dataDir, 'run-logs') });
  const runLogRetention = new RunLogRetention({
    prisma,
    logger,
    retentionDays: options.runLogs?.retentionDays,
    // Issue 14 §3: keys are kept 24 h.
    alsoPrune: [expiredIdempotencyKeys(prisma)],
  });
  runLogRetention.start();
  opened.push(() => runLogRetention.stop());
  const clientConnection = await connectClient(options.temporal);
  opened.push(() => clientConnection.close());
  const namespace = options.temporal.namespace;
  const temporal = new Client({ connection: clientConnection, namespace });
  const telemetry: Telemetry = options.telemetry ?? {
    agentFirstHeartbeat: (event) => logger.info('agent first heartbeat', event),
  };
  const hosting = agentHosting(options.agentHosting);
  // A detaching shutdown (issue 13) aborts this: the worker's agents run on for the next worker of the host.
  const detachAgents = new AbortController();
  // Every running adapter listens to it (one listener per run, removed when the run ends).
  setMaxListeners(0, detachAgents.signal);
  const agents = workerAgents(options.taskQueue, hosting, detachAgents.signal);
  const hostQueue = agents.hostQueue;
  const workflowSettings = { taskQueue: options.taskQueue, adapterHeartbeatTimeoutMs: options.adapterHeartbeatTimeoutMs, reattachWindowMs: hosting.reattachWindowMs };

  const executions = createRunExecutions(temporal, prisma, workflowSettings);
  const activityDeps: ActivityDeps = { prisma, logStore, runTokenSecret, apiUrl: options.agentApiUrl ?? '', workerId, telemetry, logger, executions, metrics, agents };
  const runControl = new RunControl({ prisma, temporal, workflowSettings, activityDeps, logger });
  const heartbeatSchedules =
    servesApi && options.timerHeartbeats
      ? new HeartbeatSchedules({ client: temporal, prisma, logger }, { taskQueue: options.taskQueue, idPrefix: options.timerHeartbeats.idPrefix, companyId: options.timerHeartbeats.companyId })
      : null;
  const liveEvents = new LiveEventHub({ ...options.liveEvents, prisma, databaseUrl: options.databaseUrl, logger });
  opened.push(() => liveEvents.stop());
  if (servesApi) await liveEvents.start();

  let assembled = false;
  let workerState: WorkerState = 'stopped';
  const setWorkerState = (state: WorkerState) => {
    workerState = state;
    metrics.workerState(state);
  };
  const health = {
    prisma,
    role,
    checkTemporal: async () => {
      await clientConnection.workflowService.getSystemInfo({});
      return true;
    },
    lifecyclePhase: options.phase ?? (() => (assembled ? 'ready' : 'starting')),
    workerState: () => (runsWorker ? workerState : null),
  };
  // The API listens first: in role `all` the activities hand its URL to every agent process.
  const app = servesApi
    ? createApp({
        ...health,
        activityDeps,
        runControl,
        logStore,
        logger,
        adminToken: options.adminToken,
        runTokenSecret,
        temporalNamespace: namespace,
        temporalUiUrl: options.temporalUiUrl,
        metrics,
        temporalMetricsUrl: options.temporalMetricsUrl ?? null,
        liveEvents,
        heartbeatSchedules,
      })
    : createWorkerStatusApp({ ...health, metrics, temporalMetricsUrl: options.temporalMetricsUrl ?? null, logger });
  const server = createServer(app);
  const address = await listen(server, options.host, options.port);
  const closeServer = () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    return closed;
  };
  opened.push(closeServer);
  const listenHost = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  const apiUrl = `http://${listenHost.includes(':') ? `[${listenHost}]` : listenHost}:${address.port}`;
  if (!options.agentApiUrl) activityDeps.apiUrl = apiUrl;

  let worker: RunWorker | null = null;
  let workerRun: Promise<void> = Promise.resolve();
  let workerConnection: NativeConnection | null = null;
  /**
   * SIGTERM's drain: stop polling; then, in VIGIL_SHUTDOWN_MODE=detach (the default, issue 13),
   * leave the running agents to the host's supervisor for the next worker of the host to
   * reattach, or (`kill`) let them finish within the shutdown grace, then end them as a worker
   * shutdown (R21: process_lost, one retry on another worker).
   */
  const drainWorker = async () => {
    if (worker?.getState() === 'RUNNING') {
      setWorkerState('draining');
      if (hosting.shutdownMode === 'detach') {
        logger.info('worker draining: no new runs; running agents are left to the host supervisor for the next worker', { workerId, hostQueue });
        detachAgents.abort();
      } else {
        logger.info('worker draining: no new runs; running agents get the shutdown grace', { workerId, graceMs: options.shutdownGraceMs ?? 30_000 });
      }
      worker.shutdown();
    }
    await workerRun;
  };
  if (runsWorker) {
    await options.interrupt?.checkpoint('worker');
    const connection = (workerConnection = await connectNative(options.temporal));
    opened.push(() => connection.close());
    const created = (worker = await createRunWorker({
      connection,
      namespace,
      taskQueue: options.taskQueue,
      hostTaskQueue: hostQueue,
      identity: workerId,
      activities: createRunActivities(activityDeps),
      workflowBundlePath: options.workflowBundlePath,
      maxConcurrentRuns: options.maxConcurrentRuns ?? 50,
      shutdownGraceMs: options.shutdownGraceMs ?? 30_000,
      logger,
    }));
    // The bundle took seconds: a stop asked meanwhile ends the start before the worker polls.
    options.interrupt?.signal.throwIfAborted();
    setWorkerState('running');
    workerRun = created.run().then(
      () => setWorkerState('stopped'),
      (error) => {
        setWorkerState('stopped');
        logger.error('worker stopped with an error', { error: error instanceof Error ? error.message : String(error) });
      },
    );
    opened.push(() => drainWorker());
  }
  // The startup pass runs in the background and waits on the sweeper's answer; stop() aborts
  // that wait before closing the client, or its gRPC retry would fire on a closed channel and
  // throw out of a timer (seen as exit code 1 on Ctrl-C under load).
  const startupAbort = new AbortController();
  let startupRecovery: Promise<void> = Promise.resolve();
  if (options.recoverySweeper) {
    const { runAtStartup, ...sweeper } = options.recoverySweeper;
    // Idempotent: whichever process starts first creates the sweeper, the others signal it.
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
        // The worker first: in role `all` its agents keep their API (VIGIL_API_URL) through the grace.
        await drainWorker();
        startupAbort.abort();
        await startupRecovery;
        await startupReconcile;
        await liveEvents.stop(); // ends the SSE streams, which would keep the server open
        await closeServer();
        await workerConnection?.close();
        await clientConnection.close();
        stopCompanyLookup();
        await runLogRetention.stop();
        await prisma.$disconnect();
      })()),
  };
}
