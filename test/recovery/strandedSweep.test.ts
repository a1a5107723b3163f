/**
 * The stranded assigned-issue sweep (RECOVERY.md §11), its escalations (§12) and the pause-hold
 * gate (§13): scenarios 12–34 of §20, titled like the reference suite.
 *
 * Each scenario seeds its own company with Prisma (the state a lost wake or run leaves behind),
 * calls the company-scoped sweep through the API, and checks the counters it answers and the rows
 * it wrote. Runs the sweep queues really execute their agent's script on this file's worker.
 *
 * R9 timing: the sweep starts the workflows of the runs it queues before it answers, so a run it
 * dispatched for a `todo` issue may already have checked that issue out. Where the reference
 * expects `todo` right after a dispatch, the sweep goes through a Vigil whose worker has stopped
 * (`reconcileHoldingRuns`): its runs wait on that Vigil's task queue, the issue is seen `todo`
 * exactly, and `runHeldRuns` then lets a worker run them.
 */
import { agentHosting, workerAgents } from '../../src/adapters/supervisor/agentHosting.ts';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { ApiClient } from '../support/apiClient.ts';
import { createScratchDatabase } from '../support/scratchDatabase.ts';
import { applyMigrations } from '../../src/store/migrate.ts';
import { ensureRecoverySweeper } from '../../src/temporal/recoverySweeperClient.ts';
import { sweepNowUpdate } from '../../src/workflows/recoverySweeper.ts';
import { eventually, givenCompany, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import {
  givenAssignedTodoWithoutRun,
  givenSeededAgent,
  givenSeededIssue,
  givenSpentAgentBudget,
  givenStrandedIssue,
} from '../support/strandedSeeds.ts';
import type { PrismaClient } from '../../src/store/db.ts';
import { randomUUID } from 'node:crypto';
import { agentScript } from '../support/fixtures.ts';
import { BATCH_SIZE, reconcileStrandedAssignedIssues } from '../../src/activities/strandedSweep.ts';
import type { ActivityDeps } from '../../src/activities/deps.ts';
import { RunLogStore } from '../../src/store/runLogStore.ts';
import { createLogger } from '../../src/logger.ts';
import { createRunExecutions } from '../../src/temporal/runExecutions.ts';

let vigil: TestVigil;
let prisma: PrismaClient;
/** The company of the running scenario: whatever it left running is settled after it. */
let current: CompanyFixture | null = null;

import { TERMINAL_RUN_STATUSES as TERMINAL } from '../../src/domain/runStatus.ts';
const LIVE = ['queued', 'running', 'scheduled_retry'] as const;

beforeAll(async () => {
  vigil = await startTestVigil();
  prisma = vigil.vigil.prisma;
});

afterEach(async () => {
  if (current) await settleCompanyRuns(current);
  current = null;
});

afterAll(async () => {
  await holding?.stop();
  await vigil?.stop();
});

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

interface SweepCounters {
  assignmentDispatched: number;
  dispatchRequeued: number;
  continuationRequeued: number;
  productiveContinuationObserved: number;
  successfulContinuationObserved: number;
  orphanBlockersAssigned: number;
  escalated: number;
  skipped: number;
  issueIds: string[];
}

const NOTHING_DONE: SweepCounters = {
  assignmentDispatched: 0,
  dispatchRequeued: 0,
  continuationRequeued: 0,
  productiveContinuationObserved: 0,
  successfulContinuationObserved: 0,
  orphanBlockersAssigned: 0,
  escalated: 0,
  skipped: 0,
  issueIds: [],
};

/** R52: every counter exactly; the ones not named are 0. */
function expectCounters(result: SweepCounters, expected: Partial<SweepCounters>) {
  expect(result).toEqual({ ...NOTHING_DONE, ...expected });
}

async function givenFreshCompany() {
  current = await givenCompany(vigil.admin);
  return current;
}

/** The sweep, as an operator calls it: company-scoped, with the company's board key. */
async function reconcile(fixture: CompanyFixture): Promise<SweepCounters> {
  const response = await fixture.board.post(`/api/companies/${fixture.company.id}/recovery/reconcile`, {});
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body as SweepCounters;
}

function liveRuns(companyId: string) {
  return prisma.heartbeatRun.findMany({ where: { companyId, status: { in: [...LIVE] } } });
}

/**
 * Waits until the company has had no live run for a few polls in a row (a finished run may queue
 * a follow-up just after it ends), then cancels whatever is still live.
 */
async function settleCompanyRuns(fixture: CompanyFixture, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  let quietPolls = 0;
  while (Date.now() < deadline && quietPolls < 3) {
    quietPolls = (await liveRuns(fixture.company.id)).length === 0 ? quietPolls + 1 : 0;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  for (const run of await liveRuns(fixture.company.id)) {
    await fixture.board.post(`/api/heartbeat-runs/${run.id}/cancel`, {});
  }
}

function issueRow(issueId: string) {
  return prisma.issue.findUniqueOrThrow({ where: { id: issueId } });
}

function runsOfAgent(agentId: string) {
  return prisma.heartbeatRun.findMany({ where: { agentId }, orderBy: { createdAt: 'asc' } });
}

function wakesOfAgent(agentId: string) {
  return prisma.agentWakeupRequest.findMany({ where: { agentId }, orderBy: { createdAt: 'asc' } });
}

function commentsOn(issueId: string) {
  return prisma.issueComment.findMany({ where: { issueId }, orderBy: { createdAt: 'asc' } });
}

/** Comments nobody's run wrote: the sweep's own system comments. */
async function systemCommentsOn(issueId: string) {
  return (await commentsOn(issueId)).filter((comment) => comment.createdByRunId === null);
}

function recoveryIssuesOf(companyId: string, sourceIssueId?: string) {
  return prisma.issue.findMany({
    where: { companyId, originKind: 'stranded_issue_recovery', ...(sourceIssueId ? { originId: sourceIssueId } : {}) },
    orderBy: { createdAt: 'asc' },
  });
}

/** "The blockers of X": the `blocks` relations whose blocked issue is X. */
async function blockerIdsOf(issueId: string) {
  const relations = await prisma.issueRelation.findMany({ where: { relatedIssueId: issueId, type: 'blocks' }, orderBy: { createdAt: 'asc' } });
  return relations.map((relation) => relation.issueId);
}

function context(run: { contextSnapshot: unknown } | null | undefined): Record<string, unknown> {
  return (run?.contextSnapshot ?? {}) as Record<string, unknown>;
}

/** R9 (see the file comment): the sweep left the issue `todo`; its dispatched run may have checked it out. */
/** A Vigil of this file whose worker has stopped: workflows started through its API wait on its task queue. */
let holding: TestVigil | null = null;

async function holdingVigil(): Promise<TestVigil> {
  if (!holding) {
    holding = await startTestVigil();
    holding.vigil.worker!.shutdown();
    await eventually(async () => holding!.vigil.worker!.getState() === 'STOPPED', 30_000, 'the holding worker to stop');
  }
  return holding;
}

/** The sweep through the holding Vigil: the runs it queues exist and their workflows started, but none runs yet. */
async function reconcileHoldingRuns(fixture: CompanyFixture): Promise<SweepCounters> {
  const response = await new ApiClient((await holdingVigil()).apiUrl, fixture.boardKey).post(`/api/companies/${fixture.company.id}/recovery/reconcile`, {});
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body as SweepCounters;
}

/** A worker on the holding Vigil's task queue runs what waited there, until the company has no live run. */
async function runHeldRuns(fixture: CompanyFixture): Promise<void> {
  const worker = await startTestVigil({ taskQueue: (await holdingVigil()).taskQueue });
  try {
    await eventually(async () => (await liveRuns(fixture.company.id)).length === 0, 30_000, 'the held runs to finish');
  } finally {
    await worker.stop();
  }
}

/** Issue-thread copy (comments, descriptions, titles) of the company never quotes these (R64). */
async function expectIssueThreadsWithout(companyId: string, forbidden: string[]) {
  const [issues, comments] = await Promise.all([
    prisma.issue.findMany({ where: { companyId } }),
    prisma.issueComment.findMany({ where: { companyId } }),
  ]);
  const texts = [...issues.flatMap((issue) => [issue.title, issue.description ?? '']), ...comments.map((comment) => comment.body)];
  for (const text of forbidden) {
    expect(texts.filter((copy) => copy.includes(text)), `issue-thread copy quoting ${JSON.stringify(text)}`).toEqual([]);
  }
}

// The exact sentences of R58, R60 and R62, written out here from the spec rather than imported.
const WITHHELD = 'Latest retry failure details were withheld from the issue thread; inspect the linked run for evidence.';

function link(identifier: string, prefix: string) {
  return `[${identifier}](/${prefix}/issues/${identifier})`;
}

function sweepEscalationComment(previousStatus: 'todo' | 'in_progress', recovery: { identifier: string }, prefix: string) {
  const lead =
    previousStatus === 'todo'
      ? `Paperclip automatically retried dispatch for this assigned \`todo\` issue after a lost wake/run, but it still has no live execution path. ${WITHHELD} Moving it to \`blocked\` so it is visible for intervention.`
      : `Paperclip automatically retried continuation for this assigned \`in_progress\` issue after its live execution disappeared, but it still has no live execution path. ${WITHHELD} Moving it to \`blocked\` so it is visible for intervention.`;
  return [
    lead,
    `- Recovery issue: ${link(recovery.identifier, prefix)}`,
    '- Next action: the recovery owner should either restore a live execution path or record the manual resolution, then mark the recovery issue done.',
  ].join('\n');
}

function recoveryDescription(input: {
  prefix: string;
  sourceIdentifier: string;
  previousStatus: 'todo' | 'in_progress';
  run: { id: string; agentId: string; status: string };
  retryReason: string;
}) {
  const { prefix, run } = input;
  return [
    'Paperclip exhausted automatic recovery for an assigned issue and created this explicit recovery task.',
    '',
    '## Source',
    '',
    `- Source issue: ${link(input.sourceIdentifier, prefix)}`,
    `- Previous source status: \`${input.previousStatus}\``,
    `- Latest retry run: [\`${run.id}\`](/${prefix}/agents/${run.agentId}/runs/${run.id})`,
    `- Latest retry status: \`${run.status}\``,
    '- Detected invariant: `stranded_assigned_issue`',
    `- Retry reason: \`${input.retryReason}\``,
    `- Failure: ${WITHHELD}`,
    '',
    '## Ownership',
    '',
    '- Selected owner: the first invokable manager/creator/executive candidate with budget available.',
    '',
    '## Required Action',
    '',
    '- Inspect the latest run and source issue state.',
    '- Fix the runtime/adapter problem, reassign the source issue, or convert the source issue into a clear manual-review state.',
    '- When the source issue has a live execution path or has been intentionally resolved, mark this recovery issue done.',
  ].join('\n');
}

/**
 * V8: the escalation's recovery decision for an issue, after its latest run; recovery texts end
 * with its reference. Asserts there is exactly one for that run.
 */
async function escalationDecisionOf(issueId: string, runId: string) {
  const decisions = await prisma.recoveryDecision.findMany({ where: { issueId, runId, decision: { in: ['escalation', 'block_in_place'] } } });
  expect(decisions).toHaveLength(1);
  return decisions[0];
}

async function withDecisionOf(issueId: string, runId: string, text: string) {
  return `${text}\n- Recovery decision: \`${(await escalationDecisionOf(issueId, runId)).id}\``;
}

function inPlaceRecoveryComment(input: {
  prefix: string;
  recoveryIdentifier: string;
  previousStatus: 'todo' | 'in_progress';
  run: { id: string; agentId: string; status: string };
  retryReason: string;
}) {
  const { prefix, run } = input;
  return [
    'Paperclip stopped automatic stranded-work recovery for this recovery issue.',
    '',
    `- Recovery issue: ${link(input.recoveryIdentifier, prefix)}`,
    `- Previous status: \`${input.previousStatus}\``,
    `- Latest run: [${run.id}](/${prefix}/agents/${run.agentId}/runs/${run.id})`,
    `- Latest run status: \`${run.status}\``,
    `- Retry reason: \`${input.retryReason}\``,
    `- Failure: ${WITHHELD}`,
    '- Guard: recovery issues do not create nested `stranded_issue_recovery` issues.',
    '',
    'Next action: the current recovery owner should inspect the failed run evidence, restore a live execution path or record the manual resolution, then move this recovery issue out of `blocked`.',
  ].join('\n');
}

/**
 * R56–R59: the one recovery issue of an escalated source (a child of the source, owned by the
 * assignee in a company without managers or executives), blocking the source, and the wake and
 * run that dispatch it (R57.6). Returns the recovery issue and its dispatch run id.
 */
async function expectStrandedRecoveryArtifacts(input: {
  fixture: CompanyFixture;
  agentId: string;
  issueId: string;
  identifier: string;
  runId: string;
  previousStatus: 'todo' | 'in_progress';
  retryReason: 'assignment_recovery' | 'issue_continuation_needed';
}) {
  const { company } = input.fixture;
  const recoveries = await recoveryIssuesOf(company.id, input.issueId);
  expect(recoveries).toHaveLength(1);
  const recovery = recoveries[0];
  expect(recovery).toMatchObject({
    companyId: company.id,
    parentId: input.issueId,
    assigneeAgentId: input.agentId,
    assigneeUserId: null,
    originKind: 'stranded_issue_recovery',
    originId: input.issueId,
    originRunId: input.runId,
    originFingerprint: `stranded_issue_recovery:${company.id}:${input.issueId}:${input.runId}`,
    priority: 'medium',
    title: `Recover stalled issue ${input.identifier}`,
  });
  expect(recovery.identifier).toMatch(new RegExp(`^${company.issuePrefix}-\\d+$`));
  // R57: created `todo`; its own dispatch run (below) may already have checked it out (R9).
  expect(['todo', 'in_progress']).toContain(recovery.status);
  const latestRun = await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: input.runId } });
  expect(recovery.description).toBe(
    await withDecisionOf(
      input.issueId,
      input.runId,
      recoveryDescription({
        prefix: company.issuePrefix,
        sourceIdentifier: input.identifier,
        previousStatus: input.previousStatus,
        run: latestRun,
        retryReason: input.retryReason,
      }),
    ),
  );
  // V8: the decision names the rule, the recovery issue it created and that issue's dispatch run.
  expect(await escalationDecisionOf(input.issueId, input.runId)).toMatchObject({
    source: 'stranded_sweep', decision: 'escalation', rule: 'R56', reason: 'retry_already_used', createdIssueId: recovery.id,
  });
  expect(recovery.description).toContain(`Previous source status: \`${input.previousStatus}\``);
  expect(recovery.description).toContain(`Retry reason: \`${input.retryReason}\``);
  expect(recovery.description).toContain('Fix the runtime/adapter problem');

  // R56.4: the recovery issue blocks its source.
  const relation = await prisma.issueRelation.findFirst({
    where: { companyId: company.id, issueId: recovery.id, relatedIssueId: input.issueId, type: 'blocks' },
  });
  expect(relation).toBeTruthy();

  // R57.6: one wake for the owner, and the run it produced, carry the source and stranded run.
  const wakes = await wakesOfAgent(input.agentId);
  const recoveryWakes = wakes.filter((wake) => {
    const payload = (wake.payload ?? {}) as Record<string, unknown>;
    return payload.issueId === recovery.id && payload.sourceIssueId === input.issueId && payload.strandedRunId === input.runId;
  });
  expect(recoveryWakes).toHaveLength(1);
  const recoveryWake = recoveryWakes[0];
  expect(recoveryWake).toMatchObject({
    companyId: company.id,
    reason: 'issue_assigned',
    source: 'assignment',
    triggerDetail: 'system',
    requestedByActorType: 'system',
  });
  expect(recoveryWake.runId).toBeTruthy();
  const recoveryRun = await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: recoveryWake.runId! } });
  expect(recoveryRun.agentId).toBe(input.agentId);
  expect(recoveryRun.contextSnapshot).toMatchObject({
    issueId: recovery.id,
    taskId: recovery.id,
    wakeReason: 'issue_assigned',
    source: 'stranded_issue_recovery',
    sourceIssueId: input.issueId,
    strandedRunId: input.runId,
  });
  return { recovery: recovery as typeof recovery & { identifier: string }, recoveryRunId: recoveryRun.id };
}

