/**
 * R4 claim gates and R69 slots: a queued run whose situation changed before its workflow claimed
 * it is cancelled with the gate's reason instead of executing — except a paused agent's run, which
 * waits (R69: the starter leaves a non-invokable agent's queue alone).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { eventually, givenAgent, givenCompany, givenIssue, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import { enqueueWakeup } from '../../src/store/wakeups.ts';

let vigil: TestVigil;
let acme: CompanyFixture;
import { TERMINAL_RUN_STATUSES as TERMINAL } from '../../src/domain/runStatus.ts';
import { checksOutAtStart, decideClaim, type ClaimFacts } from '../../src/domain/claimGates.ts';

beforeAll(async () => {
  vigil = await startTestVigil();
  acme = await givenCompany(vigil.admin);
});

afterAll(async () => {
  await vigil?.stop();
});

/** A queued run for the issue whose workflow has not started yet. */
async function queuedRunFor(agentId: string, issueId: string) {
  const result = await enqueueWakeup(vigil.vigil.prisma, agentId, {
    source: 'assignment',
    triggerDetail: 'system',
    reason: 'issue_assigned',
    payload: { issueId },
  });
  if (result.kind !== 'queued') throw new Error(`expected a queued run, got ${result.kind}`);
  return result.run;
}

async function claim(runId: string) {
  await vigil.vigil.runControl.startWorkflows([runId]);
  return waitForRunStatus(vigil.vigil.prisma, runId, TERMINAL);
}

