/** What the activities need from the process that hosts the worker. */
import type { PrismaClient } from '../store/db.ts';
import type { RunLogStore } from '../store/runLogStore.ts';
import type { Logger } from '../logger.ts';
import type { VigilMetrics } from '../metrics/vigilMetrics.ts';
import type { WorkerAgents } from '../adapters/supervisor/agentHosting.ts';

/** R11: the "agent first heartbeat" telemetry hook. */
export interface Telemetry {
  agentFirstHeartbeat(event: { agentRole: string; agentId: string; companyId: string }): Promise<void> | void;
}

/** Temporal, as seen from code outside a workflow (`temporal/runExecutions.ts`). */
export interface RunExecutions {
  /** The runs (of those given) whose workflow is still running: R16's execution handle. */
  held(runIds: string[]): Promise<Set<string>>;
  /** Starts the workflows of queued/scheduled runs, or nudges those already waiting for a slot. */
  start(runIds: string[]): Promise<void>;
  /** Asks the runs' workflows to cancel them (R14) without waiting for the end; returns those that accepted. */
  requestCancel(runIds: string[], reason: string): Promise<string[]>;
}

export interface ActivityDeps {
  prisma: PrismaClient;
  logStore: RunLogStore;
  runTokenSecret: string;
  /** Base URL agents use to call Vigil's API (`VIGIL_API_URL`). */
  apiUrl: string;
  /** This worker's identity (VIGIL_WORKER_ID), written on the runs whose agents it spawns. */
  workerId: string;
  telemetry: Telemetry;
  logger: Logger;
  executions: RunExecutions;
  /** Counters and histograms the activities move as they act (src/metrics/vigilMetrics.ts). */
  metrics: VigilMetrics;
  /**
   * Issue 13: this host's agent supervisor and settings, its task queue, and the signal a
   * detaching shutdown aborts (VIGIL_SHUTDOWN_MODE=detach): agents are left running, not ended.
   */
  agents: WorkerAgents;
}