/** R53: the one automatic re-dispatch / continuation wake and run the sweep queued. */
async function expectRecoveryRetry(input: {
  agentId: string;
  issueId: string;
  strandedRunId: string;
  kind: 'assignment_recovery' | 'issue_continuation_needed';
}) {
  const runs = await runsOfAgent(input.agentId);
  expect(runs).toHaveLength(2);
  const retryRun = runs.find((run) => run.id !== input.strandedRunId)!;
  expect(retryRun).toBeTruthy();
  const wakeReason = input.kind === 'assignment_recovery' ? 'issue_assignment_recovery' : 'issue_continuation_needed';
  const source = input.kind === 'assignment_recovery' ? 'issue.assignment_recovery' : 'issue.continuation_recovery';
  expect(context(retryRun).retryReason).toBe(input.kind);
  expect(retryRun.contextSnapshot).toMatchObject({
    issueId: input.issueId,
    taskId: input.issueId,
    wakeReason,
    retryReason: input.kind,
    retryOfRunId: input.strandedRunId,
    source,
  });
  expect(retryRun).toMatchObject({ retryOfRunId: input.strandedRunId, invocationSource: 'automation', triggerDetail: 'system' });
  const wake = await prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: retryRun.wakeupRequestId! } });
  expect(wake).toMatchObject({
    source: 'automation',
    triggerDetail: 'system',
    reason: wakeReason,
    requestedByActorType: 'system',
    requestedByActorId: null,
    payload: { issueId: input.issueId, retryOfRunId: input.strandedRunId },
    runId: retryRun.id,
  });
  return retryRun;
}

// ---------------------------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------------------------

