/**
 * The Temporal shape of recovery in a run's own workflow: the bounded transient retry on a
 * durable timer (R38–R40), its exhaustion, and deferred-wake promotion (R29). The recovery
 * sweeper (R68) has its own file, recoverySweeper.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { agentScript, eventually, givenAgent, givenCompany, givenIssue, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';

let vigil: TestVigil;
import { TERMINAL_RUN_STATUSES as TERMINAL } from '../../src/domain/runStatus.ts';

beforeAll(async () => {
  vigil = await startTestVigil();
});

afterAll(async () => {
  await vigil?.stop();
});

/** An agent-assigned issue in the given status, numbered after the ones the API created. */
async function seedIssue(fixture: CompanyFixture, agentId: string, status: 'todo' | 'in_progress') {
  return givenIssue(fixture, { status: 'backlog', assigneeAgentId: agentId }).then((issue) =>
    vigil.vigil.prisma.issue.update({ where: { id: issue.id }, data: { status } }),
  );
}

/** Cancels whatever the company still has queued, running or scheduled. */
async function settle(fixture: CompanyFixture) {
  const live = await vigil.vigil.prisma.heartbeatRun.findMany({ where: { companyId: fixture.company.id, status: { in: ['queued', 'running', 'scheduled_retry'] } } });
  for (const run of live) await fixture.board.post(`/api/heartbeat-runs/${run.id}/cancel`, {});
}

/** Due a few seconds out: the retry's workflow claims at once and then waits on its timer. */
const DUE_IN_MS = 5_000;

/** Resolves once the run's workflow has started its durable timer (it waits for the due time now). */
async function timerStarted(runId: string) {
  const handle = vigil.vigil.temporal.workflow.getHandle(`run-${runId}`);
  await eventually(async () => (await handle.fetchHistory()).events?.some((event) => event.timerStartedEventAttributes) ?? false, 20_000, 'the retry to wait on its timer');
}

