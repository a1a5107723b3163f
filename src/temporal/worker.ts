/**
 * The Vigil worker: runs heartbeat-run workflows and their activities on one task queue.
 * Defaults changed from the SDK's (ENVIRONMENT.md): a shutdown grace period so a deploy lets
 * running agents finish, a bounded number of concurrent agent processes, a short heartbeat
 * throttle so a cancellation reaches the agent's process within about a second, and a short
 * sticky-queue timeout so another worker takes over a dead worker's runs promptly.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { NativeConnection, Worker, bundleWorkflowCode, type State } from '@temporalio/worker';
import type { RunActivities } from '../activities/index.ts';
import type { Logger } from '../logger.ts';
import { sdkLoggerFor } from './runtime.ts';
import { CODE_ROOT, RUNS_COMPILED, codeModule } from '../platform/appFiles.ts';

export interface RunWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** Issue 13: this host's task queue, where a run comes back to an agent that outlived its worker. */
  hostTaskQueue: string;
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

/**
 * A Vigil worker: one SDK worker on the run task queue (workflows and every activity), and one on
 * this host's task queue (issue 13) for the activities that must run where a run's agent runs —
 * attaching to it, or ending it after a cancel. They start, drain and stop together.
 */
export class RunWorker {
  constructor(
    private readonly queueWorker: Worker,
    private readonly hostWorker: Worker,
  ) {}

  /** The run queue's worker's state, until both have stopped. */
  getState(): State {
    const states = [this.queueWorker.getState(), this.hostWorker.getState()];
    return states.every((state) => state === 'STOPPED') ? 'STOPPED' : states[0] === 'STOPPED' ? states[1] : states[0];
  }

  /** Both stop polling and drain (the shutdown grace); `run()` resolves once both have stopped. */
  shutdown(): void {
    for (const worker of [this.queueWorker, this.hostWorker]) {
      if (worker.getState() === 'RUNNING') worker.shutdown();
    }
  }

  async run(): Promise<void> {
    const runs = [this.queueWorker, this.hostWorker].map((worker) =>
      worker.run().catch((error: unknown) => {
        // One failed: the other must not keep the process half-working.
        this.shutdown();
        throw error;
      }),
    );
    const settled = await Promise.allSettled(runs);
    const failed = settled.find((result): result is PromiseRejectedResult => result.status === 'rejected');
    if (failed) throw failed.reason;
  }
}

export async function createRunWorker(options: RunWorkerOptions): Promise<RunWorker> {
  const common = {
    connection: options.connection,
    namespace: options.namespace,
    identity: options.identity,
    maxConcurrentActivityTaskExecutions: options.maxConcurrentRuns,
    shutdownGraceTime: options.shutdownGraceMs,
    maxHeartbeatThrottleInterval: '1 second',
    defaultHeartbeatThrottleInterval: '1 second',
  } as const;
  const queueWorker = await Worker.create({
    ...common,
    taskQueue: options.taskQueue,
    workflowBundle: await workflowBundleFor(options),
    activities: options.activities,
    // A dead worker's workflow tasks wait this long on its sticky queue before any other worker
    // may take them: kept short so a lost run is finalized soon after its heartbeat timeout.
    stickyQueueScheduleToStartTimeout: '1 second',
  });
  const { executeAdapter, terminateAgent } = options.activities;
  const hostWorker = await Worker.create({ ...common, taskQueue: options.hostTaskQueue, activities: { executeAdapter, terminateAgent } });
  return new RunWorker(queueWorker, hostWorker);
}
