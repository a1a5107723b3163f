/**
 * Issue 14 §2 (V8) for the decisions taken outside a run's ending: the stranded sweep's
 * re-dispatches (R53, R54) and the nothing it does for a budget-blocked issue (R74), the orphan
 * reaper's batch (R23, R28), and the loop breaker's trip (V2) — including a looping agent's issue
 * that becomes stranded, which the sweep's batch must not re-dispatch (V1). Real PostgreSQL and
 * Temporal; the sweep and the reaper are called through the API, and the decisions are read back
 * through `GET /api/issues/:issueId/recovery-decisions` and `GET /api/heartbeat-runs/:runId/recovery-decisions`.
 *
 * Runs the sweep queues really execute their agent's script; their own endings may record
 * decisions too (source `run_ending`), so the sweep's are picked out by their source.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { eventually, givenCompany, type CompanyFixture } from '../support/fixtures.ts';
import { givenAssignedTodoWithoutRun, givenSeededAgent, givenSeededIssue, givenSpentAgentBudget, givenStrandedIssue } from '../support/strandedSeeds.ts';
import type { RecoveryDecisionView } from '../../src/store/recoveryDecisions.ts';
import { DEAD_PID, seedOrphanedRun } from '../support/recoverySeeds.ts';
import { decisionReference } from '../../src/domain/recoveryDecision.ts';
import { LOOP_BREAKER_PREFIX } from '../../src/domain/recoveryTexts.ts';
import { LOOP_DETECTED_REASON } from '../../src/domain/loopBreaker.ts';
import type { ApiClient } from '../support/apiClient.ts';
import type { PrismaClient } from '../../src/store/db.ts';

let vigil: TestVigil;
let prisma: PrismaClient;
/** Companies whose live runs are cancelled after each test. */
const companies = new Set<string>();

const LIVE = ['queued', 'running', 'scheduled_retry'] as const;

beforeAll(async () => {
  vigil = await startTestVigil();
  prisma = vigil.vigil.prisma;
});

afterEach(async () => {
  for (const companyId of companies) await settleCompanyRuns(companyId);
  companies.clear();
});

afterAll(async () => {
  await vigil?.stop();
});

// --- helpers -------------------------------------------------------------------------------------

type DecisionView = RecoveryDecisionView;

async function givenFreshCompany(): Promise<CompanyFixture> {
  const fixture = await givenCompany(vigil.admin);
  companies.add(fixture.company.id);
  return fixture;
}

function liveRuns(companyId: string) {
  return prisma.heartbeatRun.findMany({ where: { companyId, status: { in: [...LIVE] } } });
}

