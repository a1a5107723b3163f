/**
 * `npm run bench:restart`: how long a run is unattended across a worker restart (issue 13).
 *
 * On its own PostgreSQL and Temporal dev server (bench/servers.ts) it starts one `api` role
 * process and `worker` role processes the way a user starts them (test/support/roleProcess.ts),
 * all of one host (VIGIL_HOST_ID) and one agent supervisor (VIGIL_SUPERVISOR_DIR, a temp dir).
 * One long agent (test/fixtures/agents/counts-slowly.sh, a tick every 0.5 s) runs while its worker
 * is restarted N times, for each way a worker goes:
 * - `SIGKILL` (a crash, an OOM kill): the old worker is killed, a new one is started at once; the
 *   workflow learns of the loss at the adapter heartbeat timeout and sends the activity to the
 *   host's task queue, where the new worker reattaches;
 * - `SIGTERM` (a deploy, VIGIL_SHUTDOWN_MODE=detach): the old worker detaches and exits, a new one
 *   is started at once.
 * Unattended time, per restart = from the moment the old worker was gone (its SIGKILL's `exit`
 * seen, or its SIGTERM's exit) to the `created_at` of the run's next `adapter.reattach` event,
 * which the new worker writes once it holds the agent again (before it delivers any output).
 * It also prints each worker's startup (process start → `Ready.`, polled every 100 ms), which bounds
 * the figure from below, and the SIGTERM → exit time of a detaching worker.
 *
 * After the restarts the run is cancelled through the API (its group is ended, R14) and must end
 * `cancelled`; the bench checks on the way that the run stays `running`, is never `process_lost`,
 * has no retry, and that the agent started once.
 *
 *   npm run bench:restart -- [--restarts 10] [--heartbeat-timeout-ms 15000] [--reattach-window-sec 300]
 *
 * Everything it starts it ends: role processes (stopAll), the agents still known to the
 * supervisor and the supervisor itself (by the pids they recorded), the servers.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateAdminToken } from '../src/auth/tokens.ts';
import { MAX_REATTACHES } from '../src/domain/runOutcome.ts';
import { TERMINAL_RUN_STATUSES } from '../src/domain/runStatus.ts';
import { isProcessGroupAlive } from '../src/adapters/processGroup.ts';
import { sleep } from '../src/platform/processes.ts';
import { createPrismaClient, type PrismaClient } from '../src/store/db.ts';
import { endInstanceSweeper, RoleProcesses, type RoleProcess } from '../test/support/roleProcess.ts';
import { endSupervisedAgents } from '../test/support/supervisorCleanup.ts';
import { benchApi } from './benchVigil.ts';
import { startBenchServers } from './servers.ts';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const RESTARTS = option('restarts', 10);
/** Long enough for a restarted worker (tsx bundles the workflows at its start) to be back before it. */
const HEARTBEAT_TIMEOUT_MS = option('heartbeat-timeout-ms', 15_000);
const REATTACH_WINDOW_SEC = option('reattach-window-sec', 300);
/** How long the bench lets a freshly attached worker run (output flowing, heartbeats sent) before it ends it. */
const SETTLE_MS = 2_000;
const TICK_SEC = 0.5;
const AGENT_SCRIPT = fileURLToPath(new URL('../test/fixtures/agents/counts-slowly.sh', import.meta.url));

type Way = 'SIGKILL' | 'SIGTERM';