describe('claim gates (R4)', () => {
  it('leaves the run queued while its agent is paused, and runs it once the agent resumes (R69)', async () => {
    const agent = await givenAgent(acme);
    const issue = await givenIssue(acme, { status: 'backlog', assigneeAgentId: agent.id });
    const run = await queuedRunFor(agent.id, issue.id);
    await vigil.vigil.prisma.agent.update({ where: { id: agent.id }, data: { status: 'paused', pauseReason: 'manual' } });
    await vigil.vigil.runControl.startWorkflows([run.id]);
    const state = await eventually(async () => {
      const phase = await vigil.vigil.temporal.workflow.getHandle(`run-${run.id}`).query<{ phase: string }>('runState');
      return phase.phase === 'waiting_for_slot' ? phase : null;
    }, 10_000, 'the run to wait for its agent');
    expect(state.phase).toBe('waiting_for_slot');
    expect((await vigil.vigil.prisma.heartbeatRun.findUniqueOrThrow({ where: { id: run.id } })).status).toBe('queued');

    const resumed = await acme.board.post(`/api/agents/${agent.id}/resume`, {});
    expect(resumed.status).toBe(200);
    expect((await waitForRunStatus(vigil.vigil.prisma, run.id, TERMINAL)).status).toBe('succeeded');
  });

  it('cancels with the budget reason when a hard stop is exceeded', async () => {
    const agent = await givenAgent(acme);
    const issue = await givenIssue(acme, { status: 'backlog', assigneeAgentId: agent.id });
    const run = await queuedRunFor(agent.id, issue.id);
    const policy = await acme.board.post(`/api/companies/${acme.company.id}/budget-policies`, { scopeType: 'agent', scopeId: agent.id, windowKind: 'lifetime', amount: 1, hardStopEnabled: true });
    expect(policy.status).toBe(201);
    const cost = await acme.board.post(`/api/companies/${acme.company.id}/cost-events`, { agentId: agent.id, provider: 'anthropic', model: 'claude', costCents: 5 });
    expect(cost.status).toBe(201);
    const finished = await claim(run.id);
    expect(finished).toMatchObject({ status: 'cancelled', error: 'Agent cannot start because its budget hard-stop is still exceeded.' });
    expect(finished.resultJson).toMatchObject({ stopReason: 'budget_paused' });
  });

  it('cancels a run of an issue held by an active pause hold, and logs the interruption', async () => {
    const agent = await givenAgent(acme);
    const parent = await givenIssue(acme, { title: 'epic' });
    const issue = await givenIssue(acme, { status: 'backlog', assigneeAgentId: agent.id, parentId: parent.id });
    const run = await queuedRunFor(agent.id, issue.id);
    expect((await acme.board.post(`/api/issues/${parent.id}/tree-holds`, { mode: 'pause', reason: 'reorganising' })).status).toBe(201);
    const finished = await claim(run.id);
    expect(finished).toMatchObject({ status: 'cancelled', error: 'Cancelled because issue is held by an active subtree pause hold' });
    const logged = await vigil.vigil.prisma.activityLog.findMany({ where: { entityId: issue.id, action: 'issue.tree_hold_run_interrupted' } });
    expect(logged).toHaveLength(1);
  });

  it('skips a wake of an issue under an active pause hold at enqueue, and lets a verified comment interaction through (R67)', async () => {
    const agent = await givenAgent(acme);
    const parent = await givenIssue(acme, { title: 'paused epic' });
    const issue = await givenIssue(acme, { status: 'backlog', assigneeAgentId: agent.id, parentId: parent.id });
    const hold = await acme.board.post(`/api/issues/${parent.id}/tree-holds`, { mode: 'pause', reason: 'reorganising' });
    expect(hold.status).toBe(201);
    const skipped = await enqueueWakeup(vigil.vigil.prisma, agent.id, { source: 'assignment', triggerDetail: 'system', reason: 'issue_assigned', payload: { issueId: issue.id } });
    expect(skipped).toMatchObject({ kind: 'skipped', reason: 'issue_tree_hold_active' });
    const deferred = await vigil.vigil.prisma.activityLog.findMany({ where: { entityId: issue.id, action: 'issue.tree_hold_wakeup_deferred' } });
    expect(deferred).toHaveLength(1);
    expect(deferred[0].details).toMatchObject({ holdId: hold.body.id, rootIssueId: parent.id });

    const comment = await acme.board.post(`/api/issues/${issue.id}/comments`, { body: 'a question while the epic is paused' });
    expect(comment.status).toBe(201);
    const interaction = await enqueueWakeup(vigil.vigil.prisma, agent.id, {
      source: 'automation',
      triggerDetail: 'system',
      reason: 'issue_commented',
      payload: { issueId: issue.id, commentId: comment.body.id },
    });
    expect(interaction.kind === 'queued' || interaction.kind === 'coalesced').toBe(true);
    const run = 'run' in interaction ? interaction.run : null;
    expect(run?.contextSnapshot).toMatchObject({ treeHoldInteraction: true, activeTreeHold: { holdId: hold.body.id, rootIssueId: parent.id } });
  });

  it('cancels lightly when the issue gained an unresolved blocker: wake skipped, lock cleared', async () => {
    const agent = await givenAgent(acme);
    const blocker = await givenIssue(acme, { title: 'blocker' });
    const issue = await givenIssue(acme, { status: 'backlog', assigneeAgentId: agent.id });
    const run = await queuedRunFor(agent.id, issue.id);
    await acme.board.patch(`/api/issues/${issue.id}`, { blockedByIssueIds: [blocker.id] });
    const finished = await claim(run.id);
    expect(finished).toMatchObject({ status: 'cancelled', errorCode: 'issue_dependencies_blocked' });
    expect(finished.resultJson).toMatchObject({ stopReason: 'issue_dependencies_blocked', timeoutSource: 'dependency_gate' });
    expect((await vigil.vigil.prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: run.wakeupRequestId! } })).status).toBe('skipped');
  });

  it('cancels lightly when the issue was reassigned or finished meanwhile', async () => {
    const [agent, other] = [await givenAgent(acme), await givenAgent(acme)];
    const reassigned = await givenIssue(acme, { status: 'backlog', assigneeAgentId: agent.id });
    const runA = await queuedRunFor(agent.id, reassigned.id);
    await vigil.vigil.prisma.issue.update({ where: { id: reassigned.id }, data: { assigneeAgentId: other.id } });
    expect(await claim(runA.id)).toMatchObject({ status: 'cancelled', errorCode: 'issue_assignee_changed' });

    const finishedIssue = await givenIssue(acme, { status: 'backlog', assigneeAgentId: agent.id });
    const runB = await queuedRunFor(agent.id, finishedIssue.id);
    await vigil.vigil.prisma.issue.update({ where: { id: finishedIssue.id }, data: { status: 'done' } });
    const finished = await claim(runB.id);
    expect(finished).toMatchObject({ status: 'cancelled', errorCode: 'issue_terminal_status' });
    expect(finished.resultJson).toMatchObject({ timeoutSource: 'stale_queued_run_gate' });
  });
});

