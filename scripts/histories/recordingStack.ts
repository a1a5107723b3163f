/**
 * The throwaway stack `npm run replay:record` records on: an embedded PostgreSQL and an in-memory
 * Temporal dev server in the system temp dir (as bench/servers.ts starts them), one workflow bundle of the
 * current code, and Vigil (API + worker) as `npm start` wires it. Scenarios about losing a worker
 * start more Vigils on task queues of their own, in process or as a child process to SIGKILL.
 *
 * Issue 13: every Vigil of the stack is one host (RECORDING_HOST_ID) whose agent supervisor lives
 * in the stack's temp folder, never the user's shared one; `stop()` ends what that supervisor
 * still runs, and the supervisor itself, before the folder goes.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { loadConfig } from '../../src/config.ts';
import { generateAdminToken } from '../../src/auth/tokens.ts';
import { createLogger } from '../../src/logger.ts';
import { sleep } from '../../src/platform/processes.ts';
import { findFreePorts } from '../../src/platform/freePorts.ts';
import { startEmbeddedPostgres } from '../../src/store/embeddedPostgres.ts';
import { applyMigrations } from '../../src/store/migrate.ts';
import { loadTemporalDevConfig } from '../../src/temporal/devServerConfig.ts';
import { startTemporalDevServer } from '../../src/temporal/devServer.ts';
import { temporalCliBinary } from './exportHistory.ts';
import { startVigil, type RunningVigil, type StartVigilOptions } from '../../src/vigil.ts';
import { WORKFLOWS_ENTRY } from '../../src/temporal/worker.ts';
import { plainTemporalConnection } from '../../src/temporal/temporalConnection.ts';
import type { AgentHosting } from '../../src/adapters/supervisor/agentHosting.ts';
import { ApiClient } from '../../test/support/apiClient.ts';
import { endSupervisedAgents } from '../../test/support/supervisorCleanup.ts';

const VIGIL_PROCESS = fileURLToPath(new URL('../../test/support/workerProcess.ts', import.meta.url));
export const RECORDING_TASK_QUEUE = 'vigil-runs';
/** Id prefix of the recording stack's recovery sweepers. */
export const SWEEPER_ID_PREFIX = 'record-';
/** The one host every Vigil of the recording stack runs on (its host task queues end in `@host:record-host`). */
export const RECORDING_HOST_ID = 'record-host';

/** What a scenario's Vigil changes of the stack's hosting (the reattach window, the shutdown mode). */
export type HostingOverrides = Partial<Pick<AgentHosting, 'reattachWindowMs' | 'shutdownMode'>>;

export interface VigilInChildProcess {
  admin: ApiClient;
  /** SIGKILL: the worker vanishes mid-activity, as on a crashed host. */
  kill(): Promise<void>;
}

export interface RecordingStack {
  vigil: RunningVigil;
  admin: ApiClient;
  temporalAddress: string;
  temporalNamespace: string;
  workflowBundlePath: string;
  /** Another Vigil in this process, on its own task queue (and the stack's host and supervisor). */
  startVigilOn(taskQueue: string, adapterHeartbeatTimeoutMs: number, hosting?: HostingOverrides): Promise<RunningVigil>;
  /** Another Vigil in a child process, on its own task queue (and the stack's host and supervisor). */
  spawnVigilOn(taskQueue: string, adapterHeartbeatTimeoutMs: number, hosting?: HostingOverrides): Promise<VigilInChildProcess>;
  stop(): Promise<void>;
}