interface Restart {
  unattendedMs: number;
  startupMs: number;
  /** SIGTERM → exit of the detaching worker (SIGTERM only). */
  stopMs: number | null;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function until<T>(check: () => Promise<T | null>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function main(): Promise<void> {
  const servers = await startBenchServers('vigil-restart', () => {});
  const supervisorDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-bench-restart-'));
  const startLogDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-bench-restart-starts-'));
  const instance = `restart${Date.now().toString(36)}`;
  const adminToken = generateAdminToken();
  const env: Record<string, string> = {
    DATABASE_URL: servers.databaseUrl,
    TEMPORAL_ADDRESS: servers.temporal.address,
    TEMPORAL_NAMESPACE: servers.temporal.namespace,
    VIGIL_TASK_QUEUE: `bench-restart-${randomUUID()}`,
    VIGIL_INSTANCE_ID: instance,
    VIGIL_ADMIN_TOKEN: adminToken,
    VIGIL_DB_POOL_SIZE: String(servers.dbPoolSize),
    VIGIL_HOST_ID: `bench-host-${instance}`,
    VIGIL_SUPERVISOR_DIR: supervisorDir,
    VIGIL_ADAPTER_HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_MS),
    VIGIL_REATTACH_WINDOW_SEC: String(REATTACH_WINDOW_SEC),
    VIGIL_SHUTDOWN_MODE: 'detach',
  };
  const processes = new RoleProcesses();
  let prisma: PrismaClient | null = null;
  const results = new Map<Way, Restart[]>();
  const firstStartupMs: number[] = [];
  try {
    const api = await processes.start({ name: 'bench-api', role: 'api', env });
    const call = benchApi({ apiUrl: api.url }, adminToken);
    prisma = createPrismaClient(servers.databaseUrl, 2);
    const db = prisma;
    const company = await call('POST', '/api/companies', { name: 'Restart', issuePrefix: 'RST' });
    let workers = 0;

    const startWorker = async (): Promise<{ worker: RoleProcess; startupMs: number }> => {
      workers++;
      const began = Date.now();
      const worker = await processes.start({ name: `bench-worker-${workers}`, role: 'worker', env: { ...env, VIGIL_API_URL: api.url, VIGIL_WORKER_ID: `bench-worker-${workers}` } });
      return { worker, startupMs: Date.now() - began };
    };
    const reattachEvents = (runId: string) => db.heartbeatRunEvent.findMany({ where: { runId, eventType: 'adapter.reattach' }, orderBy: { id: 'asc' }, select: { createdAt: true } });

    /** A long agent's run, running with a process and some output stored; the agent stays far from its end. */
    const startLongRun = async (label: string, restarts: number) => {
      const ticks = Math.ceil(((restarts * (HEARTBEAT_TIMEOUT_MS + 30_000)) / 1000 + 120) / TICK_SEC);
      const startLog = path.join(startLogDir, `${label}.starts`);
      const agent = await call('POST', `/api/companies/${company.id}/agents`, {
        name: label,
        adapterType: 'process',
        adapterConfig: { command: AGENT_SCRIPT, env: { TICKS: String(ticks), TICK_SEC: String(TICK_SEC), START_LOG: startLog } },
      });
      const run = await call('POST', `/api/agents/${agent.id}/wakeup`, { payload: { label } });
      await until(async () => {
        const row = await db.heartbeatRun.findUnique({ where: { id: run.id } });
        return row && row.status === 'running' && row.processGroupId !== null && row.recordedStdoutChars > 10n ? row : null;
      }, 120_000, `${label}'s agent to run`);
      return { runId: run.id as string, agentId: agent.id as string, startLog };
    };

    for (const way of ['SIGKILL', 'SIGTERM'] as const) {
      const restarts: Restart[] = [];
      results.set(way, restarts);
      const first = await startWorker();
      firstStartupMs.push(first.startupMs);
      let worker = first.worker;
      // A run reattaches at most MAX_REATTACHES times (runOutcome.ts): a fresh run when one is used up.
      while (restarts.length < RESTARTS) {
        const chunk = Math.min(RESTARTS - restarts.length, MAX_REATTACHES);
        const run = await startLongRun(`${way.toLowerCase()}-${restarts.length}`, chunk);
        const group = (await db.heartbeatRun.findUniqueOrThrow({ where: { id: run.runId } })).processGroupId!;
        for (let i = 1; i <= chunk; i++) {
          await sleep(SETTLE_MS);
          let stopMs: number | null = null;
          if (way === 'SIGKILL') {
            await worker.kill();
          } else {
            const stopping = Date.now();
            const code = await worker.terminate();
            stopMs = Date.now() - stopping;
            if (code !== 0) throw new Error(`a detaching worker exited ${code}:\n${worker.output()}`);
          }
          const goneAt = Date.now();
          if (!(await isProcessGroupAlive(group))) throw new Error(`the agent died with its worker (${way}, restart ${i})`);
          const next = await startWorker();
          worker = next.worker;
          const reattachedAt = await until(async () => {
            const events = await reattachEvents(run.runId);
            return events.length >= i ? events[i - 1].createdAt.getTime() : null;
          }, HEARTBEAT_TIMEOUT_MS + REATTACH_WINDOW_SEC * 1000, `reattach ${i} of ${way}`);
          restarts.push({ unattendedMs: reattachedAt - goneAt, startupMs: next.startupMs, stopMs });
          console.error(`${way} restart ${restarts.length}: unattended ${reattachedAt - goneAt} ms, worker startup ${next.startupMs} ms${stopMs === null ? '' : `, SIGTERM → exit ${stopMs} ms`}`);
        }
        // The run went through every restart as one run, running, its agent started once.
        const row = await db.heartbeatRun.findUniqueOrThrow({ where: { id: run.runId } });
        if (row.status !== 'running') throw new Error(`run ${run.runId} is ${row.status} (${row.errorCode}) after the restarts`);
        if ((await db.heartbeatRun.count({ where: { retryOfRunId: run.runId } })) !== 0) throw new Error(`run ${run.runId} was retried`);
        const starts = (await readFile(run.startLog, 'utf8')).trim().split('\n').length;
        if (starts !== 1) throw new Error(`the agent of run ${run.runId} started ${starts} times`);
        // Cancel ends its group (R14) and the run is cancelled.
        await call('POST', `/api/heartbeat-runs/${run.runId}/cancel`, { reason: 'bench over' });
        const ended = await until(async () => {
          const current = await db.heartbeatRun.findUnique({ where: { id: run.runId } });
          return current && (TERMINAL_RUN_STATUSES as readonly string[]).includes(current.status) ? current : null;
        }, 60_000, `run ${run.runId} to end`);
        if (ended.status !== 'cancelled') throw new Error(`run ${run.runId} ended ${ended.status} (${ended.errorCode})`);
        await until(async () => ((await isProcessGroupAlive(group)) ? null : true), 30_000, 'the agent group to be gone');
      }
      await worker.terminate();
    }
  } finally {
    await processes.stopAll('SIGKILL');
    await endSupervisedAgents(supervisorDir);
    await prisma?.$disconnect();
    await endInstanceSweeper(servers.temporal.address, servers.temporal.namespace, instance).catch(() => undefined);
    await servers.stop();
    await rm(supervisorDir, { recursive: true, force: true });
    await rm(startLogDir, { recursive: true, force: true });
  }

  const figures = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return `${percentile(sorted, 50)} / ${sorted[sorted.length - 1]} ms`;
  };
  console.log(
    `workerRestart: ${RESTARTS} restarts of each kind, one long agent's run (counts-slowly.sh, a tick every ${TICK_SEC} s); ` +
      `VIGIL_ADAPTER_HEARTBEAT_TIMEOUT_MS=${HEARTBEAT_TIMEOUT_MS}, VIGIL_REATTACH_WINDOW_SEC=${REATTACH_WINDOW_SEC}, VIGIL_SHUTDOWN_MODE=detach; ${os.cpus().length} CPUs`,
  );
  console.log('unattended = old worker gone (SIGKILL exit seen / SIGTERM exit) → the run\'s adapter.reattach event (created_at) from the new worker');
  console.log('| old worker ends by | unattended p50 / max | new worker startup (start → Ready.) p50 / max | SIGTERM → exit p50 / max |');
  console.log('|---|---|---|---|');
  for (const [way, restarts] of results) {
    const stops = restarts.flatMap((restart) => (restart.stopMs === null ? [] : [restart.stopMs]));
    console.log(`| ${way} + new worker | ${figures(restarts.map((r) => r.unattendedMs))} | ${figures(restarts.map((r) => r.startupMs))} | ${stops.length ? figures(stops) : '—'} |`);
  }
  console.log(`first worker startup (no agent to reattach): ${firstStartupMs.join(', ')} ms`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
