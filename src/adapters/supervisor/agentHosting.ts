/**
 * How a worker hosts agents that outlive it (issue 13), one owner for each setting:
 * - `supervisorDir` (VIGIL_SUPERVISOR_DIR): the host's supervisor, shared by every worker of the
 *   host; default one per user under the system's temporary directory (client.ts);
 * - `hostId` (VIGIL_HOST_ID, default the host name): names the host's task queue, where a run
 *   whose worker left comes back to its agent;
 * - `reattachWindowMs` (VIGIL_REATTACH_WINDOW_SEC, default 300): how long a run waits for a
 *   worker on its agent's host, and how long the supervisor keeps an agent no worker watches;
 * - `shutdownMode` (VIGIL_SHUTDOWN_MODE): `detach` (default) leaves agents running on a SIGTERM
 *   for the next worker of the host; `kill` ends them after the grace, as before issue 13.
 */
import { defaultSupervisorDir } from './client.ts';
import { hostname } from 'node:os';

export type ShutdownMode = 'detach' | 'kill';
export const SHUTDOWN_MODES: readonly ShutdownMode[] = ['detach', 'kill'];
export const DEFAULT_REATTACH_WINDOW_SEC = 300;

export interface AgentHosting {
  supervisorDir: string;
  hostId: string;
  reattachWindowMs: number;
  shutdownMode: ShutdownMode;
}

export function agentHosting(given: Partial<AgentHosting> = {}): AgentHosting {
  return {
    supervisorDir: given.supervisorDir ?? defaultSupervisorDir(),
    hostId: given.hostId ?? hostname(),
    reattachWindowMs: given.reattachWindowMs ?? DEFAULT_REATTACH_WINDOW_SEC * 1000,
    shutdownMode: given.shutdownMode ?? 'detach',
  };
}

/** The task queue of one host's workers: activities that must run where a run's agent runs. */
export function hostTaskQueue(taskQueue: string, hostId: string): string {
  return `${taskQueue}@host:${hostId}`;
}

/** What a worker's activities know of hosting (ActivityDeps.agents): the settings, its host's queue and its detach signal. */
export interface WorkerAgents extends AgentHosting {
  hostQueue: string;
  detach: AbortSignal;
}

export function workerAgents(taskQueue: string, hosting: AgentHosting, detach: AbortSignal = new AbortController().signal): WorkerAgents {
  return { ...hosting, hostQueue: hostTaskQueue(taskQueue, hosting.hostId), detach };
}
