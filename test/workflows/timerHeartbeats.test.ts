/**
 * R70's timer heartbeats: every agent whose policy enables a timer has a Temporal Schedule of its
 * own (`vigil-heartbeat-<agentId>`) that starts `heartbeatTimerWorkflow` on the Vigil's task
 * queue; a tick enqueues the timer wake through R71 (so R70's and R74's gates apply) and starts
 * its run. The schedule follows the agent through the API, and Vigil's start reconciles the rest.
 * Ticks are fired with the schedule's `trigger()` unless a test is about the clock itself; every
 * schedule a test creates is deleted after it.
 */
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { Client, Connection, ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleHandle } from '@temporalio/client';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { agentScript, eventually, givenCompany, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import { heartbeatScheduleId } from '../../src/domain/heartbeatSchedule.ts';
import type { TimerTickResult } from '../../src/domain/timerTick.ts';
import { TERMINAL_RUN_STATUSES } from '../../src/domain/runStatus.ts';
import { HeartbeatSchedules } from '../../src/temporal/heartbeatSchedules.ts';
import { createLogger } from '../../src/logger.ts';

const ID_PREFIX = 'vigil-';
const run = promisify(execFile);
/** The README's `$T schedule <command> <args>  # …` lines: what an operator is told to type. */
const README_SCHEDULE_COMMANDS = [...readFileSync(new URL('../../README.md', import.meta.url), 'utf8').matchAll(/^\$T (schedule \w+.*?)\s+#/gm)].map((match) => match[1]);
const HOUR = 3_600;

let vigil: TestVigil;
const createdAgentIds: string[] = [];
const extraVigils: TestVigil[] = [];

beforeAll(async () => {
  vigil = await startTestVigil({ timerHeartbeats: { idPrefix: ID_PREFIX, reconcileAtStartup: false } });
});

afterEach(async () => {
  for (const extra of extraVigils.splice(0)) await extra.stop();
  for (const agentId of createdAgentIds.splice(0)) await scheduleOf(agentId).delete().catch(() => undefined);
});

afterAll(async () => {
  await vigil?.stop();
});

function scheduleOf(agentId: string): ScheduleHandle {
  return vigil.vigil.temporal.schedule.getHandle(heartbeatScheduleId(ID_PREFIX, agentId));
}

/** An agent created through the API with `runtimeConfig.heartbeat` = `heartbeat`; its agent prints its environment. */
async function givenTimerAgent(fixture: CompanyFixture, heartbeat: Record<string, unknown>, extra: { status?: string } = {}) {
  const response = await fixture.board.post(`/api/companies/${fixture.company.id}/agents`, {
    name: `timer-${randomUUID().slice(0, 6)}`,
    role: 'engineer',
    adapterType: 'process',
    adapterConfig: { command: agentScript('print-env.sh') },
    runtimeConfig: { heartbeat },
    ...extra,
  });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  createdAgentIds.push(response.body.id);
  return response.body as { id: string; name: string; companyId: string };
}

/** The agent's last heartbeat (or creation) `seconds` ago, so R70's interval has elapsed. */
async function givenLastHeartbeatAgo(agentId: string, seconds: number) {
  await vigil.vigil.prisma.agent.update({ where: { id: agentId }, data: { createdAt: new Date(Date.now() - seconds * 1000), lastHeartbeatAt: null } });
}

/** Fires one tick now (`temporal schedule trigger`) and returns what the tick workflow did. */
async function tick(agentId: string): Promise<{ result: TimerTickResult; workflowId: string }> {
  const schedule = scheduleOf(agentId);
  const taken = (await schedule.describe()).info.numActionsTaken;
  await schedule.trigger();
  const workflowId = await eventually(async () => {
    const described = await schedule.describe();
    return described.info.numActionsTaken > taken ? described.info.recentActions.at(-1)?.action.workflow.workflowId : null;
  }, 20_000, `a tick of ${agentId}`);
  const result = await vigil.vigil.temporal.workflow.getHandle(workflowId).result();
  return { result, workflowId };
}

/** The route answers within 5 s even when Temporal is slower; the sync it started goes on, so wait for it. */
async function expectNoSchedule(agentId: string) {
  await eventually(async () => (await scheduleOf(agentId).describe().then(() => false, (error: unknown) => error instanceof ScheduleNotFoundError)) || null, 30_000, `schedule of ${agentId} to be deleted`);
}

/** Waits until Temporal's schedule list (eventually consistent) shows exactly these of the agents' schedules. */
async function givenListed(agentIds: string[], expected: string[]) {
  const wanted = new Set(agentIds.map((agentId) => heartbeatScheduleId(ID_PREFIX, agentId)));
  const want = expected.map((agentId) => heartbeatScheduleId(ID_PREFIX, agentId)).sort();
  await eventually(async () => {
    const listed: string[] = [];
    for await (const schedule of vigil.vigil.temporal.schedule.list()) if (wanted.has(schedule.scheduleId)) listed.push(schedule.scheduleId);
    return JSON.stringify(listed.sort()) === JSON.stringify(want) ? true : null;
  }, 20_000, 'the schedule list');
}

function runsOf(agentId: string) {
  return vigil.vigil.prisma.heartbeatRun.findMany({ where: { agentId }, orderBy: { createdAt: 'asc' } });
}

describe('R70: one Temporal Schedule per agent with a timer', () => {
  it('an agent created with a timer gets its own Schedule: every intervalSec, overlap SKIP, heartbeatTimerWorkflow on this Vigil’s task queue, named for the agent', async () => {
    const fixture = await givenCompany(vigil.admin);
    const agent = await givenTimerAgent(fixture, { enabled: true, intervalSec: HOUR });
    const described = await scheduleOf(agent.id).describe();
    expect(described.scheduleId).toBe(`vigil-heartbeat-${agent.id}`);
    expect(described.spec.intervals).toEqual([{ every: HOUR * 1000, offset: expect.any(Number) }]);
    expect(described.spec.intervals![0].offset).toBeLessThan(HOUR * 1000);
    expect(described.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
    expect(described.state.paused).toBe(false);
    expect(described.state.note).toContain(agent.name);
    expect(described.memo).toEqual({ agentId: agent.id, companyId: fixture.company.id });
    expect(described.action).toMatchObject({
      type: 'startWorkflow',
      workflowType: 'heartbeatTimerWorkflow',
      taskQueue: vigil.taskQueue,
      workflowId: `vigil-heartbeat-${agent.id}`,
      args: [{ agentId: agent.id }],
      staticSummary: `Timer heartbeat · ${agent.name} · every ${HOUR} s`,
    });

    // Agents without a timer get none.
    const plain = await givenTimerAgent(fixture, { enabled: false, intervalSec: HOUR });
    const noInterval = await givenTimerAgent(fixture, { enabled: true });
    await expectNoSchedule(plain.id);
    await expectNoSchedule(noInterval.id);
  });

  it('on its own clock, a one-second timer wakes the agent again and again until the timer is disabled', async () => {
    const fixture = await givenCompany(vigil.admin);
    const agent = await givenTimerAgent(fixture, { enabled: true, intervalSec: 1 });
    const succeeded = await eventually(async () => {
      const runs = (await runsOf(agent.id)).filter((run) => run.status === 'succeeded');
      return runs.length >= 2 ? runs : null;
    }, 30_000, 'two timer runs to succeed');
    expect(succeeded.every((run) => run.invocationSource === 'timer')).toBe(true);

    expect((await fixture.board.patch(`/api/agents/${agent.id}`, { runtimeConfig: { heartbeat: { enabled: false, intervalSec: 1 } } })).status).toBe(200);
    await expectNoSchedule(agent.id);
    // A tick already under way when the schedule went finds the timer disabled (or its run finishes).
    await eventually(async () => ((await runsOf(agent.id)).every((run) => TERMINAL_RUN_STATUSES.includes(run.status as never)) ? true : null), 30_000, 'the last timer run to end');
  });

  it('a tick enqueues the timer wake through R71 and its run really runs: source timer, trigger system, reason heartbeat_timer, requested by heartbeat_scheduler', async () => {
    const fixture = await givenCompany(vigil.admin);
    const agent = await givenTimerAgent(fixture, { enabled: true, intervalSec: HOUR });

    // R70: created a moment ago, so the interval has not elapsed: nothing is enqueued.
    const early = await tick(agent.id);
    expect(early.result).toMatchObject({ agentId: agent.id, outcome: 'skipped', reason: 'interval_not_elapsed' });
    expect(await runsOf(agent.id)).toEqual([]);

    await givenLastHeartbeatAgo(agent.id, 2 * HOUR);
    const due = await tick(agent.id);
    expect(due.result).toMatchObject({ agentId: agent.id, outcome: 'queued', runId: expect.any(String), wakeId: expect.any(String) });
    const runId = (due.result as { runId: string }).runId;
    const run = await waitForRunStatus(vigil.vigil.prisma, runId, TERMINAL_RUN_STATUSES);
    expect(run.status).toBe('succeeded');
    expect(run.invocationSource).toBe('timer');
    expect(run.triggerDetail).toBe('system');
    expect(run.contextSnapshot).toMatchObject({ source: 'scheduler', reason: 'interval_elapsed', now: expect.any(String), wakeReason: 'heartbeat_timer', wakeSource: 'timer', wakeTriggerDetail: 'system' });
    // The agent process itself was told why it woke.
    expect(run.resultJson).toMatchObject({ env: { VIGIL_WAKE_REASON: 'heartbeat_timer', VIGIL_RUN_ID: runId } });
    const wake = await vigil.vigil.prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: (due.result as { wakeId: string }).wakeId } });
    expect(wake).toMatchObject({ source: 'timer', triggerDetail: 'system', reason: 'heartbeat_timer', requestedByActorType: 'system', requestedByActorId: 'heartbeat_scheduler', idempotencyKey: expect.stringMatching(new RegExp(`^${due.workflowId}/`)), runId });
    expect((await vigil.vigil.prisma.agent.findUniqueOrThrow({ where: { id: agent.id } })).lastHeartbeatAt).not.toBeNull();

    // R70: the run that just happened counts: the next tick within the interval enqueues nothing.
    const after = await tick(agent.id);
    expect(after.result).toMatchObject({ outcome: 'skipped', reason: 'interval_not_elapsed' });
    expect(await runsOf(agent.id)).toHaveLength(1);
  });

  it('a tick over a budget hard stop writes a skipped budget.blocked wake, starts no run, and completes', async () => {
    const fixture = await givenCompany(vigil.admin);
    const agent = await givenTimerAgent(fixture, { enabled: true, intervalSec: HOUR });
    await givenLastHeartbeatAgo(agent.id, 2 * HOUR);
    const policy = await fixture.board.post(`/api/companies/${fixture.company.id}/budget-policies`, { scopeType: 'company', scopeId: fixture.company.id, metric: 'billed_cents', windowKind: 'lifetime', amount: 1, hardStopEnabled: true });
    expect(policy.status, JSON.stringify(policy.body)).toBe(201);
    expect((await fixture.board.post(`/api/companies/${fixture.company.id}/cost-events`, { agentId: agent.id, provider: 'test', model: 'test', costCents: 1 })).status).toBe(201);

    const { result, workflowId } = await tick(agent.id);
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'budget.blocked', wakeId: expect.any(String), message: expect.stringContaining('budget') });
    const wake = await vigil.vigil.prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: (result as { wakeId: string }).wakeId } });
    expect(wake).toMatchObject({ status: 'skipped', reason: 'budget.blocked', source: 'timer', requestedByActorId: 'heartbeat_scheduler', runId: null });
    expect(await runsOf(agent.id)).toEqual([]);
    expect((await vigil.vigil.temporal.workflow.getHandle(workflowId).describe()).status.name).toBe('COMPLETED');
  });

  it('a tick for an agent whose timer was switched off behind the API’s back writes a skipped heartbeat.disabled wake (R71 step 5)', async () => {
    const fixture = await givenCompany(vigil.admin);
    const agent = await givenTimerAgent(fixture, { enabled: true, intervalSec: HOUR });
    await givenLastHeartbeatAgo(agent.id, 2 * HOUR);
    await vigil.vigil.prisma.agent.update({ where: { id: agent.id }, data: { runtimeConfig: { heartbeat: { enabled: false, intervalSec: HOUR } } } });

    const { result } = await tick(agent.id);
    expect(result).toMatchObject({ outcome: 'skipped', reason: 'heartbeat.disabled', wakeId: expect.any(String) });
    expect(await vigil.vigil.prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: (result as { wakeId: string }).wakeId } })).toMatchObject({ status: 'skipped', source: 'timer' });
    expect(await runsOf(agent.id)).toEqual([]);
  });
});

