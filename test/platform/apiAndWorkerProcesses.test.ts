/**
 * Vigil past one machine, proven by chaos: two `api` and two `worker` processes, each started the
 * way a user starts one (VIGIL_ROLE), against one PostgreSQL (a scratch database of the test
 * server) and one Temporal dev server. Agents take 5–15 s and comment through the API their worker
 * hands them.
 *
 * - A host crash: SIGKILL one worker AND its agents mid-run. Every run it held ends
 *   failed/process_lost with exactly one retry, completed by the surviving worker; nothing stays
 *   live; no issue gets two retries or a recovery issue; every run's log and events read the same
 *   through BOTH APIs; a board on each API's SSE stream saw every run's terminal status.
 * - A rolling restart (SIGTERM one worker, start it again, then the other) while runs are in
 *   flight and more are woken: a draining worker says so, finishes its agents within the grace,
 *   and no run is lost or duplicated.
 *
 * Each worker is a host of its own (VIGIL_HOST_ID) that never comes back within the reattach
 * window, and stops in VIGIL_SHUTDOWN_MODE=kill: the drain of issue 11. Deploys that detach and
 * workers that come back to their agents are test/platform/agentsOutliveWorkers.test.ts (issue 13).
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPrismaClient, type PrismaClient } from '../../src/store/db.ts';
import { generateAdminToken } from '../../src/auth/tokens.ts';
import { TERMINAL_RUN_STATUSES } from '../../src/domain/runStatus.ts';
import { ApiClient } from '../support/apiClient.ts';
import { agentScript, eventually } from '../support/fixtures.ts';
import { connectSse, type SseConnection } from '../support/sseClient.ts';
import { createScratchDatabase } from '../support/scratchDatabase.ts';
import { endInstanceSweeper, RoleProcesses, type RoleProcess } from '../support/roleProcess.ts';
import { endSupervisedAgents } from '../support/supervisorCleanup.ts';
import { mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const INSTANCE = `chaos${Date.now().toString(36)}`;
const processes = new RoleProcesses();
let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
let prisma: PrismaClient;
let sharedEnv: Record<string, string>;
let apis: [RoleProcess, RoleProcess];
const workers = new Map<string, RoleProcess>();
let boards: [ApiClient, ApiClient];
let companyId = '';
const streams: SseConnection[] = [];
const supervisorDir = mkdtempSync(path.join(os.tmpdir(), 'vigil-roles-supervisor-'));

function startWorker(workerId: 'worker-a' | 'worker-b', api: RoleProcess): Promise<RoleProcess> {
  return processes.start({ name: workerId, role: 'worker', env: { ...sharedEnv, VIGIL_WORKER_ID: workerId, VIGIL_HOST_ID: `${INSTANCE}-${workerId}`, VIGIL_API_URL: api.url } }).then((worker) => {
    workers.set(workerId, worker);
    return worker;
  });
}

beforeAll(async () => {
  scratch = await createScratchDatabase(inject('databaseUrl'), 'vigil_roles');
  prisma = createPrismaClient(scratch.url, 4);
  sharedEnv = {
    DATABASE_URL: scratch.url,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_NAMESPACE: inject('temporalNamespace'),
    VIGIL_TASK_QUEUE: `vigil-roles-${INSTANCE}`,
    VIGIL_INSTANCE_ID: INSTANCE,
    VIGIL_ADMIN_TOKEN: generateAdminToken(),
    VIGIL_ADAPTER_HEARTBEAT_TIMEOUT_MS: '5000',
    VIGIL_SHUTDOWN_GRACE_SEC: '25',
    VIGIL_RECOVERY_INTERVAL_MS: '10000',
    VIGIL_SHUTDOWN_MODE: 'kill',
    VIGIL_REATTACH_WINDOW_SEC: '3',
    VIGIL_SUPERVISOR_DIR: supervisorDir,
  };
  // The first API applies the migrations to the empty database; the others find them applied.
  const first = await processes.start({ name: 'api-1', role: 'api', env: sharedEnv });
  const [second] = await Promise.all([
    processes.start({ name: 'api-2', role: 'api', env: sharedEnv }),
    startWorker('worker-a', first),
  ]);
  apis = [first, second];
  await startWorker('worker-b', second);
  boards = [new ApiClient(first.url, sharedEnv.VIGIL_ADMIN_TOKEN), new ApiClient(second.url, sharedEnv.VIGIL_ADMIN_TOKEN)];
  const company = await boards[0].post('/api/companies', { name: 'Roles', issuePrefix: 'ROLE' });
  expect(company.status).toBe(201);
  companyId = company.body.id;
  for (const api of apis) {
    streams.push(await connectSse(`${api.url}/api/companies/${companyId}/events`, { token: sharedEnv.VIGIL_ADMIN_TOKEN }));
  }
}, 300_000);

afterAll(async () => {
  for (const stream of streams) stream.close();
  // Agents our workers spawned and a crash left behind: ended by their recorded process groups.
  const left = prisma ? await prisma.heartbeatRun.findMany({ where: { processGroupId: { not: null }, status: 'running' }, select: { processGroupId: true } }).catch(() => []) : [];
  await processes.stopAll();
  for (const { processGroupId } of left) {
    try {
      process.kill(-processGroupId!, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await endSupervisedAgents(supervisorDir);
  await rm(supervisorDir, { recursive: true, force: true });
  await prisma?.$disconnect();
  await scratch?.drop();
  // This instance's sweeper has no worker any more.
  await endInstanceSweeper(inject('temporalAddress'), inject('temporalNamespace'), INSTANCE);
}, 120_000);

/** `count` issues, each assigned to an agent of its own that works 5–15 s; half woken through each API. */
async function wakeAgents(label: string, count: number): Promise<string[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const board = boards[i % 2];
      const agent = await board.post(`/api/companies/${companyId}/agents`, {
        name: `${label}-${i}`,
        adapterConfig: { command: agentScript('works-then-comments.sh'), env: { WORK_SEC: String(5 + (i % 11)) } },
      });
      expect(agent.status).toBe(201);
      const issue = await board.post(`/api/companies/${companyId}/issues`, { title: `${label} ${i}`, status: 'todo', assigneeAgentId: agent.body.id });
      expect(issue.status).toBe(201);
      return issue.body.id as string;
    }),
  );
}