describe('stranded assigned-issue sweep (§11–§13)', () => {
  // §20 #12 — R48, R49, R50a, R54, R52, R71, R9
  it('dispatches assigned todo work with no prior run as a normal assignment wake', async () => {
    const acme = await givenFreshCompany();
    const { agentId, issueId } = await givenAssignedTodoWithoutRun(prisma, acme.company);

    const result = await reconcileHoldingRuns(acme);

    expectCounters(result, { assignmentDispatched: 1, issueIds: [issueId] });
    const wakes = await wakesOfAgent(agentId);
    expect(wakes).toHaveLength(1);
    expect(wakes[0]).toMatchObject({
      companyId: acme.company.id,
      agentId,
      source: 'assignment',
      triggerDetail: 'system',
      reason: 'issue_assigned',
      requestedByActorType: 'system',
      payload: { issueId, mutation: 'assigned_todo_liveness_dispatch' },
    });
    const runs = await runsOfAgent(agentId);
    expect(runs).toHaveLength(1);
    const [run] = runs;
    expect(wakes[0].runId).toBe(run.id);
    expect(run.retryOfRunId).toBeNull();
    expect(run.invocationSource).toBe('assignment');
    expect(run.contextSnapshot).toMatchObject({
      issueId,
      taskId: issueId,
      wakeReason: 'issue_assigned',
      source: 'issue.assigned_todo_liveness_dispatch',
    });
    expect(context(run).retryReason).toBeUndefined();
    expect(context(run).retryOfRunId).toBeUndefined();
    expect((await issueRow(issueId)).status).toBe('todo');
    expect(await recoveryIssuesOf(acme.company.id)).toHaveLength(0);
    expect(await blockerIdsOf(issueId)).toEqual([]);
    expect(await systemCommentsOn(issueId)).toHaveLength(0);

    // The dispatch is an ordinary run: it executes, and the only comment is its own summary.
    await runHeldRuns(acme);
    expect((await waitForRunStatus(prisma, run.id, TERMINAL)).status).toBe('succeeded');
    expect((await commentsOn(issueId)).map((comment) => ({ createdByRunId: comment.createdByRunId, body: comment.body }))).toEqual([
      { createdByRunId: run.id, body: 'Fixed the flaky test' },
    ]);
    expect(await recoveryIssuesOf(acme.company.id)).toHaveLength(0);
  });

  // §20 #13 — R50a (queued-wake dedupe), R52
  it('does not duplicate initial assigned todo dispatch when a queued wake already exists', async () => {
    const acme = await givenFreshCompany();
    const { agentId, issueId } = await givenAssignedTodoWithoutRun(prisma, acme.company);
    // An orphan wake: queued, but no run was ever created for it.
    await prisma.agentWakeupRequest.create({
      data: {
        companyId: acme.company.id,
        agentId,
        source: 'assignment',
        triggerDetail: 'system',
        reason: 'issue_assigned',
        payload: { issueId, mutation: 'assigned_todo_liveness_dispatch' },
        status: 'queued',
      },
    });

    const result = await reconcile(acme);

    expectCounters(result, { skipped: 1 });
    expect(await wakesOfAgent(agentId)).toHaveLength(1);
    expect(await runsOfAgent(agentId)).toHaveLength(0);
    expect((await issueRow(issueId)).status).toBe('todo');
  });

  // §20 #14 — R50a (budget pre-check, no wake row), R74, R52. As in the reference, the sweep spans
  // every company, and the two fixtures are two companies: it runs on a Vigil of its own over a
  // database of its own, so "every company" is exactly these two.
  it('skips budget-blocked assigned todo work with no prior run and continues the sweep', async () => {
    const scratch = await createScratchDatabase(inject('databaseUrl'), 'vigil_sweep_all');
    let own: TestVigil | null = null;
    try {
      await applyMigrations(scratch.url);
      own = await startTestVigil({ databaseUrl: scratch.url });
      const ownPrisma = own.vigil.prisma;
      const blockedCompany = await givenCompany(own.admin);
      const unblockedCompany = await givenCompany(own.admin);
      const blocked = await givenAssignedTodoWithoutRun(ownPrisma, blockedCompany.company, { agentName: 'BudgetBlockedCoder' });
      const unblocked = await givenAssignedTodoWithoutRun(ownPrisma, unblockedCompany.company, { agentName: 'CodexCoder' });
      await givenSpentAgentBudget(blockedCompany, blocked.agentId, blocked.issueId);

      // The instance-wide sweep, as the recovery sweeper runs it: no company scope.
      const sweeper = await ensureRecoverySweeper(own.vigil.temporal, { taskQueue: own.taskQueue, idPrefix: `scenario-14-${blocked.agentId}-`, intervalMs: 365 * 24 * 3600_000 });
      try {
        const pass = await sweeper.executeUpdate(sweepNowUpdate, { args: [{ sweeps: ['reconcile'] }] });
        expectCounters(pass.reconcile as SweepCounters, { assignmentDispatched: 1, skipped: 1, issueIds: [unblocked.issueId] });
      } finally {
        await sweeper.terminate().catch(() => undefined);
      }
      const wakesOf = (agentId: string) => ownPrisma.agentWakeupRequest.findMany({ where: { agentId } });
      const runsOf = (agentId: string) => ownPrisma.heartbeatRun.findMany({ where: { agentId } });
      // The pre-check skips without calling enqueue: not even a `skipped` wake row.
      expect(await wakesOf(blocked.agentId)).toHaveLength(0);
      expect(await runsOf(blocked.agentId)).toHaveLength(0);
      expect((await ownPrisma.issue.findUniqueOrThrow({ where: { id: blocked.issueId } })).status).toBe('todo');

      const unblockedWakes = await wakesOf(unblocked.agentId);
      expect(unblockedWakes).toHaveLength(1);
      expect(unblockedWakes[0]).toMatchObject({
        reason: 'issue_assigned',
        payload: { issueId: unblocked.issueId, mutation: 'assigned_todo_liveness_dispatch' },
      });
      const unblockedRuns = await runsOf(unblocked.agentId);
      expect(unblockedRuns).toHaveLength(1);
      expect((await waitForRunStatus(ownPrisma, unblockedRuns[0].id, TERMINAL)).status).toBe('succeeded');
    } finally {
      await own?.stop();
      await scratch.drop();
    }
  });

  // §20 #15 — R49 step 1, R52
  it('does not dispatch assigned todo work with no prior run when the agent is paused', async () => {
    const acme = await givenFreshCompany();
    const { agentId, issueId } = await givenAssignedTodoWithoutRun(prisma, acme.company, { agentStatus: 'paused' });

    const result = await reconcile(acme);

    expectCounters(result, { skipped: 1 });
    expect((await issueRow(issueId)).status).toBe('todo');
    expect(await runsOfAgent(agentId)).toHaveLength(0);
    expect(await wakesOfAgent(agentId)).toHaveLength(0);
  });

  // §20 #16 — R49 step 4, R50e, R53, R52
  it('re-enqueues assigned todo work when the last issue run died and no wake remains', async () => {
    const acme = await givenFreshCompany();
    const { agentId, issueId, runId } = await givenStrandedIssue(prisma, acme.company, { status: 'todo', runStatus: 'failed' });

    const result = await reconcileHoldingRuns(acme);

    expectCounters(result, { dispatchRequeued: 1, issueIds: [issueId] });
    const retryRun = await expectRecoveryRetry({ agentId, issueId, strandedRunId: runId, kind: 'assignment_recovery' });
    expect((await issueRow(issueId)).status).toBe('todo');
    expect(await systemCommentsOn(issueId)).toHaveLength(0);
    expect(await recoveryIssuesOf(acme.company.id)).toHaveLength(0);
    await runHeldRuns(acme);
    expect((await waitForRunStatus(prisma, retryRun.id, TERMINAL)).status).toBe('succeeded');
  });

  // §20 #17–19 — R3, R51e, R53, R52, R57 (not reached)
  it.each([
    ['failed', 'adapter_failed'],
    ['failed', 'process_lost'],
    ['timed_out', 'adapter_timed_out'],
  ] as const)('re-enqueues stranded in-progress work after a %s/%s run before escalating', async (runStatus, runErrorCode) => {
    const acme = await givenFreshCompany();
    const { agentId, issueId, runId } = await givenStrandedIssue(prisma, acme.company, { status: 'in_progress', runStatus, runErrorCode });

    const result = await reconcile(acme);

    expectCounters(result, { continuationRequeued: 1, issueIds: [issueId] });
    const retryRun = await expectRecoveryRetry({ agentId, issueId, strandedRunId: runId, kind: 'issue_continuation_needed' });
    expect(await recoveryIssuesOf(acme.company.id, issueId)).toHaveLength(0);
    expect(await systemCommentsOn(issueId)).toHaveLength(0);

    // The first retry is not an escalation, whatever the code: still no recovery issue after it ran.
    expect((await waitForRunStatus(prisma, retryRun.id, TERMINAL)).status).toBe('succeeded');
    expect(await recoveryIssuesOf(acme.company.id, issueId)).toHaveLength(0);
    expect((await issueRow(issueId)).status).toBe('in_progress');
  });

  // §20 #20 — R50e (the dedupe applies only without run history), R53
  it('still re-enqueues stranded assigned todo recovery when an old queued wake exists', async () => {
    const acme = await givenFreshCompany();
    const { agentId, issueId, runId } = await givenStrandedIssue(prisma, acme.company, { status: 'todo', runStatus: 'failed' });
    const oldWake = await prisma.agentWakeupRequest.create({
      data: {
        companyId: acme.company.id,
        agentId,
        source: 'assignment',
        triggerDetail: 'system',
        reason: 'issue_assigned',
        payload: { issueId },
        status: 'queued',
      },
    });

    const result = await reconcile(acme);

    expectCounters(result, { dispatchRequeued: 1, issueIds: [issueId] });
    const retryRun = await expectRecoveryRetry({ agentId, issueId, strandedRunId: runId, kind: 'assignment_recovery' });
    expect(context(retryRun).retryReason).toBe('assignment_recovery');
    expect(await prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: oldWake.id } })).toMatchObject({ status: 'queued', runId: null });
    expect((await waitForRunStatus(prisma, retryRun.id, TERMINAL)).status).toBe('succeeded');
  });

  // §20 #21 — R50c, R56, R57, R58, R59, R60, R64
  it('blocks assigned todo work after the one automatic dispatch recovery was already used', async () => {
    const acme = await givenFreshCompany();
    const secret = 'sk-test-recovery-secret';
    const { agentId, issueId, identifier, runId } = await givenStrandedIssue(prisma, acme.company, {
      status: 'todo',
      runStatus: 'failed',
      retryReason: 'assignment_recovery',
      runErrorCode: 'process_lost',
      runError: `Authorization: Bearer ${secret}`,
    });

    const result = await reconcile(acme);

    expectCounters(result, { escalated: 1, issueIds: [issueId] });
    const issue = await issueRow(issueId);
    expect(issue).toMatchObject({ status: 'blocked', checkoutRunId: null, executionRunId: null });
    const { recovery, recoveryRunId } = await expectStrandedRecoveryArtifacts({
      fixture: acme,
      agentId,
      issueId,
      identifier,
      runId,
      previousStatus: 'todo',
      retryReason: 'assignment_recovery',
    });
    expect(recovery.description ?? '').not.toContain(secret);
    expect(await blockerIdsOf(issueId)).toEqual([recovery.id]);

    const comments = await commentsOn(issueId);
    expect(comments).toHaveLength(1);
    expect(comments[0]).toMatchObject({ authorAgentId: null, authorUserId: null, createdByRunId: null });
    expect(comments[0].body).toContain('retried dispatch');
    expect(comments[0].body).toContain('Latest retry failure details were withheld from the issue thread');
    expect(comments[0].body).toContain(`Recovery issue: [${recovery.identifier}]`);
    expect(comments[0].body).toBe(await withDecisionOf(issueId, runId, sweepEscalationComment('todo', recovery, acme.company.issuePrefix)));
    // No retry run for the source: the seeded run and the recovery issue's dispatch only.
    expect((await runsOfAgent(agentId)).map((run) => run.id).sort()).toEqual([runId, recoveryRunId].sort());

    expect((await waitForRunStatus(prisma, recoveryRunId, TERMINAL)).status).toBe('succeeded');
    expect((await issueRow(issueId)).status).toBe('blocked');
    await expectIssueThreadsWithout(acme.company.id, [secret, 'Authorization: Bearer', 'process_lost']);
  });

  // §20 #22 — R55, R60, R52
  it('assigns open unassigned blockers back to their creator agent', async () => {
    const acme = await givenFreshCompany();
    const prefix = acme.company.issuePrefix;
    const creator = await givenSeededAgent(prisma, acme.company, { name: 'SecurityEngineer' });
    const blockedAssignee = await givenSeededAgent(prisma, acme.company, { name: 'CodexCoder' });
    const blocker = await givenSeededIssue(prisma, acme.company, { title: 'Fix blocker', status: 'todo', priority: 'high', createdByAgentId: creator.id });
    const blockedIssue = await givenSeededIssue(prisma, acme.company, {
      title: 'Blocked work',
      status: 'blocked',
      priority: 'high',
      assigneeAgentId: blockedAssignee.id,
    });
    await prisma.issueRelation.create({
      data: { companyId: acme.company.id, issueId: blocker.id, relatedIssueId: blockedIssue.id, type: 'blocks', createdByAgentId: creator.id },
    });

    const result = await reconcile(acme);

    expectCounters(result, { orphanBlockersAssigned: 1, issueIds: [blocker.id] });
    expect(result.issueIds).toContain(blocker.id);
    expect(await issueRow(blocker.id)).toMatchObject({ assigneeAgentId: creator.id, assigneeUserId: null });
    const comments = await systemCommentsOn(blocker.id);
    expect(comments).toHaveLength(1);
    expect(comments[0].body).toContain('Assigned Orphan Blocker');
    expect(comments[0].body).toContain(`[${prefix}-2](/${prefix}/issues/${prefix}-2)`);
    expect(comments[0].body).toBe(
      [
        '## Assigned Orphan Blocker',
        '',
        `Paperclip found this issue is blocking [${prefix}-2](/${prefix}/issues/${prefix}-2) but had no assignee, so no heartbeat could pick it up.`,
        '',
        '- Assigned it back to the agent that created the blocker.',
        '- Next action: resolve this blocker or reassign it to the right owner.',
      ].join('\n'),
    );
    const logged = await prisma.activityLog.findMany({ where: { entityId: blocker.id, action: 'issue.updated' } });
    expect(logged.map((row) => row.details)).toEqual([
      { identifier: `${prefix}-1`, assigneeAgentId: creator.id, source: 'recovery.reconcile_unassigned_blocking_issue' },
    ]);

    const wakes = await wakesOfAgent(creator.id);
    expect(wakes).toEqual([
      expect.objectContaining({
        source: 'automation',
        triggerDetail: 'system',
        reason: 'issue_assigned',
        payload: expect.objectContaining({ issueId: blocker.id, mutation: 'unassigned_blocker_recovery' }),
      }),
    ]);
    const run = await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: wakes[0].runId! } });
    expect(run.contextSnapshot).toMatchObject({
      issueId: blocker.id,
      taskId: blocker.id,
      wakeReason: 'issue_assigned',
      source: 'issue.unassigned_blocker_recovery',
    });
    // The blocked issue is no candidate and is left alone.
    expect(await issueRow(blockedIssue.id)).toMatchObject({ status: 'blocked', assigneeAgentId: blockedAssignee.id });
    expect(await runsOfAgent(blockedAssignee.id)).toHaveLength(0);
    expect((await waitForRunStatus(prisma, run.id, TERMINAL)).status).toBe('succeeded');
  });

  // §20 #23 — R51e, R53
  it('re-enqueues continuation for stranded in-progress work with no active run', async () => {
    const acme = await givenFreshCompany();
    const { agentId, issueId, runId } = await givenStrandedIssue(prisma, acme.company, { status: 'in_progress', runStatus: 'failed' });

    const result = await reconcile(acme);

    expectCounters(result, { continuationRequeued: 1, issueIds: [issueId] });
    const retryRun = await expectRecoveryRetry({ agentId, issueId, strandedRunId: runId, kind: 'issue_continuation_needed' });
    expect(context(retryRun).retryReason).toBe('issue_continuation_needed');
    expect(await recoveryIssuesOf(acme.company.id)).toHaveLength(0);
    expect((await waitForRunStatus(prisma, retryRun.id, TERMINAL)).status).toBe('succeeded');
  });

  // §20 #24 — R51a, R52
  it('does not continue seeded in-progress work that has no run linkage', async () => {
    const acme = await givenFreshCompany();
    const agent = await givenSeededAgent(prisma, acme.company);
    const issue = await givenSeededIssue(prisma, acme.company, {
      title: 'Seeded in-flight work',
      status: 'in_progress',
      assigneeAgentId: agent.id,
      checkoutRunId: null,
      startedAt: new Date('2026-03-19T00:00:00.000Z'),
    });

    const result = await reconcile(acme);

    expectCounters(result, { skipped: 1 });
    expect(await runsOfAgent(agent.id)).toHaveLength(0);
    expect(await wakesOfAgent(agent.id)).toHaveLength(0);
    expect(await issueRow(issue.id)).toMatchObject({ status: 'in_progress', executionRunId: null, checkoutRunId: null });
    expect(await commentsOn(issue.id)).toHaveLength(0);
  });

  // §20 #25 — R51e, R8, R43, R44, R45(7), R46
  it('classifies actionable plan-only recovery and enqueues one liveness continuation', async () => {
    const acme = await givenFreshCompany();
    const { agentId, issueId, runId } = await givenStrandedIssue(prisma, acme.company, {
      status: 'in_progress',
      runStatus: 'failed',
      script: 'plan-only.sh',
    });

    const result = await reconcile(acme);

    expectCounters(result, { continuationRequeued: 1, issueIds: [issueId] });
    const retryRun = await expectRecoveryRetry({ agentId, issueId, strandedRunId: runId, kind: 'issue_continuation_needed' });
    const livenessWake = await eventually(async () => {
      const wakes = await wakesOfAgent(agentId);
      return wakes.find((wake) => wake.reason === 'run_liveness_continuation') ?? null;
    }, 20_000, 'a liveness continuation wake');
    expect(livenessWake).toMatchObject({
      source: 'automation',
      triggerDetail: 'system',
      requestedByActorType: 'system',
      requestedByActorId: 'heartbeat',
      idempotencyKey: `run_liveness_continuation:${issueId}:${retryRun.id}:plan_only:1`,
      payload: { issueId, livenessState: 'plan_only', continuationAttempt: 1, maxContinuationAttempts: 2 },
    });
    const sourceRunId = (livenessWake.payload as Record<string, unknown>).sourceRunId;
    expect(sourceRunId).toBeTruthy();
    expect(sourceRunId).not.toBe(runId);
    expect(sourceRunId).toBe(retryRun.id);
    const sourceRun = await waitForRunStatus(prisma, String(sourceRunId), TERMINAL);
    expect(sourceRun).toMatchObject({ status: 'succeeded', livenessState: 'plan_only' });

    // The bound (R46): every plan-only run gets one continuation until two were used, then the
    // issue says so once. Each source run has exactly one continuation wake.
    const exhausted = await eventually(async () => {
      const comments = await commentsOn(issueId);
      return comments.find((comment) => comment.body.startsWith('Bounded liveness continuation exhausted')) ?? null;
    }, 60_000, 'the bounded continuation to be exhausted');
    await settleCompanyRuns(acme);
    const wakes = (await wakesOfAgent(agentId)).filter((wake) => wake.reason === 'run_liveness_continuation');
    const payloads = wakes.map((wake) => wake.payload as Record<string, unknown>);
    expect(payloads.map((payload) => payload.continuationAttempt)).toEqual([1, 2]);
    expect(new Set(payloads.map((payload) => payload.sourceRunId)).size).toBe(2);
    const runs = await runsOfAgent(agentId);
    expect(runs).toHaveLength(4);
    expect(runs.slice(1).map((run) => [run.status, run.livenessState, run.continuationAttempt])).toEqual([
      ['succeeded', 'plan_only', 0],
      ['succeeded', 'plan_only', 1],
      ['succeeded', 'plan_only', 2],
    ]);
    expect(exhausted.body).toContain('- Attempts used: 2/2');
    expect(exhausted.createdByRunId).toBe(runs[3].id);
    expect(await recoveryIssuesOf(acme.company.id)).toHaveLength(0);
  });

  // §20 #26 — R43, R45(5/6), R47, R46 (not triggered)
  it('treats a plan document update as progress and does not enqueue liveness continuation', async () => {
    const acme = await givenFreshCompany();
    const { agentId, issueId, runId } = await givenStrandedIssue(prisma, acme.company, {
      status: 'in_progress',
      runStatus: 'failed',
      script: 'writes-plan.sh',
    });

    const result = await reconcile(acme);

    expectCounters(result, { continuationRequeued: 1, issueIds: [issueId] });
    const retryRun = await eventually(async () => {
      const runs = await runsOfAgent(agentId);
      return runs.find((run) => run.id !== runId && run.livenessState === 'advanced') ?? null;
    }, 20_000, 'the continuation run to be classified advanced');
    expect(await waitForRunStatus(prisma, retryRun.id, TERMINAL)).toMatchObject({ status: 'succeeded', livenessState: 'advanced' });
    expect(context(retryRun).retryReason).toBe('issue_continuation_needed');
    // The run really wrote the plan: a revision of the issue's `plan` document, by this run.
    const plan = await prisma.issueDocument.findFirstOrThrow({ where: { issueId, key: 'plan' }, include: { document: { include: { revisions: true } } } });
    expect(plan.document.latestBody).toBe('# Plan\n\n- Inspect files\n- Implement fix');
    expect(plan.document.revisions.map((revision) => revision.createdByRunId)).toEqual([retryRun.id]);

    await settleCompanyRuns(acme);
    const wakes = await wakesOfAgent(agentId);
    expect(wakes.some((wake) => wake.reason === 'run_liveness_continuation')).toBe(false);
    expect(await runsOfAgent(agentId)).toHaveLength(2);
  });

  // §20 #27 — R51c, R56, R57, R58, R60, R64
  it('blocks stranded in-progress work after the continuation retry was already used', async () => {
    const acme = await givenFreshCompany();
    const { agentId, issueId, identifier, runId } = await givenStrandedIssue(prisma, acme.company, {
      status: 'in_progress',
      runStatus: 'failed',
      retryReason: 'issue_continuation_needed',
    });

    const result = await reconcile(acme);

    expectCounters(result, { escalated: 1, issueIds: [issueId] });
    // R75: leaving in_progress clears the checkout and the execution lock.
    expect(await issueRow(issueId)).toMatchObject({ status: 'blocked', checkoutRunId: null, executionRunId: null, executionAgentNameKey: null, executionLockedAt: null });
    const { recovery, recoveryRunId } = await expectStrandedRecoveryArtifacts({
      fixture: acme,
      agentId,
      issueId,
      identifier,
      runId,
      previousStatus: 'in_progress',
      retryReason: 'issue_continuation_needed',
    });
    expect(await blockerIdsOf(issueId)).toEqual([recovery.id]);
    const comments = await commentsOn(issueId);
    expect(comments).toHaveLength(1);
    expect(comments[0].body).toContain('retried continuation');
    expect(comments[0].body).toContain('Latest retry failure details were withheld from the issue thread');
    expect(comments[0].body).toContain(`Recovery issue: [${recovery.identifier}]`);
    expect(comments[0].body).toBe(await withDecisionOf(issueId, runId, sweepEscalationComment('in_progress', recovery, acme.company.issuePrefix)));
    const logged = await prisma.activityLog.findMany({ where: { entityId: issueId, action: 'issue.updated' } });
    expect(logged.map((row) => row.details)).toEqual([
      {
        identifier,
        status: 'blocked',
        previousStatus: 'in_progress',
        source: 'recovery.reconcile_stranded_assigned_issue',
        latestRunId: runId,
        latestRunStatus: 'failed',
        latestRunErrorCode: 'process_lost',
        recoveryIssueId: recovery.id,
        blockerIssueIds: [recovery.id],
      },
    ]);

    expect((await waitForRunStatus(prisma, recoveryRunId, TERMINAL)).status).toBe('succeeded');
    await expectIssueThreadsWithout(acme.company.id, ['run failed before issue advanced', 'process_lost']);
  });

  // §20 #28 — R58 (line 11), R60, R64
  it('redacts error-code-only stranded recovery failures in issue copy', async () => {
    const acme = await givenFreshCompany();
    const { agentId, issueId, identifier, runId } = await givenStrandedIssue(prisma, acme.company, {
      status: 'in_progress',
      runStatus: 'failed',
      retryReason: 'issue_continuation_needed',
      runErrorCode: 'adapter_exit_code',
      runError: null,
    });

    const result = await reconcile(acme);

    expectCounters(result, { escalated: 1, issueIds: [issueId] });
    const { recovery, recoveryRunId } = await expectStrandedRecoveryArtifacts({
      fixture: acme,
      agentId,
      issueId,
      identifier,
      runId,
      previousStatus: 'in_progress',
      retryReason: 'issue_continuation_needed',
    });
    expect(recovery.description).toContain('Latest retry failure details were withheld from the issue thread');
    expect(recovery.description).not.toContain('- Failure: none recorded');
    const comments = await commentsOn(issueId);
    expect(comments).toHaveLength(1);
    expect(comments[0].body).toContain('Latest retry failure details were withheld from the issue thread');
    expect(comments[0].body).not.toContain('- Failure: none recorded');

    expect((await waitForRunStatus(prisma, recoveryRunId, TERMINAL)).status).toBe('succeeded');
    await expectIssueThreadsWithout(acme.company.id, ['adapter_exit_code']);
  });

  // §20 #29 — R57 (steps 2 and 5), R65, R56 (step 4)
  it('reuses the raced stranded recovery issue when duplicate active recovery creation conflicts', async () => {
    const acme = await givenFreshCompany();
    const { agentId, issueId, runId } = await givenStrandedIssue(prisma, acme.company, {
      status: 'in_progress',
      runStatus: 'failed',
      retryReason: 'issue_continuation_needed',
    });

    const responses = await Promise.all(
      Array.from({ length: 8 }, () => acme.board.post(`/api/companies/${acme.company.id}/recovery/reconcile`, {})),
    );

    expect(responses.map((response) => response.status)).toEqual(Array(8).fill(200));
    const recoveries = await recoveryIssuesOf(acme.company.id, issueId);
    expect(recoveries).toHaveLength(1);
    expect(await blockerIdsOf(issueId)).toEqual([recoveries[0].id]);
    expect((await issueRow(issueId)).status).toBe('blocked');
    // Vigil re-checks the source under its row lock: one sweep blocks it and comments, once.
    const bodies = responses.map((response) => response.body as SweepCounters);
    expect(bodies.reduce((sum, body) => sum + body.escalated, 0)).toBe(1);
    // (A sweep that started after the recovery issue existed may also have dispatched it.)
    expect(bodies.find((body) => body.escalated === 1)?.issueIds).toContain(issueId);
    expect(await commentsOn(issueId)).toHaveLength(1);

    // The recovery issue was dispatched once (R57.6), and whatever the racing sweeps queued
    // really runs — also when the sweep that created the recovery issue lost the race to block.
    const recoveryWakes = (await wakesOfAgent(agentId)).filter((wake) => (wake.payload as Record<string, unknown>).sourceIssueId === issueId);
    expect(recoveryWakes).toHaveLength(1);
    expect(recoveryWakes[0].payload).toMatchObject({ issueId: recoveries[0].id, strandedRunId: runId });
    expect(recoveryWakes[0].runId).toBeTruthy();
    const queuedBySweeps = (await runsOfAgent(agentId)).filter((run) => run.id !== runId);
    expect(queuedBySweeps.map((run) => run.id)).toContain(recoveryWakes[0].runId);
    for (const run of queuedBySweeps) {
      expect(context(run).issueId).toBe(recoveries[0].id);
      expect((await waitForRunStatus(prisma, run.id, TERMINAL, 20_000)).status).toBe('succeeded');
    }
  });

  // §20 #29, the mechanism itself: the source's row lock serializes racing sweeps, so the test
  // above never reaches R57.5's unique-violation branch. Here a writer that holds no lock on the
  // source inserts an open recovery issue and commits it while the sweep's own insert waits on it.
  it('reuses the recovery issue another writer committed while the escalation was inserting its own (R57.5 unique-violation branch)', async () => {
    const acme = await givenFreshCompany();
    const { agentId, issueId } = await givenStrandedIssue(prisma, acme.company, {
      status: 'in_progress',
      runStatus: 'failed',
      retryReason: 'issue_continuation_needed',
    });
    const rival = new pg.Client({ connectionString: inject('databaseUrl') });
    await rival.connect();
    try {
      await rival.query('BEGIN');
      const { rows } = await rival.query<{ id: string; pid: number }>(
        `INSERT INTO issues (company_id, title, status, assignee_agent_id, parent_id, origin_kind, origin_id, identifier)
         VALUES ($1::uuid, 'Recovery issue from a racing writer', 'todo', $2::uuid, $3::uuid, 'stranded_issue_recovery', $3::text, $4)
         RETURNING id, pg_backend_pid() AS pid`,
        [acme.company.id, agentId, issueId, `${acme.company.issuePrefix}-900`],
      );
      const [{ id: rivalIssueId, pid: rivalPid }] = rows;

      const sweeping = reconcile(acme);
      // The sweep did not see the uncommitted row and is inserting its own: the unique index makes it wait for ours.
      await eventually(async () => {
        const waiting = await prisma.$queryRaw<unknown[]>`
          SELECT 1 FROM pg_stat_activity
          WHERE ${rivalPid}::int = ANY(pg_blocking_pids(pid)) AND query ILIKE 'INSERT INTO "public"."issues"%'`;
        return waiting.length > 0;
      }, 20_000, "the sweep's recovery-issue insert to wait on the rival's");
      await rival.query('COMMIT');

      expectCounters(await sweeping, { escalated: 1, issueIds: [issueId] });
      const recoveries = await recoveryIssuesOf(acme.company.id, issueId);
      expect(recoveries.map((issue) => issue.id)).toEqual([rivalIssueId]);
      expect(await blockerIdsOf(issueId)).toEqual([rivalIssueId]);
      expect((await issueRow(issueId)).status).toBe('blocked');
      const comments = await commentsOn(issueId);
      expect(comments).toHaveLength(1);
      expect(comments[0].body).toContain(`${acme.company.issuePrefix}-900`);
      const escalation = await prisma.activityLog.findFirstOrThrow({ where: { entityId: issueId, action: 'issue.updated' }, orderBy: { createdAt: 'desc' } });
      expect(escalation.details).toMatchObject({ status: 'blocked', recoveryIssueId: rivalIssueId });
      // The rolled-back first attempt left nothing behind: no second recovery issue, no dispatch of one.
      expect(await prisma.issue.count({ where: { companyId: acme.company.id, originKind: 'stranded_issue_recovery' } })).toBe(1);
      const recoveryWakes = (await wakesOfAgent(agentId)).filter((wake) => (wake.payload as Record<string, unknown>).sourceIssueId === issueId);
      expect(recoveryWakes).toEqual([]);
    } finally {
      await rival.end();
    }
  });

  // §20 #30 — R49 (step 5), R62, R64
  it('blocks stranded recovery issues in place instead of creating nested recovery issues', async () => {
    const acme = await givenFreshCompany();
    const prefix = acme.company.issuePrefix;
    const { agentId, issueId, identifier, runId } = await givenStrandedIssue(prisma, acme.company, { status: 'in_progress', runStatus: 'failed' });
    const source = await givenSeededIssue(prisma, acme.company, { title: 'Original stranded source', status: 'blocked' });
    await prisma.issue.update({
      where: { id: issueId },
      data: { title: `Recover stalled issue ${prefix}-1`, originKind: 'stranded_issue_recovery', originId: source.id },
    });
    await prisma.issueRelation.create({ data: { companyId: acme.company.id, issueId, relatedIssueId: source.id, type: 'blocks' } });

    const result = await reconcile(acme);

    expectCounters(result, { escalated: 1, issueIds: [issueId] });
    expect(await issueRow(issueId)).toMatchObject({
      status: 'blocked',
      assigneeAgentId: agentId,
      originKind: 'stranded_issue_recovery',
      originId: source.id,
      title: `Recover stalled issue ${prefix}-1`,
      checkoutRunId: null,
      executionRunId: null,
    });
    expect(await recoveryIssuesOf(acme.company.id, issueId)).toHaveLength(0);
    const runs = await runsOfAgent(agentId);
    expect(runs.map((run) => run.id)).toEqual([runId]);
    expect(await wakesOfAgent(agentId)).toHaveLength(1);

    const comments = await commentsOn(issueId);
    expect(comments).toHaveLength(1);
    expect(comments[0]).toMatchObject({ authorAgentId: null, createdByRunId: null });
    expect(comments[0].body).toContain('stopped automatic stranded-work recovery');
    expect(comments[0].body).toContain('Latest retry failure details were withheld from the issue thread');
    expect(comments[0].body).toContain('recovery issues do not create nested `stranded_issue_recovery` issues');
    expect(comments[0].body).toBe(
      await withDecisionOf(issueId, runs[0].id, inPlaceRecoveryComment({ prefix, recoveryIdentifier: identifier, previousStatus: 'in_progress', run: runs[0], retryReason: 'none' })),
    );
    expect(await escalationDecisionOf(issueId, runs[0].id)).toMatchObject({ decision: 'block_in_place', rule: 'R62', reason: 'recovery_issue_stalled', createdIssueId: null });
    // R62.1: no relation changes: the recovery issue still blocks its source, and only it.
    expect(await blockerIdsOf(source.id)).toEqual([issueId]);
    expect(await blockerIdsOf(issueId)).toEqual([]);
    expect((await issueRow(source.id)).status).toBe('blocked');
    await expectIssueThreadsWithout(acme.company.id, ['run failed before issue advanced', 'process_lost']);
  });

  // §20 #31 — R62 (step 5), R49 (step 4), R65
  it('keeps repeated recovery failures on the same canonical recovery issue', async () => {
    const acme = await givenFreshCompany();
    const prefix = acme.company.issuePrefix;
    const { agentId, issueId, identifier } = await givenStrandedIssue(prisma, acme.company, { status: 'in_progress', runStatus: 'failed' });
    const source = await givenSeededIssue(prisma, acme.company, { title: 'Original stranded source', status: 'blocked' });
    await prisma.issue.update({
      where: { id: issueId },
      data: { title: `Recover stalled issue ${prefix}-1`, originKind: 'stranded_issue_recovery', originId: source.id },
    });
    await prisma.issueRelation.create({ data: { companyId: acme.company.id, issueId, relatedIssueId: source.id, type: 'blocks' } });

    const firstResult = await reconcile(acme);
    expectCounters(firstResult, { escalated: 1, issueIds: [issueId] });

    // Someone moved the recovery issue back to work, and its next run failed too.
    const secondRun = await prisma.heartbeatRun.create({
      data: {
        companyId: acme.company.id,
        agentId,
        invocationSource: 'assignment',
        triggerDetail: 'system',
        status: 'failed',
        contextSnapshot: { issueId, taskId: issueId, wakeReason: 'issue_assigned', source: 'stranded_issue_recovery' },
        startedAt: new Date('2030-03-19T00:10:00.000Z'),
        finishedAt: new Date('2030-03-19T00:15:00.000Z'),
        createdAt: new Date('2030-03-19T00:10:00.000Z'),
        errorCode: 'adapter_failed',
        error: 'adapter failed while retrying recovery issue',
      },
    });
    await prisma.issue.update({ where: { id: issueId }, data: { status: 'in_progress', checkoutRunId: secondRun.id, executionRunId: null } });

    const secondResult = await reconcile(acme);

    expectCounters(secondResult, { escalated: 1, issueIds: [issueId] });
    expect((await issueRow(issueId)).status).toBe('blocked');
    expect((await recoveryIssuesOf(acme.company.id, source.id)).map((issue) => issue.id)).toEqual([issueId]);
    expect(await recoveryIssuesOf(acme.company.id, issueId)).toHaveLength(0);
    expect(await blockerIdsOf(source.id)).toEqual([issueId]);
    const comments = await commentsOn(issueId);
    expect(comments).toHaveLength(2);
    expect(comments[1].body).toContain('Latest retry failure details were withheld from the issue thread');
    expect(comments[1].body).toBe(
      await withDecisionOf(issueId, secondRun.id, inPlaceRecoveryComment({ prefix, recoveryIdentifier: identifier, previousStatus: 'in_progress', run: secondRun, retryReason: 'none' })),
    );
    // V8: two notices on one issue name two different decisions.
    expect(comments[0].body).not.toBe(comments[1].body);
    expect(comments[0].body.split('\n').at(-1)).not.toBe(comments[1].body.split('\n').at(-1));
    expect(await runsOfAgent(agentId)).toHaveLength(2);
    await expectIssueThreadsWithout(acme.company.id, ['adapter failed while retrying recovery issue', 'adapter_failed']);
  });

  // §20 #32 — R49 (step 3), R66, R67
  it('does not escalate paused-tree recovery when the automatic continuation retry was cancelled by the hold', async () => {
    const acme = await givenFreshCompany();
    const { agentId, issueId, runId } = await givenStrandedIssue(prisma, acme.company, {
      status: 'in_progress',
      runStatus: 'cancelled',
      retryReason: 'issue_continuation_needed',
      activePauseHold: true,
    });

    const result = await reconcile(acme);

    expectCounters(result, { skipped: 1 });
    const issue = await issueRow(issueId);
    expect(issue.status).toBe('in_progress');
    expect(issue.checkoutRunId).toBeTruthy();
    expect(issue.checkoutRunId).toBe(runId);
    expect(await recoveryIssuesOf(acme.company.id)).toHaveLength(0);
    expect(await blockerIdsOf(issueId)).toHaveLength(0);
    expect(await commentsOn(issueId)).toHaveLength(0);
    expect(await wakesOfAgent(agentId)).toHaveLength(1);
    expect(await runsOfAgent(agentId)).toHaveLength(1);
  });

  // §20 #33 — R51b, R52
  it('records productive continuation instead of recovery when the latest automatic continuation succeeded', async () => {
    const acme = await givenFreshCompany();
    const { agentId, issueId, runId } = await givenStrandedIssue(prisma, acme.company, {
      status: 'in_progress',
      runStatus: 'succeeded',
      retryReason: 'issue_continuation_needed',
      livenessState: 'advanced',
    });

    const result = await reconcile(acme);

    expectCounters(result, { productiveContinuationObserved: 1, skipped: 1 });
    expect((await issueRow(issueId)).status).toBe('in_progress');
    expect(await commentsOn(issueId)).toHaveLength(0);
    expect((await runsOfAgent(agentId)).map((run) => run.id)).toEqual([runId]);
    expect(await wakesOfAgent(agentId)).toHaveLength(1);
    expect(await recoveryIssuesOf(acme.company.id)).toHaveLength(0);
  });

  // §20 #34 — R48
  it('does not reconcile user-assigned work through the agent stranded-work recovery path', async () => {
    const acme = await givenFreshCompany();
    const { agentId, issueId, runId } = await givenStrandedIssue(prisma, acme.company, {
      status: 'todo',
      runStatus: 'failed',
      assignToUser: true,
    });

    const result = await reconcile(acme);

    // Not even a candidate: nothing is counted at all.
    expectCounters(result, {});
    expect(await issueRow(issueId)).toMatchObject({ status: 'todo', assigneeUserId: 'user-1', assigneeAgentId: null });
    expect(await prisma.heartbeatRun.findMany({ where: { id: runId } })).toHaveLength(1);
    expect((await runsOfAgent(agentId)).map((run) => run.id)).toEqual([runId]);
    expect(await wakesOfAgent(agentId)).toHaveLength(1);
    expect(await commentsOn(issueId)).toHaveLength(0);
  });
});

