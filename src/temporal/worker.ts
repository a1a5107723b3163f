/**
 * The Vigil worker: runs heartbeat-run workflows and their activities on one task queue.
 * Defaults changed from the SDK's (ENVIRONMENT.md): a shutdown grace period so a deploy lets
 * running agents finish, a bounded number of concurrent agent processes, a short heartbeat
 * throttle so a cancellation reaches the agent's process within about a second, and a short
 * sticky-queue timeout so another worker takes over a dead worker's runs promptly.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { RunActivities } from '../activities/index.ts';
import type { Logger } from '../logger.ts';
import { sdkLoggerFor } from './runtime.ts';
import { CODE_ROOT, RUNS_COMPILED, codeModule } from '../platform/appFiles.ts';
import { retainSpawnHelper } from '../adapters/spawnHelper/helperClient.ts';

export interface RunWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: RunActivities;
  /** A prebuilt bundle (tests build one per run); otherwise dist/'s own, or under tsx the workflows are bundled at start. */
  workflowBundlePath?: string;
  maxConcurrentRuns: number;
  /** VIGIL_WORKER_ID: the worker's identity in Temporal (UI, history) as on the runs it executes. */
  identity: string;
  shutdownGraceMs: number;
  logger: Logger;
}

/** src/workflows/index.ts under tsx, dist/workflows/index.js once compiled. */
export const WORKFLOWS_ENTRY = codeModule('workflows/index');

/** Written by `npm run build` (scripts/build.ts) at the top of the compiled tree, like Temporal's production sample. */
export const PREBUILT_WORKFLOW_BUNDLE_NAME = 'workflow-bundle.js';

/**
 * The worker's workflow code: the bundle it is given (tests), else — running compiled, from
 * dist/ — the bundle `npm run build` wrote there (never bundled at start: no webpack run, no
 * TypeScript), else, under tsx (`npm start`), the workflows bundled now.
 */
async function workflowBundleFor(options: RunWorkerOptions): Promise<{ codePath: string } | { code: string }> {
  if (options.workflowBundlePath) return { codePath: options.workflowBundlePath };
  if (!RUNS_COMPILED) return bundleWorkflows(options.logger);
  const codePath = path.join(CODE_ROOT, PREBUILT_WORKFLOW_BUNDLE_NAME);
  let sizeBytes: number;
  try {
    sizeBytes = statSync(codePath).size;
  } catch {
    throw new Error(`The prebuilt workflow bundle ${codePath} is missing: \`npm run build\` writes it beside the compiled code`);
  }
  options.logger.info('workflow bundle prebuilt, not built at start', { codePath, sizeBytes });
  return { codePath };
}

/**
 * Bundles the workflows for this worker. Webpack's build report is a page of text: it goes to the
 * debug level, and one info line says the bundle is ready.
 */
async function bundleWorkflows(logger: Logger): Promise<{ code: string }> {
  const started = Date.now();
  const quiet = sdkLoggerFor({ ...logger, info: logger.debug });
  const bundle = await bundleWorkflowCode({ workflowsPath: WORKFLOWS_ENTRY, logger: quiet });
  logger.info('workflow bundle built', { sizeBytes: bundle.code.length, ms: Date.now() - started });
  return bundle;
}

export async function createRunWorker(options: RunWorkerOptions): Promise<Worker> {
  const worker = await Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    identity: options.identity,
    workflowBundle: await workflowBundleFor(options),
    activities: options.activities,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentRuns,
    shutdownGraceTime: options.shutdownGraceMs,
    // A dead worker's workflow tasks wait this long on its sticky queue before any other worker
    // may take them: kept short so a lost run is finalized soon after its heartbeat timeout.
    stickyQueueScheduleToStartTimeout: '1 second',
    maxHeartbeatThrottleInterval: '1 second',
    defaultHeartbeatThrottleInterval: '1 second',
  });
  // Issue 12: agents are forked by the spawn helper, started when this worker starts polling (its
  // first agent does not wait for it) and stopped once the worker has stopped — after the drain's
  // grace — and the last agent it started has closed.
  const run = worker.run.bind(worker);
  worker.run = async () => {
    const releaseSpawnHelper = retainSpawnHelper();
    try {
      return await run();
    } finally {
      await releaseSpawnHelper();
    }
  };
  return worker;
}