const issueOf = (run: { contextSnapshot: unknown }) => (run.contextSnapshot as { issueId?: string } | null)?.issueId ?? null;

/** The runs of these issues (a run names its issue in `contextSnapshot.issueId`), oldest first. */
async function runsOf(issueIds: string[]) {
  const wanted = new Set(issueIds);
  const runs = await prisma.heartbeatRun.findMany({ where: { companyId }, orderBy: { createdAt: 'asc' } });
  return runs.filter((run) => wanted.has(issueOf(run) ?? ''));
}

async function allSettled(issueIds: string[], timeoutMs: number) {
  return eventually(
    async () => {
      const runs = await runsOf(issueIds);
      return runs.length >= issueIds.length && runs.every((run) => (TERMINAL_RUN_STATUSES as readonly string[]).includes(run.status)) ? runs : null;
    },
    timeoutMs,
    'every run to end',
  );
}

/**
 * Log and events of a run, read through each API: the same through both. A run whose worker died
 * before its first output was stored has no log (404 through both); every other run has one.
 */
async function expectSameThroughBothApis(runId: string): Promise<string | null> {
  const [logA, logB] = await Promise.all(boards.map((board) => board.get(`/api/heartbeat-runs/${runId}/log?limitBytes=1000000`)));
  expect([200, 404], `log of ${runId}`).toContain(logA.status);
  expect(logB.status).toBe(logA.status);
  expect(logB.body).toEqual(logA.body);
  const [eventsA, eventsB] = await Promise.all(boards.map((board) => board.get(`/api/heartbeat-runs/${runId}/events?limit=1000`)));
  expect(eventsA.status).toBe(200);
  expect(eventsA.body.length).toBeGreaterThan(0);
  expect(eventsB.body).toEqual(eventsA.body);
  return logA.status === 200 ? (logA.body.content as string) : null;
}