// ---------------------------------------------------------------------------------------------
// Batches (issue 12): the sweep writes its actions a batch of issues at a time
// ---------------------------------------------------------------------------------------------

/**
 * The sweep activity itself, as the recovery pass calls it, so its `followUpRunIds` can be checked.
 * Their workflows are not started here: the runs stay `queued`, and the test marks them cancelled
 * when it is done with them.
 */
function directSweepDeps(): ActivityDeps {
  return {
    prisma,
    logStore: new RunLogStore(prisma),
    runTokenSecret: 'stranded-sweep-test',
    apiUrl: vigil.apiUrl,
    workerId: 'stranded-sweep-test',
    telemetry: { agentFirstHeartbeat: () => undefined },
    logger: createLogger('error'),
    executions: createRunExecutions(vigil.vigil.temporal, prisma, { taskQueue: `stranded-idle-${randomUUID()}`, adapterHeartbeatTimeoutMs: 10_000 }),
    metrics: vigil.vigil.metrics,
    agents: workerAgents('unused', agentHosting()),
  };
}

/**
 * `count` stranded issues over 5 agents, oldest first: even ones `todo` whose last run failed
 * (→ one re-dispatch, R50e), odd ones `in_progress` whose continuation retry already failed
 * (→ escalation, R51c). Returns the issues in candidate order with their stranded runs.
 */
