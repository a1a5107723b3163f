/**
 * The Vigil worker: runs heartbeat-run workflows and their activities on one task queue.
 * Defaults changed from the SDK's (ENVIRONMENT.md): a shutdown grace period so a deploy lets
 * running agents finish, a bounded number of concurrent agent processes, and a short heartbeat
 * throttle so a cancellation reaches the agent's process within about a second.
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
    maxHeartbeatThrottleInterval: '1 second',
    defaultHeartbeatThrottleInterval: '1 second',
  });
}