describe('API and worker processes apart', () => {
  it('a host crash: the runs of a SIGKILLed worker and its agents are retried once on the surviving worker', async () => {
    const issueIds = await wakeAgents('crash', 40);
    // Both workers hold agents: every run is running with its process recorded.
    const running = await eventually(
      async () => {
        const runs = await runsOf(issueIds);
        return runs.length === 40 && runs.every((run) => run.status === 'running' && run.processGroupId !== null) ? runs : null;
      },
      90_000,
      'all 40 runs to be running',
    );
    const held = (workerId: string) => running.filter((run) => run.workerId === workerId);
    expect(held('worker-a').length + held('worker-b').length).toBe(40);
    // The worker holding more runs "loses its host".
    const [crashedId, survivorId] = held('worker-a').length >= held('worker-b').length ? ['worker-a', 'worker-b'] : ['worker-b', 'worker-a'];
    const lost = held(crashedId);
    expect(lost.length).toBeGreaterThan(0);
    await Promise.all([
      workers.get(crashedId)!.kill(),
      ...lost.map(async (run) => {
        try {
          process.kill(-run.processGroupId!, 'SIGKILL');
        } catch {
          // it had just finished
        }
      }),
    ]);
    const lostIds = new Set(lost.map((run) => run.id));

    const runs = await allSettled(issueIds, 180_000);
    const finalRuns = runs.filter((run) => !lostIds.has(run.id));
    expect(runs.filter((run) => lostIds.has(run.id) && run.errorCode === 'process_lost').length).toBeGreaterThan(0);
    for (const run of lost) {
      const after = runs.find((each) => each.id === run.id)!;
      // Unless it finished in the instant before the crash, its process was lost.
      if (after.status === 'succeeded') continue;
      expect(after).toMatchObject({ status: 'failed', errorCode: 'process_lost' });
      const retries = runs.filter((each) => each.retryOfRunId === run.id);
      expect(retries, `retries of ${run.id}`).toHaveLength(1);
      expect(retries[0]).toMatchObject({ status: 'succeeded', workerId: survivorId });
    }
    for (const run of finalRuns.filter((each) => each.retryOfRunId === null)) expect(run.status, `run ${run.id}`).toBe('succeeded');
    // One run per issue, plus one retry for each lost one: never two.
    for (const issueId of issueIds) {
      const ofIssue = runs.filter((run) => issueOf(run) === issueId);
      expect(ofIssue.length).toBeLessThanOrEqual(2);
      expect(ofIssue.filter((run) => run.retryOfRunId !== null).length).toBeLessThanOrEqual(1);
    }
    expect(await prisma.heartbeatRun.count({ where: { companyId, status: { in: ['queued', 'running', 'scheduled_retry'] } } })).toBe(0);
    // No recovery issue: the only issues are the 40 the board made.
    expect(await prisma.issue.count({ where: { companyId } })).toBe(40);

    for (const run of runs) {
      const log = await expectSameThroughBothApis(run.id);
      if (run.status === 'succeeded') expect(log).toContain('work done, commenting');
      else expect(lostIds.has(run.id), `run ${run.id} ${run.status}`).toBe(true);
    }
    // Each board saw every run end, with the status the database holds.
    for (const stream of streams) {
      for (const run of runs) {
        await stream.waitFor(
          (message) => {
            if (message.event !== 'heartbeat.run.status') return false;
            const payload = JSON.parse(message.data);
            return payload.runId === run.id && payload.status === run.status;
          },
          30_000,
          `run ${run.id} ${run.status} on a board stream`,
        );
      }
    }
  }, 420_000);

  it('a rolling restart: each worker drains its agents within the grace and comes back; no run is lost or duplicated', async () => {
    if (workers.get('worker-a')!.exited()) await startWorker('worker-a', apis[0]);
    if (workers.get('worker-b')!.exited()) await startWorker('worker-b', apis[1]);
    const issueIds = await wakeAgents('roll', 16);
    await eventually(async () => ((await runsOf(issueIds)).filter((run) => run.status === 'running').length >= 8 ? true : null), 90_000, 'runs in flight');

    const drained = new Map<string, string>();
    for (const [workerId, api] of [['worker-b', apis[1]], ['worker-a', apis[0]]] as const) {
      const worker = workers.get(workerId)!;
      const inFlight = (await runsOf(issueIds)).filter((run) => run.status === 'running' && run.workerId === workerId);
      const stopped = worker.terminate();
      if (inFlight.length > 0) {
        // Draining: not ready, and the metrics say so, while its agents finish.
        const ready = await eventually(async () => {
          const answer = await fetch(`${worker.url}/api/ready`).catch(() => null);
          return answer?.status === 503 ? answer.json() : null;
        }, 10_000, `${workerId} to report draining`);
        expect(ready).toMatchObject({ ready: false, role: 'worker', worker: 'draining' });
        expect(await (await fetch(`${worker.url}/metrics`)).text()).toContain('vigil_worker_state{state="draining"} 1');
      }
      for (const run of inFlight) drained.set(run.id, workerId);
      // More work arrives while it drains: the other worker takes it.
      issueIds.push(...(await wakeAgents(`roll-${workerId}`, 4)));
      expect(await stopped).toBe(0);
      expect(worker.output()).not.toContain('failed');
      await startWorker(workerId, api);
    }

    const runs = await allSettled(issueIds, 180_000);
    const summary = runs.map((run) => `issue ${issueOf(run)}: run ${run.id} ${run.status} ${run.errorCode ?? ''} ${run.error ?? ''} retryOf=${run.retryOfRunId} ${run.workerId}`);
    expect(runs, summary.join('\n')).toHaveLength(issueIds.length);
    for (const run of runs) expect(run, `run ${run.id}`).toMatchObject({ status: 'succeeded', retryOfRunId: null });
    // The agents running when their worker was told to stop finished there, within the grace.
    expect(drained.size).toBeGreaterThan(0);
    for (const [runId, workerId] of drained) expect(runs.find((run) => run.id === runId)?.workerId).toBe(workerId);
    expect(new Set(runs.map(issueOf)).size).toBe(issueIds.length);
  }, 420_000);
});