describe('the claim\'s writes (R4.5, R9, R27)', () => {
  it('claims in one transition: run running, wake claimed, issue locked and checked out, one lease and one start event', async () => {
    const agent = await givenAgent(acme, { script: 'sleep.sh', env: { SLEEP_SEC: '2' } });
    const issue = await givenIssue(acme, { status: 'backlog', assigneeAgentId: agent.id });
    const prisma = vigil.vigil.prisma;
    // R9: a checkout left behind by an ended run is adopted.
    const ended = await prisma.heartbeatRun.create({ data: { companyId: acme.company.id, agentId: agent.id, status: 'cancelled', finishedAt: new Date() } });
    await prisma.issue.update({ where: { id: issue.id }, data: { checkoutRunId: ended.id } });
    const run = await queuedRunFor(agent.id, issue.id);
    await vigil.vigil.runControl.startWorkflows([run.id]);
    const running = await eventually(async () => {
      const row = await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: run.id } });
      return row.status === 'running' ? row : null;
    }, 20_000, 'the run to be claimed');
    expect(running.startedAt).not.toBeNull();
    expect(await prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: run.wakeupRequestId! } })).toMatchObject({ status: 'claimed' });
    expect(await prisma.issue.findUniqueOrThrow({ where: { id: issue.id } })).toMatchObject({
      status: 'in_progress',
      checkoutRunId: run.id,
      executionRunId: run.id,
      executionAgentNameKey: agent.name.trim().toLowerCase(),
    });
    expect(await prisma.environmentLease.findMany({ where: { heartbeatRunId: run.id } })).toHaveLength(1);
    expect(await prisma.heartbeatRunEvent.count({ where: { runId: run.id, message: 'run started' } })).toBe(1);
    expect(await prisma.activityLog.count({ where: { runId: run.id, action: 'environment.lease_acquired' } })).toBe(1);
    expect((await waitForRunStatus(prisma, run.id, TERMINAL, 30_000)).status).toBe('succeeded');
  });

  it('stamps the lock but leaves a live run\'s checkout alone (R9: a tolerated conflict)', async () => {
    const agent = await givenAgent(acme, { script: 'sleep.sh', env: { SLEEP_SEC: '2' } });
    const issue = await givenIssue(acme, { status: 'backlog', assigneeAgentId: agent.id });
    const prisma = vigil.vigil.prisma;
    const holder = await prisma.heartbeatRun.create({ data: { companyId: acme.company.id, agentId: agent.id, status: 'scheduled_retry', scheduledRetryAt: new Date(Date.now() + 3_600_000) } });
    await prisma.issue.update({ where: { id: issue.id }, data: { checkoutRunId: holder.id } });
    const run = await queuedRunFor(agent.id, issue.id);
    await vigil.vigil.runControl.startWorkflows([run.id]);
    await eventually(async () => (await prisma.issue.findUniqueOrThrow({ where: { id: issue.id } })).executionRunId === run.id, 20_000, 'the lazy lock');
    expect(await prisma.issue.findUniqueOrThrow({ where: { id: issue.id } })).toMatchObject({ status: 'backlog', checkoutRunId: holder.id });
    expect((await waitForRunStatus(prisma, run.id, TERMINAL, 30_000)).status).toBe('succeeded');
    await prisma.heartbeatRun.update({ where: { id: holder.id }, data: { status: 'cancelled', finishedAt: new Date() } });
  });
});