describe('recovery on Temporal', () => {
  it('waits for a scheduled retry on a durable timer, then promotes and runs it (R40)', async () => {
    const acme = await givenCompany(vigil.admin);
    const agent = await givenAgent(acme, { script: 'succeed.sh' });
    const issue = await seedIssue(acme, agent.id, 'in_progress');
    const prisma = vigil.vigil.prisma;
    const dueAt = new Date(Date.now() + DUE_IN_MS);
    const retry = await prisma.heartbeatRun.create({
      data: {
        companyId: acme.company.id, agentId: agent.id, status: 'scheduled_retry', invocationSource: 'automation', triggerDetail: 'system',
        scheduledRetryAt: dueAt, scheduledRetryAttempt: 1, scheduledRetryReason: 'transient_failure',
        contextSnapshot: { issueId: issue.id, taskId: issue.id, wakeReason: 'transient_failure_retry', retryReason: 'transient_failure' },
      },
    });
    await prisma.issue.update({ where: { id: issue.id }, data: { executionRunId: retry.id } });
    await vigil.vigil.runControl.startWorkflows([retry.id]);
    const handle = vigil.vigil.temporal.workflow.getHandle(`run-${retry.id}`);
    await timerStarted(retry.id);
    expect((await handle.query<{ phase: string }>('runState')).phase).toBe('waiting_for_retry');
    expect((await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: retry.id } })).status).toBe('scheduled_retry');

    const finished = await waitForRunStatus(prisma, retry.id, TERMINAL);
    expect(finished.status).toBe('succeeded');
    expect(finished.startedAt!.getTime()).toBeGreaterThanOrEqual(dueAt.getTime());
    const events = await prisma.heartbeatRunEvent.findMany({ where: { runId: retry.id }, orderBy: { seq: 'asc' } });
    expect(events.map((e) => e.message)).toContain('Scheduled retry became due and was promoted to the queued run pool');
    // The wait is a Temporal timer in the run's own history, not a polling loop.
    const history = await handle.fetchHistory();
    expect(history.events?.some((event) => event.timerStartedEventAttributes)).toBe(true);
  });

  it('drops a scheduled retry whose issue was reassigned before it became due', async () => {
    const acme = await givenCompany(vigil.admin);
    const agent = await givenAgent(acme, { script: 'succeed.sh' });
    const other = await givenAgent(acme, { script: 'succeed.sh' });
    const issue = await seedIssue(acme, agent.id, 'in_progress');
    const prisma = vigil.vigil.prisma;
    const retry = await prisma.heartbeatRun.create({
      data: {
        companyId: acme.company.id, agentId: agent.id, status: 'scheduled_retry', invocationSource: 'automation', triggerDetail: 'system',
        scheduledRetryAt: new Date(Date.now() + DUE_IN_MS), scheduledRetryAttempt: 1, scheduledRetryReason: 'transient_failure',
        contextSnapshot: { issueId: issue.id, taskId: issue.id, wakeReason: 'transient_failure_retry', retryReason: 'transient_failure' },
      },
    });
    await vigil.vigil.runControl.startWorkflows([retry.id]);
    await timerStarted(retry.id); // reassigned while it waits, not before its claim
    await prisma.issue.update({ where: { id: issue.id }, data: { assigneeAgentId: other.id } });
    const dropped = await waitForRunStatus(prisma, retry.id, TERMINAL);
    expect(dropped).toMatchObject({ status: 'cancelled', errorCode: 'issue_reassigned', error: 'Cancelled because the issue was reassigned before the scheduled retry became due' });
    expect(dropped.startedAt).toBeNull();
  });

  it('falls back to one continuation when the bounded retry is exhausted after four scheduled attempts (R39)', async () => {
    const acme = await givenCompany(vigil.admin);
    const created = await acme.board.post(`/api/companies/${acme.company.id}/agents`, {
      name: 'codex', role: 'engineer', adapterType: 'codex_local', adapterConfig: { command: agentScript('overloaded.sh') },
    });
    expect(created.status).toBe(201);
    const agent = created.body;
    const issue = await seedIssue(acme, agent.id, 'in_progress');
    const prisma = vigil.vigil.prisma;
    const fourth = await prisma.heartbeatRun.create({
      data: {
        companyId: acme.company.id, agentId: agent.id, status: 'queued', invocationSource: 'automation', triggerDetail: 'system', scheduledRetryAttempt: 4,
        contextSnapshot: { issueId: issue.id, taskId: issue.id, wakeReason: 'transient_failure_retry', retryReason: 'transient_failure' },
      },
    });
    await vigil.vigil.runControl.startWorkflows([fourth.id]);
    const failed = await waitForRunStatus(prisma, fourth.id, TERMINAL);
    expect(failed).toMatchObject({ status: 'failed', errorCode: 'adapter_failed' });
    expect(failed.resultJson).toMatchObject({ errorFamily: 'transient_upstream' });
    const events = await prisma.heartbeatRunEvent.findMany({ where: { runId: fourth.id } });
    expect(events.map((e) => e.message)).toContain('Bounded retry exhausted after 4 scheduled attempts; no further automatic retry will be queued');
    const followUps = await prisma.heartbeatRun.findMany({ where: { retryOfRunId: fourth.id } });
    expect(followUps).toHaveLength(1);
    expect(followUps[0].status).not.toBe('scheduled_retry');
    expect(followUps[0].contextSnapshot).toMatchObject({ retryReason: 'issue_continuation_needed', retryOfRunId: fourth.id });
    await settle(acme);
  });

  it('promotes the parked wake of another agent once the issue’s active run ends (R29)', async () => {
    const acme = await givenCompany(vigil.admin);
    const worker = await givenAgent(acme, { script: 'sleep.sh', env: { SLEEP_SEC: '30' }, name: 'worker' });
    const reviewer = await givenAgent(acme, { script: 'succeed.sh', name: 'reviewer' });
    const issue = await givenIssue(acme, { status: 'todo', assigneeAgentId: worker.id });
    const prisma = vigil.vigil.prisma;
    const active = await eventually(() => prisma.heartbeatRun.findFirst({ where: { agentId: worker.id, status: 'running' } }), 20_000, 'the worker run');
    const parked = await acme.board.post(`/api/agents/${reviewer.id}/wakeup`, { reason: 'review_requested', payload: { issueId: issue.id } });
    expect(parked.status).toBe(202);
    expect(parked.body).toMatchObject({ status: 'skipped', reason: 'issue_execution_deferred', executionRunId: active.id });

    await acme.board.post(`/api/heartbeat-runs/${active.id}/cancel`, {});
    const promoted = await eventually(async () => {
      const wake = await prisma.agentWakeupRequest.findFirst({ where: { agentId: reviewer.id, reason: 'issue_execution_promoted' } });
      return wake?.runId ? wake : null;
    }, 10_000, 'the parked wake to be promoted');
    const run = await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: promoted.runId! } });
    expect(run.contextSnapshot).toMatchObject({ issueId: issue.id, wakeReason: 'review_requested' });
    // The parked wake, not an immediate-recovery run, follows the cancelled run (R29 before R30).
    expect(await prisma.heartbeatRun.count({ where: { retryOfRunId: active.id } })).toBe(0);
    await waitForRunStatus(prisma, run.id, TERMINAL);
    await settle(acme);
  });
});
