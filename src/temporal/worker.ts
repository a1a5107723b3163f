/**
 * The Vigil worker: runs heartbeat-run workflows and their activities on one task queue.
 * Defaults changed from the SDK's (ENVIRONMENT.md): a shutdown grace period so a deploy lets
 * running agents finish, a bounded number of concurrent agent processes, a short heartbeat
 * throttle so a cancellation reaches the agent's process within about a second, and a short
 * sticky-queue timeout so another worker takes over a dead worker's runs promptly.
 */
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, bundleWorkflowCode } from '@temporalio/worker';
import type { RunActivities } from '../activities/index.ts';
import type { Logger } from '../logger.ts';
import { sdkLoggerFor } from './runtime.ts';

export interface RunWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: RunActivities;
  /** A prebuilt bundle (tests build one per run); otherwise the workflows are bundled at start. */
  workflowBundlePath?: string;
  maxConcurrentRuns: number;
  shutdownGraceMs: number;
  logger: Logger;
}

export const WORKFLOWS_ENTRY = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

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
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    workflowBundle: options.workflowBundlePath ? { codePath: options.workflowBundlePath } : await bundleWorkflows(options.logger),
    activities: options.activities,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentRuns,
    shutdownGraceTime: options.shutdownGraceMs,
    // A dead worker's workflow tasks wait this long on its sticky queue before any other worker
    // may take them: kept short so a lost run is finalized soon after its heartbeat timeout.
    stickyQueueScheduleToStartTimeout: '1 second',
    maxHeartbeatThrottleInterval: '1 second',
    defaultHeartbeatThrottleInterval: '1 second',
  });
}
