/**
 * R68's scheduler loop as one long-lived Temporal workflow per Vigil instance: it runs the chain
 * on its interval, `sweepNow` runs a pass at once and answers with it, `pause` stops the periodic
 * passes (no timer left in the history), continue-as-new keeps its state, every Vigil start
 * makes one startup pass through the one sweeper, and the namespace's workflow list holds nothing
 * else of it. Each sweeper here is scoped to its test's company (the database is shared by every
 * test file) and terminated after its test.
 */
import { randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { ScheduleNotFoundError, ScheduleOverlapPolicy, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { eventually, givenAgent, givenCompany, givenIssue, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import { ensureRecoverySweeper, recoverySweeperHandle, type RecoverySweeperOptions } from '../../src/temporal/recoverySweeperClient.ts';
import {
  configureSweeperSignal,
  pauseSweepsSignal,
  recoverySweeperStatusQuery,
  resumeSweepsSignal,
  sweepNowUpdate,
  type recoverySweeperWorkflow,
} from '../../src/workflows/recoverySweeper.ts';
import { reapOrphanedRunsWorkflow, reconcileStrandedWorkWorkflow } from '../../src/workflows/recoverySweeps.ts';
import { legacyRecoveryScheduleIds, recoverySweeperWorkflowId, type RecoverySweeperStatus } from '../../src/domain/recoverySweeper.ts';
import { TERMINAL_RUN_STATUSES as TERMINAL } from '../../src/domain/runStatus.ts';
import { exportWorkflowHistory, type HistoryJson } from '../../scripts/histories/exportHistory.ts';
import { factsOf, localActivityTypes } from '../replay/historyFacts.ts';

const YEAR_MS = 365 * 24 * 3_600_000;
const run = promisify(execFile);
type Sweeper = WorkflowHandle<typeof recoverySweeperWorkflow>;

let vigil: TestVigil;
const sweepers: string[] = [];
const extraVigils: TestVigil[] = [];

beforeAll(async () => {
  vigil = await startTestVigil();
});

afterEach(async () => {
  for (const stop of extraVigils.splice(0).map((extra) => extra.stop)) await stop();
  for (const workflowId of sweepers.splice(0)) await vigil.vigil.temporal.workflow.getHandle(workflowId).terminate('test over').catch(() => undefined);
});

afterAll(async () => {
  await vigil?.stop();
});

/** A sweeper of its own (fresh id prefix) on this file's worker, sweeping only `companyId`. */
async function givenSweeper(companyId: string, options: Partial<RecoverySweeperOptions> = {}): Promise<Sweeper> {
  const idPrefix = options.idPrefix ?? `test-${randomUUID()}-`;
  sweepers.push(recoverySweeperWorkflowId(idPrefix));
  return ensureRecoverySweeper(vigil.vigil.temporal, { taskQueue: vigil.taskQueue, idPrefix, intervalMs: YEAR_MS, companyId, ...options });
}

/** Another Vigil (API + worker) with the sweeper on, as `npm start` runs it; stopped after the test. */
async function givenVigilWithSweeper(options: { taskQueue: string; idPrefix: string; companyId: string; intervalMs?: number; historyBudget?: { events: number; bytes: number } }) {
  sweepers.push(recoverySweeperWorkflowId(options.idPrefix));
  const extra = await startTestVigil({
    taskQueue: options.taskQueue,
    recoverySweeper: { idPrefix: options.idPrefix, intervalMs: options.intervalMs ?? YEAR_MS, companyId: options.companyId, historyBudget: options.historyBudget, runAtStartup: true },
  });
  extraVigils.push(extra);
  return extra;
}

const statusOf = (sweeper: Sweeper) => sweeper.query(recoverySweeperStatusQuery);

function statusWhen(sweeper: Sweeper, what: string, check: (status: RecoverySweeperStatus) => boolean, timeoutMs = 20_000) {
  return eventually(async () => {
    const status = await statusOf(sweeper);
    return check(status) ? status : null;
  }, timeoutMs, what);
}

/** The history as `temporal workflow show --output json` prints it (what the replay tests read). */
function historyOf(workflowId: string, runId?: string): Promise<HistoryJson> {
  return exportWorkflowHistory({ binary: inject('temporalCliPath'), address: inject('temporalAddress'), namespace: inject('temporalNamespace') }, workflowId, runId);
}

/** A `running` row whose workflow never existed and whose pid is dead: an orphan (R16). */
async function givenOrphan(fixture: CompanyFixture) {
  const agent = await givenAgent(fixture, { script: 'succeed.sh' });
  const issue = await givenStrandedFreeIssue(fixture, agent.id, 'in_progress');
  const prisma = vigil.vigil.prisma;
  const orphan = await prisma.heartbeatRun.create({
    data: { companyId: fixture.company.id, agentId: agent.id, status: 'running', invocationSource: 'assignment', triggerDetail: 'system', contextSnapshot: { issueId: issue.id, taskId: issue.id }, processPid: 999_999_999, processGroupId: 999_999_999, startedAt: new Date() },
  });
  await prisma.issue.update({ where: { id: issue.id }, data: { checkoutRunId: orphan.id, executionRunId: orphan.id } });
  return { orphan, issue };
}

/** An agent-assigned issue moved to `status` without waking its agent. */
async function givenStrandedFreeIssue(fixture: CompanyFixture, agentId: string, status: 'todo' | 'in_progress') {
  const issue = await givenIssue(fixture, { status: 'backlog', assigneeAgentId: agentId });
  return vigil.vigil.prisma.issue.update({ where: { id: issue.id }, data: { status } });
}

/** An assigned `todo` issue whose only run was lost: stranded work the sweep dispatches again (R50). */
async function givenStrandedIssue(fixture: CompanyFixture) {
  const agent = await givenAgent(fixture, { script: 'succeed.sh' });
  const issue = await givenStrandedFreeIssue(fixture, agent.id, 'todo');
  const died = await vigil.vigil.prisma.heartbeatRun.create({
    data: { companyId: fixture.company.id, agentId: agent.id, status: 'failed', errorCode: 'process_lost', error: 'lost', contextSnapshot: { issueId: issue.id, taskId: issue.id }, finishedAt: new Date() },
  });
  return { issue, died };
}

/** Cancels whatever the company still has queued, running or scheduled. */
async function settle(fixture: CompanyFixture) {
  const live = await vigil.vigil.prisma.heartbeatRun.findMany({ where: { companyId: fixture.company.id, status: { in: ['queued', 'running', 'scheduled_retry'] } } });
  for (const run of live) await fixture.board.post(`/api/heartbeat-runs/${run.id}/cancel`, {});
}

async function scrape(): Promise<string> {
  return (await fetch(`${vigil.apiUrl}/metrics`)).text();
}

/** How much one sample (`name{labels}`) grew between two scrapes. */
function metricDelta(before: string, after: string, name: string, labels: Record<string, string>): number {
  const value = (text: string) => {
    const wanted = Object.entries(labels).map(([key, label]) => `${key}="${label}"`);
    const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{`) && wanted.every((label) => candidate.includes(label)));
    return line ? Number(line.split(' ').at(-1)) : 0;
  };
  return value(after) - value(before);
}

/** `temporal workflow …` as an operator types it (README), against the test's Temporal. */
async function cli(...args: string[]): Promise<string> {
  const { stdout } = await run(inject('temporalCliPath'), ['workflow', ...args, '--address', inject('temporalAddress'), '--namespace', inject('temporalNamespace')]);
  return stdout;
}

/** The event types between the first signal named `from` and the next signal named `to`. */
function eventsBetweenSignals(history: HistoryJson, from: string, to: string): string[] {
  const between: string[] = [];
  let inside = false;
  for (const event of history.events) {
    const signal = (event as { workflowExecutionSignaledEventAttributes?: { signalName?: string } }).workflowExecutionSignaledEventAttributes?.signalName;
    if (inside && signal === to) return between;
    if (inside) between.push(event.eventType.replace(/^EVENT_TYPE_/, ''));
    if (!inside && signal === from) inside = true;
  }
  throw new Error(`no ${from} … ${to} signals in the history`);
}

describe('the recovery sweeper', () => {
  it('runs the recovery chain on its interval, each pass one local activity of its one execution', async () => {
    const acme = await givenCompany(vigil.admin);
    const { issue, died } = await givenStrandedIssue(acme);
    const before = await scrape();
    const sweeper = await givenSweeper(acme.company.id, { intervalMs: 300 });

    const status = await statusWhen(sweeper, 'two periodic passes', (s) => s.passes.periodic >= 2);
    expect(status).toMatchObject({ intervalMs: 300, paused: [], execution: 1, passes: { startup: 0, operator: 0 } });
    expect(status.lastPass).toMatchObject({ trigger: 'periodic', sweeps: ['reap', 'reconcile'], failedSteps: [] });
    // The first pass dispatched the stranded issue once (R50), and its run was started.
    const retries = await vigil.vigil.prisma.heartbeatRun.findMany({ where: { retryOfRunId: died.id } });
    expect(retries).toHaveLength(1);
    expect(retries[0].contextSnapshot).toMatchObject({ issueId: issue.id, retryReason: 'assignment_recovery' });
    expect((await waitForRunStatus(vigil.vigil.prisma, retries[0].id, TERMINAL)).status).toBe('succeeded');

    await sweeper.signal(pauseSweepsSignal);
    const paused = await statusWhen(sweeper, 'the pause', (s) => s.nextDueAt === null);
    const facts = factsOf(await historyOf(sweeper.workflowId));
    expect(localActivityTypes(facts)).toEqual(Array(paused.passes.periodic).fill('runRecoveryPass'));
    expect(facts.localActivities[0].result).toMatchObject({ failedSteps: [], reap: { staleThresholdMs: 300_000, reaped: 0 }, reconcile: { dispatchRequeued: 1, issueIds: [issue.id] } });
    expect(facts.scheduledActivities).toEqual([]);
    expect(facts.events.filter((event) => event === 'TIMER_FIRED').length).toBeGreaterThanOrEqual(2);
    // Every pass moved the sweep metrics of each of its steps.
    const after = await scrape();
    for (const sweep of ['orphan_reaper', 'scheduled_retry_promotion', 'queue_resume', 'stranded_sweep']) {
      expect(metricDelta(before, after, 'vigil_sweep_runs_total', { sweep, result: 'ok' }), sweep).toBe(paused.passes.periodic);
    }
    expect(metricDelta(before, after, 'vigil_sweep_items_total', { sweep: 'stranded_sweep', outcome: 'dispatch_requeued' })).toBe(1);
    await settle(acme);
  });

  it('goes on with the chain when a step fails (R68), and says which steps failed', async () => {
    const before = await scrape();
    // A scope PostgreSQL cannot read as a company id makes every step's query fail, for real.
    // A year's interval while the metrics are compared: the pass asked for is the only one.
    const sweeper = await givenSweeper('not-a-company-id');
    const pass = await sweeper.executeUpdate(sweepNowUpdate, { args: [{}] });
    expect(pass.failedSteps).toEqual(['reapOrphanedRuns', 'promoteDueScheduledRetries', 'resumeQueuedRuns', 'reconcileStrandedAssignedIssues']);
    expect(pass).toMatchObject({ reap: { reaped: 0, runIds: [] }, reconcile: null });
    const after = await scrape();
    expect(metricDelta(before, after, 'vigil_sweep_runs_total', { sweep: 'orphan_reaper', result: 'error' })).toBe(1);
    expect(metricDelta(before, after, 'vigil_sweep_runs_total', { sweep: 'stranded_sweep', result: 'error' })).toBe(1);
    // The sweeper itself keeps running its interval, and shows the failure where an operator looks.
    await sweeper.signal(configureSweeperSignal, { intervalMs: 200 });
    await statusWhen(sweeper, 'a periodic pass after the failure', (s) => s.passes.periodic >= 1);
    expect((await sweeper.describe()).status.name).toBe('RUNNING');
    const metadata = await sweeper.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toContain('**failed: reapOrphanedRuns, promoteDueScheduledRetries, resumeQueuedRuns, reconcileStrandedAssignedIssues**');
  });

  it('runs a pass now on sweepNow and answers with its result, reaping with the threshold asked for (R16)', async () => {
    const acme = await givenCompany(vigil.admin);
    const { orphan, issue } = await givenOrphan(acme);
    const sweeper = await givenSweeper(acme.company.id);

    const result = await sweeper.executeUpdate(sweepNowUpdate, { args: [{ sweeps: ['reap'], staleThresholdMs: 0 }] });
    expect(result).toMatchObject({ trigger: 'operator', sweeps: ['reap'], failedSteps: [], reconcile: null, reap: { staleThresholdMs: 0, reaped: 1, runIds: [orphan.id] } });
    expect(result.counts).toMatchObject({ reaped: 1, promotedRetries: 0 });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    const retry = await vigil.vigil.prisma.heartbeatRun.findFirstOrThrow({ where: { retryOfRunId: orphan.id } });
    expect(retry.processLossRetryCount).toBe(1);
    expect((await waitForRunStatus(vigil.vigil.prisma, retry.id, TERMINAL)).status).toBe('succeeded');
    const described = await vigil.vigil.temporal.workflow.getHandle(`run-${retry.id}`).describe();
    expect(described.searchAttributes).toMatchObject({ VigilRetryOfRunId: [orphan.id], VigilRetryKind: ['process_lost'], VigilIssueId: [issue.id] });

    // The last pass is what Temporal UI shows as the sweeper's current details.
    const metadata = await sweeper.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    expect(metadata.currentDetails).toContain('Last pass (on demand, reap)');
    expect(metadata.currentDetails).toContain('reaped 1');
    expect(await statusOf(sweeper)).toMatchObject({ passes: { operator: 1, periodic: 0 }, lastPass: { trigger: 'operator', counts: { reaped: 1 } } });

    // A bad request is refused by the update's validator: nothing runs, nothing is recorded.
    const refused = await sweeper.executeUpdate(sweepNowUpdate, { args: [{ sweeps: ['everything'] as never }] }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect((refused as WorkflowUpdateFailedError).cause?.message).toBe('sweeps must be a list of reap, reconcile');
    expect((await statusOf(sweeper)).passes.operator).toBe(1);
    await settle(acme);
  });

  it('runs no periodic pass and holds no timer while paused, yet still sweeps on demand; resume brings the interval back', async () => {
    const acme = await givenCompany(vigil.admin);
    const intervalMs = 200;
    const sweeper = await givenSweeper(acme.company.id, { intervalMs });
    await statusWhen(sweeper, 'a periodic pass', (s) => s.passes.periodic >= 1);

    await sweeper.signal(pauseSweepsSignal);
    const paused = await statusWhen(sweeper, 'the pause', (s) => s.nextDueAt === null);
    expect(paused.paused).toEqual(['reap', 'reconcile']);
    // Temporal's own clock, not the test's: on-demand passes carry the workflow time they started
    // at. Sweep on demand until five intervals of workflow time have passed since the pause.
    const first = await sweeper.executeUpdate(sweepNowUpdate, { args: [{}] });
    const last = await eventually(async () => {
      const pass = await sweeper.executeUpdate(sweepNowUpdate, { args: [{ sweeps: ['reconcile'] }] });
      return Date.parse(pass.startedAt) - Date.parse(first.startedAt) >= 5 * intervalMs ? pass : null;
    }, 20_000, 'five intervals of workflow time');
    expect(last.trigger).toBe('operator');
    const stillPaused = await statusOf(sweeper);
    expect(stillPaused.passes.periodic).toBe(paused.passes.periodic);
    expect(stillPaused.passes.operator).toBeGreaterThanOrEqual(2);

    await sweeper.signal(resumeSweepsSignal);
    await statusWhen(sweeper, 'periodic passes again', (s) => s.paused.length === 0 && s.passes.periodic > paused.passes.periodic);
    // Between pause and resume the history holds no timer at all: nothing could have fired.
    const between = eventsBetweenSignals(await historyOf(sweeper.workflowId), 'pause', 'resume');
    expect(between).toContain('WORKFLOW_EXECUTION_UPDATE_COMPLETED');
    expect(between.filter((event) => event === 'TIMER_STARTED')).toEqual([]);
  });

  it('pauses one half: the periodic passes run the other half only', async () => {
    const acme = await givenCompany(vigil.admin);
    const sweeper = await givenSweeper(acme.company.id, { intervalMs: 200 });
    await sweeper.signal(pauseSweepsSignal, { sweeps: ['reconcile'] });
    await statusWhen(sweeper, 'the reconcile half paused', (s) => s.paused.join() === 'reconcile');
    const status = await statusWhen(sweeper, 'a periodic pass of the reaper half', (s) => s.lastPass?.trigger === 'periodic' && s.lastPass.sweeps.join() === 'reap');
    expect(status.nextDueAt).not.toBeNull();
    const described = await sweeper.describe();
    expect(described.memo).toMatchObject({ paused: ['reconcile'], intervalMs: 200 });
  });

  it('continues as new past its history budget, keeping its paused halves, counters and last pass', async () => {
    const acme = await givenCompany(vigil.admin);
    const sweeper = await givenSweeper(acme.company.id, { historyBudget: { events: 40, bytes: 4 * 1024 * 1024 } });
    const firstRunId = (await sweeper.describe()).runId;
    await sweeper.signal(pauseSweepsSignal, { sweeps: ['reconcile'] });
    let passes = 0;
    let last;
    for (; passes < 20; ) {
      last = await sweeper.executeUpdate(sweepNowUpdate, { args: [{ sweeps: ['reap'] }] });
      passes += 1;
      if ((await statusOf(sweeper)).execution > 1) break;
    }
    const status = await statusOf(sweeper);
    expect(status.execution).toBe(2);
    expect(status).toMatchObject({ paused: ['reconcile'], passes: { operator: passes, periodic: 0, startup: 0 } });
    expect(status.lastPass).toEqual({ trigger: 'operator', sweeps: ['reap'], startedAt: last!.startedAt, durationMs: last!.durationMs, counts: last!.counts, failedSteps: [] });
    // The first execution closed by continuing as new; the chain is one workflow id.
    const closed = factsOf(await historyOf(sweeper.workflowId, firstRunId));
    expect(closed.events.at(-1)).toBe('WORKFLOW_EXECUTION_CONTINUED_AS_NEW');
    expect((await sweeper.describe()).runId).not.toBe(firstRunId);
  });

  it('makes one startup pass per Vigil start through the one sweeper, which a restart keeps (R68)', async () => {
    const acme = await givenCompany(vigil.admin);
    const { orphan } = await givenOrphan(acme);
    const idPrefix = `test-${randomUUID()}-`;
    const options = { taskQueue: `vigil-test-${randomUUID()}`, idPrefix, companyId: acme.company.id };
    await givenVigilWithSweeper(options);
    const sweeper = recoverySweeperHandle(vigil.vigil.temporal, idPrefix);
    // R68: at startup no staleness threshold, so the orphan touched a moment ago is reaped.
    const afterStart = await statusWhen(sweeper, 'the startup pass', (s) => s.passes.startup === 1);
    expect(afterStart.lastPass).toMatchObject({ trigger: 'startup', sweeps: ['reap', 'reconcile'], counts: { reaped: 1 } });
    expect((await vigil.vigil.prisma.heartbeatRun.findUniqueOrThrow({ where: { id: orphan.id } })).errorCode).toBe('process_lost');
    const { runId } = await sweeper.describe();

    // Restarted while an operator has the reconcile half paused: the startup pass leaves it alone.
    await extraVigils.pop()!.stop();
    await sweeper.signal(pauseSweepsSignal, { sweeps: ['reconcile'] });
    await givenVigilWithSweeper(options);
    const afterRestart = await statusWhen(sweeper, 'the second start’s pass', (s) => s.passes.startup === 2);
    expect(afterRestart).toMatchObject({ paused: ['reconcile'], lastPass: { trigger: 'startup', sweeps: ['reap'] } });
    expect((await sweeper.describe()).runId).toBe(runId);
    const facts = factsOf(await historyOf(sweeper.workflowId));
    expect(facts.updates).toEqual(['sweepNow', 'sweepNow']);
    await settle(acme);
  });

  it('is one sweeper when two Vigils start together, and the only non-run workflow in the list after many passes', async () => {
    const acme = await givenCompany(vigil.admin);
    const taskQueue = `vigil-test-${randomUUID()}`;
    const options = { taskQueue, idPrefix: `test-${randomUUID()}-`, companyId: acme.company.id, intervalMs: 100, historyBudget: { events: 60, bytes: 4 * 1024 * 1024 } };
    await Promise.all([givenVigilWithSweeper(options), givenVigilWithSweeper(options)]);
    const sweeper = recoverySweeperHandle(vigil.vigil.temporal, options.idPrefix);
    const status = await statusWhen(sweeper, 'many periodic passes over two executions', (s) => s.passes.periodic >= 8 && s.execution >= 2, 60_000);
    expect(status.passes.startup).toBeGreaterThanOrEqual(1);
    expect(status.passes.startup).toBeLessThanOrEqual(2);

    // Everything this instance put in the namespace that is not a run: the sweeper's executions alone.
    const listed = await eventually(async () => {
      const executions = [];
      for await (const execution of vigil.vigil.temporal.workflow.list({ query: `TaskQueue = '${taskQueue}'` })) executions.push(execution);
      return executions.length >= status.execution ? executions : null;
    }, 15_000, 'the executions to be visible');
    const current = await statusOf(sweeper);
    expect(listed.filter((execution) => !execution.workflowId.startsWith('run-')).map((execution) => execution.workflowId)).toEqual(Array(listed.length).fill(sweeper.workflowId));
    expect(listed.length).toBeGreaterThanOrEqual(status.execution);
    expect(listed.length).toBeLessThanOrEqual(current.execution);
    expect(listed.filter((execution) => execution.status.name === 'RUNNING')).toHaveLength(1);
  });

  it('replaces the Schedules of an earlier Vigil, keeping a paused one paused', async () => {
    const acme = await givenCompany(vigil.admin);
    const idPrefix = `test-${randomUUID()}-`;
    const legacy = legacyRecoveryScheduleIds(idPrefix);
    for (const [scheduleId, workflowType] of [[legacy.reap, reapOrphanedRunsWorkflow], [legacy.reconcile, reconcileStrandedWorkWorkflow]] as const) {
      await vigil.vigil.temporal.schedule.create({
        scheduleId,
        spec: { intervals: [{ every: YEAR_MS }] },
        policies: { overlap: ScheduleOverlapPolicy.SKIP },
        action: { type: 'startWorkflow', workflowType, args: [{}] as never, taskQueue: vigil.taskQueue, workflowId: scheduleId },
      });
    }
    await vigil.vigil.temporal.schedule.getHandle(legacy.reconcile).pause('paused before the upgrade');

    const sweeper = await givenSweeper(acme.company.id, { idPrefix });
    for (const scheduleId of Object.values(legacy)) {
      await expect(vigil.vigil.temporal.schedule.getHandle(scheduleId).describe()).rejects.toBeInstanceOf(ScheduleNotFoundError);
    }
    await statusWhen(sweeper, 'the reconcile half paused', (s) => s.paused.join() === 'reconcile');
  });

  it('moves to the task queue Vigil now runs on, keeping what was paused', async () => {
    const acme = await givenCompany(vigil.admin);
    const idPrefix = `test-${randomUUID()}-`;
    const before = await givenVigilWithSweeper({ taskQueue: `vigil-test-${randomUUID()}`, idPrefix, companyId: acme.company.id });
    const old = recoverySweeperHandle(before.vigil.temporal, idPrefix);
    await old.signal(pauseSweepsSignal, { sweeps: ['reap'] });
    await statusWhen(old, 'the reap half paused', (s) => s.paused.join() === 'reap');
    const { runId: oldRunId } = await old.describe();
    await extraVigils.pop()!.stop();

    const sweeper = await givenSweeper(acme.company.id, { idPrefix });
    const described = await sweeper.describe();
    expect(described.taskQueue).toBe(vigil.taskQueue);
    expect(described.runId).not.toBe(oldRunId);
    expect((await vigil.vigil.temporal.workflow.getHandle(sweeper.workflowId, oldRunId).describe()).status.name).toBe('TERMINATED');
    await statusWhen(sweeper, 'the reap half still paused', (s) => s.paused.join() === 'reap');
  });

  it('is paused, resumed, run and read with the README’s temporal CLI commands', async () => {
    const acme = await givenCompany(vigil.admin);
    const { orphan } = await givenOrphan(acme);
    const sweeper = await givenSweeper(acme.company.id, { intervalMs: 200 });
    const id = sweeper.workflowId;

    await cli('signal', '--workflow-id', id, '--name', 'pause', '--input', '{"sweeps":["reconcile"]}');
    await statusWhen(sweeper, 'the reconcile half paused', (s) => s.paused.join() === 'reconcile');
    await cli('signal', '--workflow-id', id, '--name', 'pause');
    await statusWhen(sweeper, 'both halves paused', (s) => s.nextDueAt === null);
    const queried = JSON.parse(await cli('query', '--workflow-id', id, '--name', 'status', '--output', 'json'));
    expect(JSON.stringify(queried)).toContain('"paused":["reap","reconcile"]');
    expect(JSON.stringify(queried)).toContain('"nextDueAt":null');

    const updated = JSON.parse(await cli('update', 'execute', '--workflow-id', id, '--name', 'sweepNow', '--input', '{"sweeps":["reap"],"staleThresholdMs":0}', '--output', 'json'));
    expect(updated.result).toMatchObject({ trigger: 'operator', reap: { reaped: 1, runIds: [orphan.id] } });
    const described = await cli('metadata', '--workflow-id', id);
    expect(described).toContain('Last pass (on demand, reap)');
    expect(described).toContain('reaped 1');
    expect(described).toContain('Runs a pass now and answers with its result');

    await cli('signal', '--workflow-id', id, '--name', 'resume');
    await statusWhen(sweeper, 'periodic passes again', (s) => s.paused.length === 0 && s.passes.periodic >= 1);
    // Without --input, sweepNow runs the whole chain.
    const whole = JSON.parse(await cli('update', 'execute', '--workflow-id', id, '--name', 'sweepNow', '--output', 'json'));
    expect(whole.result).toMatchObject({ sweeps: ['reap', 'reconcile'], reap: { staleThresholdMs: 300_000 } });
    await settle(acme);
  });
});