async function givenManyStranded(company: { id: string; issuePrefix: string }, count: number) {
  await prisma.$executeRaw`
    INSERT INTO agents (id, company_id, name, role, status, adapter_type, adapter_config)
    SELECT gen_random_uuid(), ${company.id}::uuid, 'Batch agent ' || g, 'engineer', 'idle', 'process', jsonb_build_object('command', ${agentScript('succeed.sh')}::text)
    FROM generate_series(1, 5) g`;
  await prisma.$executeRaw`
    WITH a AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM agents WHERE company_id = ${company.id}::uuid AND name LIKE 'Batch agent %'),
    i AS (
      INSERT INTO issues (company_id, title, status, priority, assignee_agent_id, issue_number, identifier, started_at, created_at)
      SELECT ${company.id}::uuid, 'Stranded ' || g, CASE WHEN g % 2 = 0 THEN 'todo' ELSE 'in_progress' END::issue_status, 'medium',
             (SELECT id FROM a WHERE n = g % 5), 1000 + g, ${company.issuePrefix} || '-' || (1000 + g),
             CASE WHEN g % 2 = 1 THEN now() - interval '1 hour' END, now() - interval '1 hour' + g * interval '1 millisecond'
      FROM generate_series(1, ${count}::int) g
      RETURNING id, status, assignee_agent_id)
    INSERT INTO heartbeat_runs (company_id, agent_id, status, invocation_source, trigger_detail, error, error_code, context_snapshot, started_at, finished_at, created_at)
    SELECT ${company.id}::uuid, i.assignee_agent_id, 'failed', 'automation', 'system', 'run failed before issue advanced', 'process_lost',
           jsonb_build_object('issueId', i.id::text, 'taskId', i.id::text,
                              'retryReason', CASE WHEN i.status = 'in_progress' THEN 'issue_continuation_needed' END),
           now() - interval '30 minutes', now() - interval '25 minutes', now() - interval '30 minutes'
    FROM i`;
  const issues = await prisma.issue.findMany({ where: { companyId: company.id, title: { startsWith: 'Stranded ' } }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] });
  const runs = await prisma.heartbeatRun.findMany({ where: { companyId: company.id, status: 'failed' } });
  const runOf = new Map(runs.map((run) => [context(run).issueId as string, run]));
  return issues.map((issue) => ({ issue: issue as typeof issue & { identifier: string }, run: runOf.get(issue.id)! }));
}