describe('the claim decision (R4 order, R9), pure', () => {
  const agentId = '00000000-0000-4000-8000-00000000000a';
  const issueId = '00000000-0000-4000-8000-0000000000b1';
  const facts = (over: Partial<ClaimFacts> = {}): ClaimFacts => ({
    run: { id: 'run-1', companyId: 'c1', status: 'queued', scheduledRetryAt: null },
    context: { issueId, wakeReason: 'issue_assigned', treeHoldInteraction: false, resumeIntent: false, hasWakeComment: false },
    agent: { id: agentId, name: ' Coder ', status: 'idle', runtimeStateJson: {} },
    budget: { companyStatus: 'active', companyPauseReason: null, agentStatus: 'idle', agentPauseReason: null, exceededScopes: [] },
    issue: { id: issueId, companyId: 'c1', assigneeAgentId: agentId, status: 'todo', checkoutRunId: null },
    pauseHold: null,
    unresolvedBlockerIds: [],
    checkoutHolderStatus: null,
    ...over,
  });
  const now = new Date('2026-12-06T00:00:00Z');

  it('applies the gates in the rule\'s order: budget before the hold, the hold before blockers, blockers before staleness', () => {
    const everything = facts({
      budget: { companyStatus: 'paused', companyPauseReason: 'manual', agentStatus: 'idle', agentPauseReason: null, exceededScopes: [] },
      pauseHold: { holdId: 'h1', rootIssueId: issueId },
      unresolvedBlockerIds: ['b1'],
      issue: null,
    });
    expect(decideClaim(everything, now)).toMatchObject({ kind: 'cancel', reason: expect.stringContaining('paused') });
    expect(decideClaim({ ...everything, budget: facts().budget }, now)).toMatchObject({ kind: 'cancel', holdInterrupted: { holdId: 'h1', issueId } });
    expect(decideClaim({ ...everything, budget: facts().budget, pauseHold: null }, now)).toMatchObject({ kind: 'light_cancel', code: 'issue_dependencies_blocked' });
    expect(decideClaim({ ...everything, budget: facts().budget, pauseHold: null, unresolvedBlockerIds: [] }, now)).toMatchObject({ kind: 'light_cancel', code: 'issue_not_found' });
  });

  it('waits for a non-invokable agent and parks behind a quota wall before any gate (R69)', () => {
    const paused = facts({ agent: { ...facts().agent!, status: 'paused' }, pauseHold: { holdId: 'h1', rootIssueId: issueId } });
    expect(decideClaim(paused, now)).toEqual({ kind: 'wait_for_agent' });
    const walled = facts({ agent: { ...facts().agent!, runtimeStateJson: { providerQuota: { until: '2026-12-06T05:00:00Z', runId: 'r0' } } } });
    expect(decideClaim(walled, now)).toMatchObject({ kind: 'park_for_quota' });
    expect(decideClaim(facts({ agent: null }), now)).toMatchObject({ kind: 'cancel' });
  });

  it('locks only for the assignee and checks out only when R9 holds', () => {
    expect(decideClaim(facts(), now)).toEqual({ kind: 'claim', issueLock: { issueId, executionAgentNameKey: 'coder', checkOut: true } });
    const mentioned = facts({ context: { ...facts().context, wakeReason: 'issue_comment_mentioned' }, issue: { ...facts().issue!, assigneeAgentId: 'someone-else' } });
    expect(decideClaim(mentioned, now)).toEqual({ kind: 'claim', issueLock: null });
    expect(decideClaim(facts({ context: { ...facts().context, issueId: null } }), now)).toEqual({ kind: 'claim', issueLock: null });
    const base = { issueStatus: 'todo', checkoutRunId: null, checkoutHolderStatus: null, runId: 'run-1', dependenciesReady: true, wakeReason: 'issue_assigned' };
    expect(checksOutAtStart(base)).toBe(true);
    expect(checksOutAtStart({ ...base, issueStatus: 'in_review' })).toBe(false);
    expect(checksOutAtStart({ ...base, wakeReason: null })).toBe(false);
    expect(checksOutAtStart({ ...base, wakeReason: 'execution_continuation' })).toBe(false);
    expect(checksOutAtStart({ ...base, dependenciesReady: false })).toBe(false);
    expect(checksOutAtStart({ ...base, checkoutRunId: 'other', checkoutHolderStatus: 'running' })).toBe(false);
    expect(checksOutAtStart({ ...base, checkoutRunId: 'other', checkoutHolderStatus: 'succeeded' })).toBe(true);
    expect(checksOutAtStart({ ...base, checkoutRunId: 'other', checkoutHolderStatus: null })).toBe(true);
  });

  it('answers a retried claim of a running run, a scheduled retry and an ended run without gates', () => {
    expect(decideClaim(facts({ run: { ...facts().run, status: 'running' }, agent: null }), now)).toEqual({ kind: 'already_running' });
    expect(decideClaim(facts({ run: { ...facts().run, status: 'scheduled_retry', scheduledRetryAt: now } }), now)).toEqual({ kind: 'scheduled', dueAt: now });
    expect(decideClaim(facts({ run: { ...facts().run, status: 'cancelled' } }), now)).toEqual({ kind: 'ended', status: 'cancelled' });
  });
});

