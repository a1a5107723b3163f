/**
 * Issue 13: agents outlive their worker. An `api` process and `worker` processes started the way
 * a user starts them (VIGIL_ROLE), all of one host (VIGIL_HOST_ID) and its agent supervisor,
 * against a scratch database and the test run's Temporal. Each agent ticks for a while, printing
 * one numbered line at a time, notes each start of itself in a file, then reports its result.
 *
 * - SIGKILL the worker mid-run and start a new one (before the heartbeat timeout, or after it but
 *   within the reattach window), or SIGTERM it (a deploy, VIGIL_SHUTDOWN_MODE=detach): the new
 *   worker reattaches; the run succeeds with the agent's own summary and its whole log, every line
 *   once; the agent started once; no other run exists.
 * - SIGKILL the agent while no worker is attached: once a worker is back, process_lost with one
 *   retry, which succeeds.
 * - Cancel the run while its worker is down: the group is killed when the cancel is processed,
 *   and the run is `cancelled`, with no retry.
 */
import { readFile, rm } from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPrismaClient, type PrismaClient } from '../../src/store/db.ts';
import { generateAdminToken } from '../../src/auth/tokens.ts';
import { TERMINAL_RUN_STATUSES } from '../../src/domain/runStatus.ts';
import { isProcessGroupAlive } from '../../src/adapters/processGroup.ts';
import { ApiClient } from '../support/apiClient.ts';
import { agentScript, eventually } from '../support/fixtures.ts';
import { createScratchDatabase } from '../support/scratchDatabase.ts';
import { endSupervisedAgents } from '../support/supervisorCleanup.ts';
import { endInstanceSweeper, RoleProcesses, type RoleProcess } from '../support/roleProcess.ts';

const INSTANCE = `outlive${Date.now().toString(36)}`;
/** Long enough for a new worker process (which bundles the workflows under tsx) to start before it. */
const HEARTBEAT_TIMEOUT_SEC = 12;
const REATTACH_WINDOW_SEC = 120;
const processes = new RoleProcesses();
const scratchDir = mkdtempSync(path.join(os.tmpdir(), 'vigil-outlive-'));
let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
let prisma: PrismaClient;
let sharedEnv: Record<string, string>;
let api: RoleProcess;
let board: ApiClient;
let companyId = '';
let workerCount = 0;

function startWorker(env: Record<string, string> = {}): Promise<RoleProcess> {
  workerCount++;
  return processes.start({ name: `worker-${workerCount}`, role: 'worker', env: { ...sharedEnv, VIGIL_WORKER_ID: `worker-${workerCount}`, VIGIL_API_URL: api.url, ...env } });
}

beforeAll(async () => {
  scratch = await createScratchDatabase(inject('databaseUrl'), 'vigil_outlive');
  prisma = createPrismaClient(scratch.url, 4);
  sharedEnv = {
    DATABASE_URL: scratch.url,
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_NAMESPACE: inject('temporalNamespace'),
    VIGIL_TASK_QUEUE: `vigil-outlive-${INSTANCE}`,
    VIGIL_INSTANCE_ID: INSTANCE,
    VIGIL_ADMIN_TOKEN: generateAdminToken(),
    VIGIL_HOST_ID: `host-${INSTANCE}`,
    // This file's own supervisor: what a failed test leaves there is ended after it, and nothing else.
    VIGIL_SUPERVISOR_DIR: path.join(scratchDir, 'supervisor'),
    VIGIL_ADAPTER_HEARTBEAT_TIMEOUT_MS: String(HEARTBEAT_TIMEOUT_SEC * 1000),
    VIGIL_REATTACH_WINDOW_SEC: String(REATTACH_WINDOW_SEC),
    VIGIL_SHUTDOWN_GRACE_SEC: '5',
    VIGIL_RECOVERY_INTERVAL_MS: '10000',
  };
  api = await processes.start({ name: 'api', role: 'api', env: sharedEnv });
  board = new ApiClient(api.url, sharedEnv.VIGIL_ADMIN_TOKEN);
  const company = await board.post('/api/companies', { name: 'Outlive', issuePrefix: 'OUT' });
  expect(company.status).toBe(201);
  companyId = company.body.id;
}, 180_000);