/** The queued runs the direct sweeps left: cancelled once checked, so nothing waits for them. */
async function cancelQueuedRuns(companyId: string) {
  await prisma.heartbeatRun.updateMany({ where: { companyId, status: 'queued' }, data: { status: 'cancelled', finishedAt: new Date() } });
}

describe('stranded sweep batches (issue 12)', () => {
  it('writes more issues than one batch holds, with mixed decisions, exactly as one issue at a time', async () => {
    const acme = await givenFreshCompany();
    const prefix = acme.company.issuePrefix;
    const stranded = await givenManyStranded(acme.company, BATCH_SIZE + 30);
    // R50a/R54: a todo issue that never ran, dispatched in the same batch as the re-dispatches.
    const neverRan = await givenAssignedTodoWithoutRun(prisma, acme.company, { agentName: 'Fresh' });
    // R71.5: an agent refusing on-demand wakes: its re-dispatch writes a skipped wake and no run.
    const refusing = await prisma.agent.create({
      data: { companyId: acme.company.id, name: 'Refusing', role: 'engineer', status: 'idle', adapterType: 'process',
              adapterConfig: { command: agentScript('succeed.sh') }, runtimeConfig: { heartbeat: { wakeOnDemand: false } } },
    });
    const refused = await givenSeededIssue(prisma, acme.company, { title: 'Refused re-dispatch', status: 'todo', assigneeAgentId: refusing.id });
    const refusedRun = await prisma.heartbeatRun.create({
      data: { companyId: acme.company.id, agentId: refusing.id, status: 'failed', invocationSource: 'automation', triggerDetail: 'system',
              errorCode: 'process_lost', contextSnapshot: { issueId: refused.id, taskId: refused.id }, finishedAt: new Date() },
    });

    // The runs the sweep queues are never started here: cancelled after the checks, whatever they find.
    try {
      const { result, followUpRunIds } = await reconcileStrandedAssignedIssues(directSweepDeps(), { companyId: acme.company.id });

      const todo = stranded.filter((s) => s.issue.status === 'todo');
      const inProgress = stranded.filter((s) => s.issue.status === 'in_progress');
      // R52: counters, and `issueIds` in candidate order (createdAt, id).
      expectCounters(result, {
        dispatchRequeued: todo.length,
        escalated: inProgress.length,
        assignmentDispatched: 1,
        skipped: 1,
        issueIds: [...stranded.map((s) => s.issue.id), neverRan.issueId],
      });

      // R53: one re-dispatch run per todo issue, pointing back at the run that died.
      const queued = await prisma.heartbeatRun.findMany({ where: { companyId: acme.company.id, status: 'queued' } });
      const queuedFor = new Map<string, typeof queued>();
      for (const run of queued) queuedFor.set(context(run).issueId as string, [...(queuedFor.get(context(run).issueId as string) ?? []), run]);
      for (const { issue, run } of todo) {
        const runs = queuedFor.get(issue.id) ?? [];
        expect(runs, issue.identifier).toHaveLength(1);
        expect(runs[0]).toMatchObject({ retryOfRunId: run.id, invocationSource: 'automation', triggerDetail: 'system', agentId: issue.assigneeAgentId });
        expect(runs[0].contextSnapshot).toMatchObject({ issueId: issue.id, taskId: issue.id, taskKey: issue.id, wakeReason: 'issue_assignment_recovery', retryReason: 'assignment_recovery', retryOfRunId: run.id, source: 'issue.assignment_recovery', wakeSource: 'automation', wakeTriggerDetail: 'system' });
        const wake = await prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: runs[0].wakeupRequestId! } });
        expect(wake).toMatchObject({ status: 'queued', source: 'automation', reason: 'issue_assignment_recovery', requestedByActorType: 'system', requestedByActorId: null, runId: runs[0].id, payload: { issueId: issue.id, retryOfRunId: run.id } });
      }
      // R54: the never-run issue's first dispatch.
      const [firstDispatch] = queuedFor.get(neverRan.issueId) ?? [];
      expect(firstDispatch.contextSnapshot).toMatchObject({ issueId: neverRan.issueId, wakeReason: 'issue_assigned', source: 'issue.assigned_todo_liveness_dispatch' });
      expect(firstDispatch.retryOfRunId).toBeNull();
      // R71.5: a skipped wake, no run.
      expect(queuedFor.get(refused.id)).toBeUndefined();
      expect(await wakesOfAgent(refusing.id)).toMatchObject([
        { status: 'skipped', reason: 'heartbeat.wakeOnDemand.disabled', runId: null, payload: { issueId: refused.id, retryOfRunId: refusedRun.id } },
      ]);

      // R56–R58: per escalated source, one recovery issue, its dispatch run, the blocker set, one comment, one activity entry.
      const recoveries = await recoveryIssuesOf(acme.company.id);
      expect(recoveries).toHaveLength(inProgress.length);
      expect(new Set(recoveries.map((r) => r.identifier)).size).toBe(inProgress.length);
      const recoveryOf = new Map(recoveries.map((r) => [r.originId!, r]));
      const comments = await prisma.issueComment.findMany({ where: { companyId: acme.company.id } });
      const activities = await prisma.activityLog.findMany({ where: { companyId: acme.company.id, action: 'issue.updated' } });
      for (const { issue, run } of inProgress) {
        const recovery = recoveryOf.get(issue.id)!;
        expect(recovery, issue.identifier).toMatchObject({
          parentId: issue.id, status: 'todo', assigneeAgentId: issue.assigneeAgentId, originRunId: run.id,
          originFingerprint: `stranded_issue_recovery:${acme.company.id}:${issue.id}:${run.id}`, title: `Recover stalled issue ${issue.identifier}`,
        });
        expect(recovery.identifier).toBe(`${prefix}-${recovery.issueNumber}`);
        expect(recovery.description).toBe(await withDecisionOf(issue.id, run.id, recoveryDescription({ prefix, sourceIdentifier: issue.identifier, previousStatus: 'in_progress', run, retryReason: 'issue_continuation_needed' })));
        const [dispatch] = queuedFor.get(recovery.id) ?? [];
        expect(dispatch.contextSnapshot).toMatchObject({ issueId: recovery.id, wakeReason: 'issue_assigned', source: 'stranded_issue_recovery', sourceIssueId: issue.id, strandedRunId: run.id });
        expect(await blockerIdsOf(issue.id)).toEqual([recovery.id]);
        expect(await issueRow(issue.id)).toMatchObject({ status: 'blocked', checkoutRunId: null, executionRunId: null });
        expect(comments.filter((c) => c.issueId === issue.id).map((c) => c.body)).toEqual([await withDecisionOf(issue.id, run.id, sweepEscalationComment('in_progress', recovery as { identifier: string }, prefix))]);
        const logged = activities.filter((a) => a.entityId === issue.id);
        expect(logged).toHaveLength(1);
        expect(logged[0].details).toEqual({
          identifier: issue.identifier, status: 'blocked', previousStatus: 'in_progress', source: 'recovery.reconcile_stranded_assigned_issue',
          latestRunId: run.id, latestRunStatus: 'failed', latestRunErrorCode: 'process_lost', recoveryIssueId: recovery.id, blockerIssueIds: [recovery.id],
        });
      }
      // The company counter moved past every number it gave out.
      const company = await prisma.company.findUniqueOrThrow({ where: { id: acme.company.id } });
      expect(company.issueCounter).toBeGreaterThanOrEqual(Math.max(...recoveries.map((r) => r.issueNumber!)));

      // Every run the sweep created, once, in candidate order: re-dispatches and recovery dispatches.
      expect(new Set(followUpRunIds).size).toBe(followUpRunIds.length);
      expect([...followUpRunIds].sort()).toEqual(queued.map((run) => run.id).sort());
    } finally {
      await cancelQueuedRuns(acme.company.id);
    }
  });

  it('converges when eight batched sweeps race over the same 50 stranded issues', async () => {
    const acme = await givenFreshCompany();
    const stranded = await givenManyStranded(acme.company, 50);
    const deps = directSweepDeps();

    try {
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => reconcileStrandedAssignedIssues(deps, { companyId: acme.company.id })));

      const todo = stranded.filter((s) => s.issue.status === 'todo');
      const inProgress = stranded.filter((s) => s.issue.status === 'in_progress');
      // R65: each source blocked once, by one sweep, with one recovery issue and one comment.
      expect(outcomes.reduce((sum, o) => sum + o.result.escalated, 0)).toBe(inProgress.length);
      const recoveries = await recoveryIssuesOf(acme.company.id);
      expect(recoveries).toHaveLength(inProgress.length);
      const comments = await prisma.issueComment.findMany({ where: { companyId: acme.company.id } });
      for (const { issue } of inProgress) {
        const own = recoveries.filter((r) => r.originId === issue.id);
        expect(own, issue.identifier).toHaveLength(1);
        expect(await blockerIdsOf(issue.id)).toEqual([own[0].id]);
        expect((await issueRow(issue.id)).status).toBe('blocked');
        expect(comments.filter((c) => c.issueId === issue.id)).toHaveLength(1);
      }
      // R53: one re-dispatch run per todo issue, however many sweeps saw it stranded.
      const runs = await prisma.heartbeatRun.findMany({ where: { companyId: acme.company.id, status: 'queued' } });
      for (const { issue } of todo) {
        expect(runs.filter((run) => context(run).issueId === issue.id), issue.identifier).toHaveLength(1);
      }
      // Every created run is some sweep's follow-up, exactly once (R57.6 dispatches included).
      const followUps = outcomes.flatMap((o) => o.followUpRunIds);
      expect(new Set(followUps).size).toBe(followUps.length);
      expect([...followUps].sort()).toEqual(runs.map((run) => run.id).sort());
      expect(runs).toHaveLength(todo.length + inProgress.length);
    } finally {
      await cancelQueuedRuns(acme.company.id);
    }
  });
});