describe('the schedule follows the agent', () => {
  it('pausing the agent pauses its schedule, and resuming it unpauses it', async () => {
    const fixture = await givenCompany(vigil.admin);
    const agent = await givenTimerAgent(fixture, { enabled: true, intervalSec: HOUR });
    expect((await fixture.board.post(`/api/agents/${agent.id}/pause`, {})).status).toBe(200);
    const paused = await scheduleOf(agent.id).describe();
    expect(paused.state.paused).toBe(true);
    expect(paused.state.note).toContain('paused');

    expect((await fixture.board.post(`/api/agents/${agent.id}/resume`, {})).status).toBe(200);
    expect((await scheduleOf(agent.id).describe()).state.paused).toBe(false);

    // Created paused (or pending approval): the schedule starts paused.
    const pending = await givenTimerAgent(fixture, { enabled: true, intervalSec: HOUR }, { status: 'pending_approval' });
    expect((await scheduleOf(pending.id).describe()).state.paused).toBe(true);
  });

  it('a new interval updates the schedule; disabling the timer or an interval of 0 deletes it, enabling it again creates it', async () => {
    const fixture = await givenCompany(vigil.admin);
    const agent = await givenTimerAgent(fixture, { enabled: true, intervalSec: HOUR });
    const patch = (heartbeat: Record<string, unknown>) => fixture.board.patch(`/api/agents/${agent.id}`, { runtimeConfig: { heartbeat } });

    expect((await patch({ enabled: true, intervalSec: 2 * HOUR })).status).toBe(200);
    const updated = await scheduleOf(agent.id).describe();
    expect(updated.spec.intervals?.[0].every).toBe(2 * HOUR * 1000);
    expect(updated.action.staticSummary).toContain(`every ${2 * HOUR} s`);

    // A rename reaches the ticks' summary in Temporal UI.
    expect((await fixture.board.patch(`/api/agents/${agent.id}`, { name: 'renamed-timer' })).status).toBe(200);
    expect((await scheduleOf(agent.id).describe()).action.staticSummary).toBe(`Timer heartbeat · renamed-timer · every ${2 * HOUR} s`);

    expect((await patch({ enabled: false, intervalSec: 2 * HOUR })).status).toBe(200);
    await expectNoSchedule(agent.id);
    expect((await patch({ enabled: true, intervalSec: 60 })).status).toBe(200);
    expect((await scheduleOf(agent.id).describe()).spec.intervals?.[0].every).toBe(60_000);
    expect((await patch({ enabled: true, intervalSec: 0 })).status).toBe(200);
    await expectNoSchedule(agent.id);
  });

  it('Vigil’s start-up reconcile creates a missing schedule, pauses one whose agent was paused meanwhile, and deletes orphans', async () => {
    const fixture = await givenCompany(vigil.admin);
    const prisma = vigil.vigil.prisma;
    // Temporal lost this one (or it was never created): the database still asks for it.
    const missing = await givenTimerAgent(fixture, { enabled: true, intervalSec: HOUR });
    await scheduleOf(missing.id).delete();
    // Changed in the database while no Vigil ran: timer off, agent paused, agent gone.
    const switchedOff = await givenTimerAgent(fixture, { enabled: true, intervalSec: HOUR });
    await prisma.agent.update({ where: { id: switchedOff.id }, data: { runtimeConfig: { heartbeat: { enabled: false } } } });
    const pausedMeanwhile = await givenTimerAgent(fixture, { enabled: true, intervalSec: HOUR });
    await prisma.agent.update({ where: { id: pausedMeanwhile.id }, data: { status: 'paused' } });
    const deleted = await givenTimerAgent(fixture, { enabled: true, intervalSec: HOUR });
    await prisma.agent.delete({ where: { id: deleted.id } });
    const untouched = await givenTimerAgent(fixture, { enabled: true, intervalSec: HOUR });
    const untouchedBefore = (await scheduleOf(untouched.id).describe()).info.lastUpdatedAt;
    const all = [missing, switchedOff, pausedMeanwhile, deleted, untouched].map((agent) => agent.id);
    await givenListed(all, [switchedOff.id, pausedMeanwhile.id, deleted.id, untouched.id]);

    // A Vigil starting on the same task queue, reconciling this company (as npm start does every company).
    const lines: string[] = [];
    const restarted = await startTestVigil({
      taskQueue: vigil.taskQueue,
      logLevel: 'info',
      onLogLine: (line) => lines.push(line),
      timerHeartbeats: { idPrefix: ID_PREFIX, companyId: fixture.company.id, reconcileAtStartup: true },
    });
    extraVigils.push(restarted);
    const reconciled = await eventually(async () => lines.map((line) => JSON.parse(line)).find((line) => line.msg === 'timer heartbeat schedules reconciled'), 30_000, 'the start-up reconcile');
    expect(reconciled).toMatchObject({ checked: 5, create: 1, pause: 1, delete: 2, none: 1, failed: 0 });

    expect((await scheduleOf(missing.id).describe()).action).toMatchObject({ workflowType: 'heartbeatTimerWorkflow', taskQueue: vigil.taskQueue });
    expect((await scheduleOf(pausedMeanwhile.id).describe()).state.paused).toBe(true);
    await expectNoSchedule(switchedOff.id);
    await expectNoSchedule(deleted.id);
    expect((await scheduleOf(untouched.id).describe()).info.lastUpdatedAt).toEqual(untouchedBefore);
  });

  it('when Temporal cannot be reached the agent change still stands, with a warning; the next reconcile creates the schedule', async () => {
    const fixture = await givenCompany(vigil.admin);
    const agent = await givenTimerAgent(fixture, { enabled: true, intervalSec: HOUR });
    await scheduleOf(agent.id).delete();
    // A client whose connection is gone: every Temporal call fails at once.
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    const unreachable = new Client({ connection, namespace: inject('temporalNamespace') });
    await connection.close();
    const warnings: Array<Record<string, unknown>> = [];
    const logger = createLogger('warn', {}, (line) => warnings.push(JSON.parse(line)));
    const options = { taskQueue: vigil.taskQueue, idPrefix: ID_PREFIX, companyId: fixture.company.id };
    const cutOff = new HeartbeatSchedules({ client: unreachable, prisma: vigil.vigil.prisma, logger }, options);
    const row = await vigil.vigil.prisma.agent.findUniqueOrThrow({ where: { id: agent.id } });

    await expect(cutOff.afterAgentChange(null, row)).resolves.toBeUndefined();
    expect(warnings).toEqual([expect.objectContaining({ level: 'warn', msg: expect.stringContaining("Vigil's next start reconciles"), agentId: agent.id, scheduleId: `vigil-heartbeat-${agent.id}` })]);
    await expectNoSchedule(agent.id);

    const reconciled = await new HeartbeatSchedules({ client: vigil.vigil.temporal, prisma: vigil.vigil.prisma, logger }, options).reconcile();
    expect(reconciled).toMatchObject({ checked: 1, changes: { create: 1 }, failed: 0, changedAgentIds: [agent.id] });
    expect((await scheduleOf(agent.id).describe()).state.paused).toBe(false);
  });

  it('the README’s `temporal schedule` commands list, describe and trigger an agent’s schedule; its ticks are found by type and agent', async () => {
    expect(README_SCHEDULE_COMMANDS.map((command) => command.split(' ')[1]).sort()).toEqual(['describe', 'list', 'trigger']);
    const fixture = await givenCompany(vigil.admin);
    const agent = await givenTimerAgent(fixture, { enabled: true, intervalSec: HOUR });
    const cli = async (command: string) => {
      const args = command.replace('<agentId>', agent.id).split(/\s+/);
      const { stdout } = await run(inject('temporalCliPath'), [...args, '--output', 'json', '--address', inject('temporalAddress'), '--namespace', inject('temporalNamespace')]);
      return stdout;
    };
    const command = (name: string) => README_SCHEDULE_COMMANDS.find((line) => line.startsWith(`schedule ${name}`))!;

    await eventually(async () => (await cli(command('list'))).includes(`vigil-heartbeat-${agent.id}`), 20_000, 'the CLI to list the schedule');
    const described = JSON.parse(await cli(command('describe')));
    expect(JSON.stringify(described)).toContain('heartbeatTimerWorkflow');
    const taken = (await scheduleOf(agent.id).describe()).info.numActionsTaken;
    await cli(command('trigger'));
    const tickId = await eventually(async () => {
      const info = (await scheduleOf(agent.id).describe()).info;
      return info.numActionsTaken > taken ? info.recentActions.at(-1)?.action.workflow.workflowId : null;
    }, 20_000, 'the triggered tick');
    expect(await vigil.vigil.temporal.workflow.getHandle(tickId).result()).toMatchObject({ outcome: 'skipped', reason: 'interval_not_elapsed' });

    const query = `WorkflowType='heartbeatTimerWorkflow' AND VigilAgentId='${agent.id}'`;
    const ticks = await eventually(async () => {
      const found: string[] = [];
      for await (const execution of vigil.vigil.temporal.workflow.list({ query })) found.push(execution.workflowId);
      return found.length > 0 ? found : null;
    }, 20_000, 'the tick in the workflow list');
    expect(ticks).toEqual([tickId]);
  });
});