afterAll(async () => {
  await processes.stopAll();
  // Agents a failed test (or a detaching stop) left to the supervisor, and the supervisor itself.
  await endSupervisedAgents(sharedEnv.VIGIL_SUPERVISOR_DIR);
  await prisma?.$disconnect();
  await scratch?.drop();
  await endInstanceSweeper(inject('temporalAddress'), inject('temporalNamespace'), INSTANCE);
  await rm(scratchDir, { recursive: true, force: true });
}, 120_000);

interface Woken {
  runId: string;
  issueId: string;
  startLog: string;
  ticks: number;
}

/** An issue assigned to an agent of its own that ticks `ticks` times, 0.5 s apart; its run once it runs with a process. */
async function wakeTicker(label: string, ticks: number): Promise<Woken & { processGroupId: number }> {
  const startLog = path.join(scratchDir, `${label}.starts`);
  const agent = await board.post(`/api/companies/${companyId}/agents`, {
    name: label,
    adapterConfig: { command: agentScript('counts-slowly.sh'), env: { TICKS: String(ticks), START_LOG: startLog } },
  });
  expect(agent.status).toBe(201);
  const issue = await board.post(`/api/companies/${companyId}/issues`, { title: label, status: 'todo', assigneeAgentId: agent.body.id });
  expect(issue.status).toBe(201);
  const run = await eventually(async () => {
    const runs = await prisma.heartbeatRun.findMany({ where: { companyId, agentId: agent.body.id } });
    return runs.length === 1 && runs[0].processGroupId !== null && runs[0].status === 'running' ? runs[0] : null;
  }, 90_000, `${label}'s agent to start`);
  // Some output is stored before the worker goes: the new one must continue after it, not repeat it.
  await eventually(async () => ((await prisma.heartbeatRun.findUnique({ where: { id: run.id } }))!.recordedStdoutChars > 10n ? true : null), 30_000, `${label}'s first output to be stored`);
  return { runId: run.id, issueId: issue.body.id, startLog, ticks, processGroupId: run.processGroupId! };
}

async function ended(runId: string, timeoutMs = 150_000) {
  return eventually(async () => {
    const run = await prisma.heartbeatRun.findUnique({ where: { id: runId } });
    return run && (TERMINAL_RUN_STATUSES as readonly string[]).includes(run.status) ? run : null;
  }, timeoutMs, `run ${runId} to end`);
}

/** The run ended as the agent itself ended: its summary, every tick in its log exactly once, one start, one run. */
async function expectCompletedOnce(woken: Woken) {
  const run = await ended(woken.runId);
  expect(run, `${run.error}`).toMatchObject({ status: 'succeeded', exitCode: 0, errorCode: null });
  expect(run.resultJson).toMatchObject({ summary: `counted to ${woken.ticks}` });
  const log = await board.get(`/api/heartbeat-runs/${woken.runId}/log?limitBytes=1000000`);
  expect(log.status).toBe(200);
  const lines = (log.body.content as string).trim().split('\n').map((line) => JSON.parse(line) as { stream: string; chunk: string });
  const stdout = lines.filter((line) => line.stream === 'stdout').map((line) => line.chunk).join('');
  for (let tick = 1; tick <= woken.ticks; tick++) {
    expect(stdout.split('\n').filter((line) => line === `tick ${tick}`), `tick ${tick} in the log`).toHaveLength(1);
  }
  expect(stdout).toContain(`"summary":"counted to ${woken.ticks}"`);
  // The live events carry the same output, once.
  const events = await board.get(`/api/heartbeat-runs/${woken.runId}/events?limit=1000`);
  const logged = (events.body as Array<{ eventType: string; stream: string; message: string }>).filter((event) => event.eventType === 'log' && event.stream === 'stdout').map((event) => event.message).join('');
  expect(logged).toBe(stdout);
  expect((events.body as Array<{ eventType: string }>).filter((event) => event.eventType === 'adapter.reattach').length).toBeGreaterThan(0);
  // The agent ran once, in one run.
  expect((await readFile(woken.startLog, 'utf8')).trim().split('\n')).toHaveLength(1);
  expect(await prisma.heartbeatRun.count({ where: { companyId, contextSnapshot: { path: ['issueId'], equals: woken.issueId } } })).toBe(1);
  return run;
}