/** Waits until the company has had no live run for a few polls in a row, then cancels whatever is still live. */
async function settleCompanyRuns(companyId: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let quietPolls = 0;
  while (Date.now() < deadline && quietPolls < 3) {
    quietPolls = (await liveRuns(companyId)).length === 0 ? quietPolls + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  for (const run of await liveRuns(companyId)) await vigil.admin.post(`/api/heartbeat-runs/${run.id}/cancel`, {});
}

/** The company-scoped sweep, as an operator calls it (its runs are started before it answers). */
async function reconcile(fixture: CompanyFixture) {
  const response = await fixture.board.post(`/api/companies/${fixture.company.id}/recovery/reconcile`, {});
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body as Record<string, unknown>;
}

async function issueDecisions(client: ApiClient, issueId: string): Promise<DecisionView[]> {
  const response = await client.get(`/api/issues/${issueId}/recovery-decisions`);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body as DecisionView[];
}

async function runDecisions(client: ApiClient, runId: string): Promise<DecisionView[]> {
  const response = await client.get(`/api/heartbeat-runs/${runId}/recovery-decisions`);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body as DecisionView[];
}

const ofSource = (decisions: DecisionView[], source: string) => decisions.filter((d) => d.source === source);

function runsOfAgent(agentId: string) {
  return prisma.heartbeatRun.findMany({ where: { agentId }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
}

/**
 * An agent that already ran `count` times on a `todo` issue assigned to it, each run failing
 * within the last minutes without a comment, revision or status change (no progress, V3): a loop
 * the breaker counts, whose issue is stranded (its latest run failed, no wake or run is left).
 */
async function givenAgentLoopingOnStrandedIssue(fixture: CompanyFixture, count: number) {
  const agent = await givenSeededAgent(prisma, fixture.company, { name: `Looper ${fixture.company.issuePrefix}` });
  const issue = await givenSeededIssue(prisma, fixture.company, { title: 'Parse the vendor feed', status: 'todo', assigneeAgentId: agent.id });
  const runIds: string[] = [];
  for (let i = count; i >= 1; i--) {
    const finishedAt = new Date(Date.now() - i * 30_000);
    const run = await prisma.heartbeatRun.create({
      data: {
        companyId: fixture.company.id,
        agentId: agent.id,
        invocationSource: 'automation',
        triggerDetail: 'system',
        status: 'failed',
        contextSnapshot: { issueId: issue.id, taskId: issue.id, wakeReason: 'issue_assigned' },
        startedAt: new Date(finishedAt.getTime() - 10_000),
        finishedAt,
        errorCode: 'adapter_failed',
        error: 'the agent exited without doing anything',
      },
    });
    runIds.push(run.id);
  }
  return { agent, issue, runIds };
}

// --- the stranded sweep (R53, R54) ---------------------------------------------------------------

describe('recovery decisions of the stranded sweep', () => {
  it('records one dispatch decision for a first dispatch (R54), naming the run the sweep made; a second sweep records nothing new', async () => {
    const acme = await givenFreshCompany();
    const { agentId, issueId } = await givenAssignedTodoWithoutRun(prisma, acme.company);

    expect(await reconcile(acme)).toMatchObject({ assignmentDispatched: 1, issueIds: [issueId] });
    const runs = await runsOfAgent(agentId);
    expect(runs).toHaveLength(1);

    const decisions = ofSource(await issueDecisions(acme.board, issueId), 'stranded_sweep');
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({
      companyId: acme.company.id,
      issueId,
      runId: null,
      agentId,
      decision: 'dispatch',
      rule: 'R54',
      reason: 'never_dispatched',
      evidence: { previousStatus: 'todo' },
      createdRunId: runs[0].id,
      createdIssueId: null,
    });
    expect(decisions[0].summary).toContain(`→ run ${runs[0].id}`);
    expect(decisions[0].summary).toContain(`[decision ${decisions[0].id}]`);

    await settleCompanyRuns(acme.company.id);
    await reconcile(acme);
    expect(ofSource(await issueDecisions(acme.board, issueId), 'stranded_sweep').map((d) => d.id)).toEqual([decisions[0].id]);
  });

  it('records one decision per re-queue (R53): a re-dispatch of todo work and a continuation of in_progress work, each naming its new run; a second sweep records nothing new', async () => {
    const acme = await givenFreshCompany();
    const todo = await givenStrandedIssue(prisma, acme.company, { status: 'todo', runStatus: 'failed' });
    const inProgress = await givenStrandedIssue(prisma, acme.company, { status: 'in_progress', runStatus: 'failed' });

    expect(await reconcile(acme)).toMatchObject({ dispatchRequeued: 1, continuationRequeued: 1 });
    const todoRetry = (await runsOfAgent(todo.agentId)).find((run) => run.id !== todo.runId)!;
    const continuation = (await runsOfAgent(inProgress.agentId)).find((run) => run.id !== inProgress.runId)!;
    expect(todoRetry.retryOfRunId).toBe(todo.runId);
    expect(continuation.retryOfRunId).toBe(inProgress.runId);

    // Through the run each decision follows (the issue's stranded run) and through the issue.
    const [todoDecision] = ofSource(await runDecisions(acme.board, todo.runId), 'stranded_sweep');
    expect(ofSource(await runDecisions(acme.board, todo.runId), 'stranded_sweep')).toHaveLength(1);
    expect(todoDecision).toMatchObject({
      issueId: todo.issueId,
      runId: todo.runId,
      agentId: todo.agentId,
      decision: 'dispatch',
      rule: 'R53',
      reason: 'lost_execution',
      evidence: { previousStatus: 'todo', retryReason: null, attempt: 1, maxAttempts: 1 },
      createdRunId: todoRetry.id,
    });
    const continuationDecisions = ofSource(await issueDecisions(acme.board, inProgress.issueId), 'stranded_sweep');
    expect(continuationDecisions).toHaveLength(1);
    expect(continuationDecisions[0]).toMatchObject({
      runId: inProgress.runId,
      decision: 'continuation',
      rule: 'R53',
      reason: 'lost_execution',
      evidence: { previousStatus: 'in_progress', attempt: 1, maxAttempts: 1 },
      createdRunId: continuation.id,
    });
    expect(continuationDecisions[0].summary).toContain('attempt 1 of 1');

    await settleCompanyRuns(acme.company.id);
    await reconcile(acme);
    expect(ofSource(await issueDecisions(acme.board, todo.issueId), 'stranded_sweep').map((d) => d.id)).toEqual([todoDecision.id]);
    expect(ofSource(await issueDecisions(acme.board, inProgress.issueId), 'stranded_sweep').map((d) => d.id)).toEqual([continuationDecisions[0].id]);
  });

  it('records one none decision for a budget-blocked stranded issue (R74), however many sweeps find it', async () => {
    const acme = await givenFreshCompany();
    const blocked = await givenAssignedTodoWithoutRun(prisma, acme.company, { agentName: 'BudgetBlockedCoder' });
    await givenSpentAgentBudget(acme, blocked.agentId, blocked.issueId);

    for (let sweep = 0; sweep < 3; sweep++) expect(await reconcile(acme)).toMatchObject({ skipped: 1, assignmentDispatched: 0 });

    const decisions = await issueDecisions(acme.board, blocked.issueId);
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({
      source: 'stranded_sweep',
      issueId: blocked.issueId,
      runId: null,
      agentId: blocked.agentId,
      decision: 'none',
      rule: 'R74',
      evidence: { previousStatus: 'todo' },
      createdRunId: null,
    });
    expect(decisions[0].reason).toBe('budget_blocked');
    expect(await runsOfAgent(blocked.agentId)).toHaveLength(0);
  });
});

// --- the loop breaker (V1, V2) -----------------------------------------------------------------------

describe('recovery decisions of the loop breaker', () => {
  it("does not re-dispatch a looping agent's stranded issue from the sweep's batch: it gets the loop_detected skip, one comment naming the breaker's decision, and one decision however many sweeps", async () => {
    const N = 3;
    const acme = await givenFreshCompany();
    const configured = await acme.board.patch(`/api/companies/${acme.company.id}`, { loopBreakerMaxRuns: N, loopBreakerWindowSec: 600 });
    expect(configured.status, JSON.stringify(configured.body)).toBe(200);
    const { agent, issue, runIds } = await givenAgentLoopingOnStrandedIssue(acme, N);

    // R50e would re-dispatch it; the breaker (V1) stops the wake.
    expect(await reconcile(acme)).toMatchObject({ dispatchRequeued: 0, skipped: 1 });
    expect(await reconcile(acme)).toMatchObject({ dispatchRequeued: 0, skipped: 1 });

    expect((await runsOfAgent(agent.id)).map((run) => run.id)).toEqual(runIds);
    const skips = await prisma.agentWakeupRequest.findMany({ where: { agentId: agent.id, payload: { path: ['issueId'], equals: issue.id } } });
    expect(skips.map((wake) => [wake.status, wake.reason])).toEqual([
      ['skipped', LOOP_DETECTED_REASON],
      ['skipped', LOOP_DETECTED_REASON],
    ]);
    const comments = await prisma.issueComment.findMany({ where: { issueId: issue.id, body: { startsWith: LOOP_BREAKER_PREFIX } } });
    expect(comments).toHaveLength(1);

    const decisions = await issueDecisions(acme.board, issue.id);
    const tripped = ofSource(decisions, 'loop_breaker');
    expect(tripped).toHaveLength(1);
    expect(tripped[0]).toMatchObject({
      issueId: issue.id,
      runId: runIds[runIds.length - 1],
      agentId: agent.id,
      decision: 'none',
      rule: 'V2',
      reason: 'loop_detected',
      evidence: { runsWithoutProgress: N, windowSec: 600, maxAttempts: N },
      createdRunId: null,
    });
    // The comment's last line names the decision.
    expect(comments[0].body.split('\n').at(-1)).toBe(decisionReference(tripped[0].id));
    const tripLog = await prisma.activityLog.findFirstOrThrow({ where: { entityId: issue.id, action: 'issue.loop_breaker_tripped' } });
    expect(tripLog.details).toMatchObject({ commentId: comments[0].id, recoveryDecisionId: tripped[0].id });

    // The sweep's own decision: nothing, because of the breaker — once for both sweeps.
    const swept = ofSource(decisions, 'stranded_sweep');
    expect(swept).toHaveLength(1);
    expect(swept[0]).toMatchObject({ runId: runIds[runIds.length - 1], decision: 'none', rule: 'V1', reason: 'loop_detected', createdRunId: null });
  });

  it("a trip by an automatic wake records one decision, and the trip comment ends with that decision's reference", async () => {
    const N = 2;
    const acme = await givenFreshCompany();
    const configured = await acme.board.patch(`/api/companies/${acme.company.id}`, { loopBreakerMaxRuns: N, loopBreakerWindowSec: 600 });
    expect(configured.status).toBe(200);
    const { agent, issue, runIds } = await givenAgentLoopingOnStrandedIssue(acme, N);
    const wake = () =>
      vigil.vigil.runControl.wake(agent.id, {
        source: 'automation',
        triggerDetail: 'system',
        reason: 'issue_continuation_needed',
        requestedByActorType: 'system',
        payload: { issueId: issue.id },
        contextSnapshot: { issueId: issue.id, taskId: issue.id, wakeReason: 'issue_continuation_needed', source: 'test.automatic' },
      });
    expect(await wake()).toMatchObject({ kind: 'skipped', reason: LOOP_DETECTED_REASON });
    expect(await wake()).toMatchObject({ kind: 'skipped', reason: LOOP_DETECTED_REASON });

    const decisions = await issueDecisions(acme.board, issue.id);
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({ source: 'loop_breaker', runId: runIds[runIds.length - 1], rule: 'V2', reason: 'loop_detected' });
    expect(decisions[0].summary).toContain(`${N} runs without progress`);
    const comments = await prisma.issueComment.findMany({ where: { issueId: issue.id } });
    expect(comments).toHaveLength(1);
    expect(comments[0].body.startsWith(LOOP_BREAKER_PREFIX)).toBe(true);
    expect(comments[0].body.endsWith(`\n${decisionReference(decisions[0].id)}`)).toBe(true);
    // The same decision through the run it follows.
    expect((await runDecisions(acme.board, runIds[runIds.length - 1])).map((d) => d.id)).toEqual([decisions[0].id]);
  });
});

// --- the orphan reaper's batch (R23, R28) ------------------------------------------------------------

describe("recovery decisions of the orphan reaper's batch", () => {
  async function reap(companyId: string) {
    const response = await vigil.admin.post('/api/recovery/reap', { companyId });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body as { reaped: number; runIds: string[] };
  }

  it('records one retry decision (R23) naming its retry run', async () => {
    const orphan = await seedOrphanedRun(prisma, { processPid: DEAD_PID });
    companies.add(orphan.company.id);

    expect(await reap(orphan.company.id)).toMatchObject({ reaped: 1, runIds: [orphan.runId] });
    const retry = await eventually(() => prisma.heartbeatRun.findFirst({ where: { retryOfRunId: orphan.runId } }), 10_000, 'the retry run');

    const decisions = await runDecisions(vigil.admin, orphan.runId);
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({
      companyId: orphan.company.id,
      issueId: orphan.issue!.id,
      runId: orphan.runId,
      agentId: orphan.agent.id,
      source: 'orphan_reaper',
      decision: 'retry',
      rule: 'R23',
      reason: 'process_lost',
      evidence: { runStatus: 'failed', errorCode: 'process_lost', attempt: 1, maxAttempts: 1 },
      createdRunId: retry.id,
      createdIssueId: null,
    });
    expect((await issueDecisions(vigil.admin, orphan.issue!.id)).map((d) => d.id)).toEqual([decisions[0].id]);
    // A second reap finds nothing to settle and records nothing.
    await reap(orphan.company.id);
    expect(await runDecisions(vigil.admin, orphan.runId)).toHaveLength(1);
    // The retry waits for its paused agent: cancelled here rather than waited for.
    expect((await vigil.admin.post(`/api/heartbeat-runs/${retry.id}/cancel`, {})).status).toBeLessThan(300);
    await eventually(async () => (await liveRuns(orphan.company.id)).length === 0, 20_000, 'the retry to be cancelled');
  });

  it('records one none decision (R28) for a lost run without a retry and without an issue', async () => {
    const orphan = await seedOrphanedRun(prisma, { processPid: DEAD_PID, processLossRetryCount: 1, includeIssue: false });
    companies.add(orphan.company.id);

    expect(await reap(orphan.company.id)).toMatchObject({ reaped: 1, runIds: [orphan.runId] });
    expect(await prisma.heartbeatRun.count({ where: { retryOfRunId: orphan.runId } })).toBe(0);

    const decisions = await runDecisions(vigil.admin, orphan.runId);
    expect(decisions).toHaveLength(1);
    expect(decisions[0]).toMatchObject({
      issueId: null,
      source: 'orphan_reaper',
      decision: 'none',
      rule: 'R28',
      reason: 'no_issue',
      evidence: { runStatus: 'failed', errorCode: 'process_lost' },
      createdRunId: null,
    });
  });
});