describe('agent concurrency (R69)', () => {
  it('keeps a second run queued until the agent has a free slot', async () => {
    const agent = await givenAgent(acme, { script: 'sleep.sh', env: { SLEEP_SEC: '2' }, maxConcurrentRuns: 1 });
    await givenIssue(acme, { status: 'todo', assigneeAgentId: agent.id, title: 'one' });
    await givenIssue(acme, { status: 'todo', assigneeAgentId: agent.id, title: 'two' });
    const prisma = vigil.vigil.prisma;
    const runs = await eventually(async () => {
      const rows = await prisma.heartbeatRun.findMany({ where: { agentId: agent.id }, orderBy: { createdAt: 'asc' } });
      return rows.length === 2 && rows.some((r) => r.status === 'running') ? rows : null;
    }, 20_000, 'one run to start');
    const waiting = runs.find((r) => r.status !== 'running')!;
    expect(waiting.status).toBe('queued');
    expect(await prisma.heartbeatRun.count({ where: { agentId: agent.id, status: 'running' } })).toBe(1);
    const done = await Promise.all(runs.map((r) => waitForRunStatus(prisma, r.id, TERMINAL, 30_000)));
    expect(done.map((r) => r.status)).toEqual(['succeeded', 'succeeded']);
    // They never overlapped: the second started after the first finished.
    const [a, b] = done.sort((x, y) => x.startedAt!.getTime() - y.startedAt!.getTime());
    expect(b.startedAt!.getTime()).toBeGreaterThanOrEqual(a.finishedAt!.getTime());
  });

  it('keeps steady concurrent load on one agent deadlock-free, never above its limit', async () => {
    // Wakes keep arriving while earlier runs finalize: the mix that once deadlocked on the agent row.
    const agent = await givenAgent(acme, { script: 'succeed.sh', maxConcurrentRuns: 10 });
    const runs: Awaited<ReturnType<typeof waitForRunStatus>>[] = [];
    await Promise.all(
      Array.from({ length: 12 }, async (_, loop) => {
        for (let round = 0; round < 5; round++) {
          const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { payload: { taskId: `load-${loop}-${round}` } });
          expect(woken.status, JSON.stringify(woken.body)).toBe(202);
          runs.push(await waitForRunStatus(vigil.vigil.prisma, woken.body.id, TERMINAL, 60_000));
        }
      }),
    );
    expect(runs.map((run) => run.status)).toEqual(Array(60).fill('succeeded'));
    // At every run's start, at most nine others were between their start and their finish.
    for (const run of runs) {
      const overlapping = runs.filter((other) => other !== run && other.startedAt! <= run.startedAt! && other.finishedAt! > run.startedAt!);
      expect(overlapping.length).toBeLessThanOrEqual(9);
    }
  });
});