describe('agents outlive their worker', () => {
  it('a worker SIGKILLed mid-run: a new worker started within the heartbeat timeout reattaches, and the run ends as the agent did', async () => {
    const first = await startWorker();
    const woken = await wakeTicker('crash-fast', 50);
    await first.kill();
    const second = await startWorker();
    const run = await expectCompletedOnce(woken);
    expect(run.workerId).toBe(second.name);
    expect(await (await fetch(`${second.url}/metrics`)).text()).toContain('vigil_agent_handovers_total{how="reattached"} 1');
    await second.terminate();
  }, 300_000);

  it('a deploy: SIGTERM detaches (the worker exits at once, the agent runs on) and the next worker reattaches', async () => {
    const first = await startWorker();
    const woken = await wakeTicker('deploy', 50);
    const stoppingAt = Date.now();
    expect(await first.terminate()).toBe(0);
    // Detaching does not wait for the agent (25 s) nor the grace (5 s).
    expect(Date.now() - stoppingAt).toBeLessThan(5_000);
    expect(await isProcessGroupAlive(woken.processGroupId)).toBe(true);
    const second = await startWorker();
    const run = await expectCompletedOnce(woken);
    expect(run.workerId).toBe(second.name);
    await second.terminate();
  }, 300_000);

  it('a worker back after the heartbeat timeout, within the reattach window, still reattaches', async () => {
    const first = await startWorker();
    const woken = await wakeTicker('crash-slow', 70);
    await first.kill();
    // The adapter activity times out with no worker on the host; the run waits for one.
    await new Promise((resolve) => setTimeout(resolve, (HEARTBEAT_TIMEOUT_SEC + 4) * 1000));
    expect(await prisma.heartbeatRun.findUnique({ where: { id: woken.runId } })).toMatchObject({ status: 'running' });
    expect(await isProcessGroupAlive(woken.processGroupId)).toBe(true);
    const second = await startWorker();
    await expectCompletedOnce(woken);
    await second.terminate();
  }, 300_000);

  it('the agent killed while no worker is attached: process_lost and one retry once a worker is back', async () => {
    const first = await startWorker();
    const woken = await wakeTicker('agent-killed', 16);
    await first.kill();
    process.kill(-woken.processGroupId, 'SIGKILL');
    const second = await startWorker();
    const run = await ended(woken.runId);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'process_lost' });
    const retries = await prisma.heartbeatRun.findMany({ where: { retryOfRunId: woken.runId } });
    expect(retries).toHaveLength(1);
    expect(await ended(retries[0].id)).toMatchObject({ status: 'succeeded', workerId: second.name });
    // The first start and the retry's: two starts, two runs, never a third.
    expect((await readFile(woken.startLog, 'utf8')).trim().split('\n')).toHaveLength(2);
    expect(await prisma.heartbeatRun.count({ where: { companyId, contextSnapshot: { path: ['issueId'], equals: woken.issueId } } })).toBe(2);
    await second.terminate();
  }, 300_000);

  it('a run cancelled while its worker is down: the group is killed when the cancel is processed, and the run is cancelled', async () => {
    const first = await startWorker();
    const woken = await wakeTicker('cancelled', 200);
    await first.kill();
    expect(await isProcessGroupAlive(woken.processGroupId)).toBe(true);
    const second = await startWorker();
    const cancelled = await board.post(`/api/heartbeat-runs/${woken.runId}/cancel`, { reason: 'stop it' });
    expect(cancelled.status).toBe(200);
    const run = await ended(woken.runId, 60_000);
    expect(run).toMatchObject({ status: 'cancelled' });
    await eventually(async () => ((await isProcessGroupAlive(woken.processGroupId)) ? null : true), 30_000, 'the agent group to be gone');
    // Not a lost process: no process-loss retry (the in-progress issue may be continued, R53).
    const retries = await prisma.heartbeatRun.findMany({ where: { retryOfRunId: woken.runId } });
    expect(retries.filter((retry) => (retry.contextSnapshot as { retryReason?: string }).retryReason === 'process_lost')).toEqual([]);
    expect(run).toMatchObject({ errorCode: 'cancelled', error: 'stop it' });
    await second.terminate();
  }, 300_000);
});
