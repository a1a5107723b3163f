/**
 * The Vigil worker: runs heartbeat-run workflows and their activities on one task queue.
 * Defaults changed from the SDK's (ENVIRONMENT.md): a shutdown grace period so a deploy lets
 * running agents finish, a bounded number of concurrent agent processes, a short heartbeat
 * throttle so a cancellation reaches the agent's process within about a second, and a short
 * sticky-queue timeout so another worker takes over a dead worker's runs promptly.
 */
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker } from '@temporalio/worker';
import type { RunActivities } from '../activities/index.ts';

export interface RunWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  activities: RunActivities;
  /** A prebuilt bundle (tests build one per run); otherwise the workflows are bundled at start. */
  workflowBundlePath?: string;
  maxConcurrentRuns: number;
  shutdownGraceMs: number;
}

export const WORKFLOWS_ENTRY = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));

export async function createRunWorker(options: RunWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...(options.workflowBundlePath ? { workflowBundle: { codePath: options.workflowBundlePath } } : { workflowsPath: WORKFLOWS_ENTRY }),
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