/** PostgreSQL (migrated) and Temporal on free ports, everything under one temp folder. */
async function startServers(log: (line: string) => void) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'vigil-replay-record-'));
  const [pgPort, temporalPort] = await findFreePorts(2);
  const pg = await startEmbeddedPostgres({ dataDir: root, port: pgPort, log });
  await applyMigrations(pg.databaseUrl);
  const binary = await temporalCliBinary(loadConfig(), log);
  const temporal = await startTemporalDevServer({ binary, config: loadTemporalDevConfig(), dataDir: null, port: temporalPort, headless: true, log });
  return {
    root,
    databaseUrl: pg.databaseUrl,
    temporal,
    async stop() {
      await temporal.stop();
      await pg.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}

export async function startRecordingStack(log: (line: string) => void): Promise<RecordingStack> {
  const [servers, bundle] = await Promise.all([
    startServers(log),
    bundleWorkflowCode({ workflowsPath: WORKFLOWS_ENTRY, logger: { trace() {}, debug() {}, info() {}, warn: log, error: log, log() {} } as never }),
  ]);
  const workflowBundlePath = path.join(servers.root, 'workflow-bundle.js');
  await writeFile(workflowBundlePath, bundle.code);
  const adminToken = generateAdminToken();
  const extras: Array<() => Promise<unknown>> = [];
  // The stack's own supervisor (a short path: its socket's must stay under 108 bytes).
  const supervisorDir = path.join(servers.root, 'supervisor');

  const optionsFor = (taskQueue: string, adapterHeartbeatTimeoutMs: number, hosting: HostingOverrides = {}): Omit<StartVigilOptions, 'logger'> => ({
    databaseUrl: servers.databaseUrl,
    temporal: plainTemporalConnection(servers.temporal.address, servers.temporal.namespace),
    temporalUiUrl: null,
    taskQueue,
    dataDir: servers.root,
    adminToken,
    runTokenSecret: null,
    adapterHeartbeatTimeoutMs,
    host: '127.0.0.1',
    port: 0,
    workflowBundlePath,
    shutdownGraceMs: 1_000,
    agentHosting: { supervisorDir, hostId: RECORDING_HOST_ID, ...hosting },
  });
  const vigil = await startVigil({
    ...optionsFor(RECORDING_TASK_QUEUE, 5_000),
    logger: createLogger('error'),
    // As `npm start` does, minus the periodic passes (the recovery-sweeper scenario has a sweeper of its own).
    recoverySweeper: { idPrefix: SWEEPER_ID_PREFIX, intervalMs: 365 * 24 * 3_600_000, runAtStartup: true },
  });

  return {
    vigil,
    admin: new ApiClient(vigil.apiUrl, adminToken),
    temporalAddress: servers.temporal.address,
    temporalNamespace: servers.temporal.namespace,
    workflowBundlePath,
    async startVigilOn(taskQueue, adapterHeartbeatTimeoutMs, hosting) {
      const extra = await startVigil({ ...optionsFor(taskQueue, adapterHeartbeatTimeoutMs, hosting), logger: createLogger('error') });
      extras.push(extra.stop);
      return extra;
    },
    async spawnVigilOn(taskQueue, adapterHeartbeatTimeoutMs, hosting) {
      const options = JSON.stringify(optionsFor(taskQueue, adapterHeartbeatTimeoutMs, hosting));
      const child = spawn(process.execPath, ['--import', 'tsx', VIGIL_PROCESS, options], { stdio: ['ignore', 'pipe', 'inherit'] });
      const kill = async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGKILL');
        await once(child, 'exit');
      };
      extras.push(kill);
      let output = '';
      child.stdout!.on('data', (chunk) => (output += chunk));
      for (const deadline = Date.now() + 60_000; !/READY (\S+)/.test(output); await sleep(100)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`The child Vigil on ${taskQueue} did not start:\n${output}`);
      }
      return { admin: new ApiClient(/READY (\S+)/.exec(output)![1], adminToken), kill };
    },
    async stop() {
      for (const stop of extras.reverse()) await stop().catch(() => undefined);
      await vigil.stop();
      // Agents a detaching stop left to the supervisor (or a failed scenario), then the supervisor.
      await endSupervisedAgents(supervisorDir);
      await servers.stop();
    },
  };
}
