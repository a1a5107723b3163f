/**
 * Issue 14 §2 (V8): every recovery decision after a run is recorded once, with the rule, the
 * evidence and what it created; the API lists them newest first per issue and per run, within the
 * company, redacted; the run workflow's memo shows the decision in one line; recovery comments and
 * recovery issues name their decision's id. Real agents on a real Vigil (Temporal, PostgreSQL).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { eventually, givenAgent, givenCompany, givenIssue, waitForIssueRun, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import { TERMINAL_RUN_STATUSES as TERMINAL } from '../../src/domain/runStatus.ts';
import { LIVENESS_EXHAUSTED_PREFIX } from '../../src/domain/recoveryTexts.ts';
import { MAX_LIVENESS_CONTINUATIONS } from '../../src/domain/recoveryKinds.ts';
import type { RecoveryDecisionView } from '../../src/store/recoveryDecisions.ts';

let vigil: TestVigil;
let acme: CompanyFixture;

beforeAll(async () => {
  vigil = await startTestVigil();
  acme = await givenCompany(vigil.admin);
});

afterAll(async () => {
  await vigil?.stop();
});

const prisma = () => vigil.vigil.prisma;

type DecisionView = RecoveryDecisionView;

async function issueDecisions(issueId: string, fixture = acme): Promise<DecisionView[]> {
  const response = await fixture.board.get(`/api/issues/${issueId}/recovery-decisions`);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body;
}

async function runDecisions(runId: string, fixture = acme): Promise<DecisionView[]> {
  const response = await fixture.board.get(`/api/heartbeat-runs/${runId}/recovery-decisions`);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body;
}

/** The run workflow's memo line (Temporal UI's "Memo"), once the workflow has written it. */
async function memoLine(runId: string): Promise<string> {
  return eventually(async () => {
    const description = await vigil.vigil.temporal.workflow.getHandle(`run-${runId}`).describe();
    const line = description.memo?.recoveryDecision;
    return typeof line === 'string' ? line : null;
  }, 20_000, `the memo of run ${runId}`);
}

const reference = (decisionId: string) => `- Recovery decision: \`${decisionId}\``;

/** Nothing runs or waits on the issue any more, seen twice in a row. */
async function settled(issueIds: string[]) {
  let quiet = 0;
  await eventually(async () => {
    const busy = await prisma().heartbeatRun.count({
      where: { status: { in: ['queued', 'running'] }, OR: issueIds.map((id) => ({ contextSnapshot: { path: ['issueId'], equals: id } })) },
    });
    quiet = busy === 0 ? quiet + 1 : 0;
    if (quiet < 2) await new Promise((resolve) => setTimeout(resolve, 300));
    return quiet >= 2;
  }, 90_000, 'the issues to settle');
}

describe('recovery decisions (V8)', () => {
  it('records a failed run\'s continuation (R33) and, when that fails too, the escalation (R32) once each, named by the comment and the recovery issue, listed newest first and shown in each run\'s memo', async () => {
    const agent = await givenAgent(acme, { script: 'fail.sh' });
    const issue = await givenIssue(acme, { title: 'Parse the task', status: 'todo', assigneeAgentId: agent.id });
    const first = await waitForRunStatus(prisma(), (await waitForIssueRun(prisma(), issue.id)).id, TERMINAL);
    expect(first.status).toBe('failed');
    const blocked = await eventually(async () => {
      const row = await prisma().issue.findUniqueOrThrow({ where: { id: issue.id } });
      return row.status === 'blocked' ? row : null;
    }, 60_000, 'the issue to be blocked');
    const recovery = await prisma().issue.findFirstOrThrow({ where: { originKind: 'stranded_issue_recovery', originId: issue.id } });
    await settled([issue.id, recovery.id]);
    const dispatchRun = await prisma().heartbeatRun.findFirstOrThrow({ where: { retryOfRunId: first.id } });
    expect(dispatchRun.status).toBe('failed');

    const decisions = await issueDecisions(issue.id);
    // The run checked the issue out (`in_progress`), so R33's recovery is a continuation.
    expect(decisions.map((d) => [d.decision, d.rule])).toEqual([['escalation', 'R32'], ['continuation', 'R33']]);
    const [escalation, dispatch] = decisions;
    expect(dispatch).toMatchObject({
      issueId: issue.id, runId: first.id, source: 'run_ending', reason: 'run_unsuccessful', createdRunId: dispatchRun.id, createdIssueId: null,
      evidence: { runStatus: 'failed', errorCode: 'adapter_failed', attempt: 1, maxAttempts: 1, previousStatus: 'in_progress', lastUsefulActionAt: null },
    });
    expect(escalation).toMatchObject({
      issueId: issue.id, runId: dispatchRun.id, source: 'run_ending', reason: 'retry_already_used', createdIssueId: recovery.id,
      evidence: { previousStatus: 'in_progress', runStatus: 'failed', retryReason: 'issue_continuation_needed', recoveryIssue: 'created', recoveryIssueId: recovery.id },
    });
    const recoveryDispatch = await prisma().heartbeatRun.findFirstOrThrow({ where: { contextSnapshot: { path: ['issueId'], equals: recovery.id } }, orderBy: { createdAt: 'asc' } });
    expect(escalation.createdRunId).toBe(recoveryDispatch.id);
    expect(Date.parse(escalation.createdAt)).toBeGreaterThanOrEqual(Date.parse(dispatch.createdAt));
    expect(escalation.summary).toBe(`escalation (R32): the issue's one automatic retry of this kind was already used → run ${recoveryDispatch.id}, issue ${recovery.id} [decision ${escalation.id}]`);
    expect(dispatch.summary).toBe(`continuation (R33): the run did not succeed and the issue has no other live execution path; attempt 1 of 1 → run ${dispatchRun.id} [decision ${dispatch.id}]`);

    // The one escalation comment and the recovery issue's description end with the decision's id.
    const comments = await prisma().issueComment.findMany({ where: { issueId: blocked.id } });
    expect(comments).toHaveLength(1);
    expect(comments[0].body.split('\n').at(-1)).toBe(reference(escalation.id));
    expect(recovery.description!.split('\n').at(-1)).toBe(reference(escalation.id));

    // Per run: each run's own decision, and its workflow's memo in one line.
    expect((await runDecisions(first.id)).map((d) => d.id)).toEqual([dispatch.id]);
    expect((await runDecisions(dispatchRun.id)).map((d) => d.id)).toEqual([escalation.id]);
    expect(await memoLine(first.id)).toBe(dispatch.summary);
    expect(await memoLine(dispatchRun.id)).toBe(escalation.summary);
    expect(await memoLine(first.id)).not.toContain('\n');

    // The recovery issue's own failed dispatch is blocked in place (R62): a different decision, a different notice.
    const inPlace = await eventually(async () => (await issueDecisions(recovery.id)).find((d) => d.decision === 'block_in_place'), 30_000, 'the in-place block');
    expect(inPlace).toMatchObject({ rule: 'R62', reason: 'recovery_issue_stalled', runId: recoveryDispatch.id, createdIssueId: null });
    const recoveryComments = await prisma().issueComment.findMany({ where: { issueId: recovery.id } });
    expect(recoveryComments.map((c) => c.body.split('\n').at(-1))).toEqual([reference(inPlace.id)]);
    expect(inPlace.id).not.toBe(escalation.id);
    // Recorded once: nothing else for these runs in the table.
    expect(await prisma().recoveryDecision.count({ where: { runId: { in: [first.id, dispatchRun.id, recoveryDispatch.id] } } })).toBe(3);
  });

  it('records a plan-only run\'s bounded continuations (R46) and then why there is none, with the exhausted comment naming it', async () => {
    const agent = await givenAgent(acme, { script: 'plan-only.sh' });
    const issue = await givenIssue(acme, { title: 'Fix the parser', status: 'todo', assigneeAgentId: agent.id });
    await eventually(async () => (await prisma().issueComment.count({ where: { issueId: issue.id, body: { startsWith: LIVENESS_EXHAUSTED_PREFIX } } })) === 1, 90_000, 'the exhausted comment');
    await settled([issue.id]);
    const runs = await prisma().heartbeatRun.findMany({ where: { contextSnapshot: { path: ['issueId'], equals: issue.id } }, orderBy: { createdAt: 'asc' } });
    expect(runs).toHaveLength(MAX_LIVENESS_CONTINUATIONS + 1);

    const decisions = (await issueDecisions(issue.id)).reverse();
    expect(decisions.map((d) => [d.decision, d.rule, d.reason, d.runId, d.createdRunId])).toEqual([
      ['continuation', 'R46', 'no_progress', runs[0].id, runs[1].id],
      ['continuation', 'R46', 'no_progress', runs[1].id, runs[2].id],
      ['none', 'R46', 'continuations_exhausted', runs[2].id, null],
    ]);
    expect(decisions.map((d) => [d.evidence.attempt, d.evidence.maxAttempts, d.evidence.livenessState])).toEqual([
      [1, 2, 'plan_only'],
      [2, 2, 'plan_only'],
      [2, 2, 'plan_only'],
    ]);
    const exhausted = await prisma().issueComment.findFirstOrThrow({ where: { issueId: issue.id, body: { startsWith: LIVENESS_EXHAUSTED_PREFIX } } });
    expect(exhausted.body.split('\n').at(-1)).toBe(reference(decisions[2].id));
    expect(await memoLine(runs[2].id)).toBe(decisions[2].summary);
    expect(decisions[2].summary).toContain('continuations are used up; attempt 2 of 2');
  });

  it('records a lost process\'s one retry (R23) and an overloaded model\'s scheduled retry (R38) with their counters', async () => {
    const sleeper = await givenAgent(acme, { script: 'sleep.sh' });
    const woken = await acme.board.post(`/api/agents/${sleeper.id}/wakeup`, {});
    const running = await eventually(async () => {
      const row = await prisma().heartbeatRun.findUnique({ where: { id: woken.body.id } });
      return row?.processPid ? row : null;
    }, 20_000, 'the agent process to start');
    process.kill(running.processPid!, 'SIGKILL');
    const lost = await waitForRunStatus(prisma(), running.id, TERMINAL);
    expect(lost.errorCode).toBe('process_lost');
    const retry = await prisma().heartbeatRun.findFirstOrThrow({ where: { retryOfRunId: lost.id } });
    const [retried] = await runDecisions(lost.id);
    expect(retried).toMatchObject({ decision: 'retry', rule: 'R23', reason: 'process_lost', createdRunId: retry.id, evidence: { attempt: 1, maxAttempts: 1, errorCode: 'process_lost' } });
    expect(await memoLine(lost.id)).toBe(retried.summary);
    await acme.board.post(`/api/heartbeat-runs/${retry.id}/cancel`, {});

    const overloaded = await givenAgent(acme, { script: 'overloaded.sh' });
    const issue = await givenIssue(acme, { title: 'Summarise the logs', status: 'todo', assigneeAgentId: overloaded.id });
    const failed = await waitForRunStatus(prisma(), (await waitForIssueRun(prisma(), issue.id)).id, TERMINAL);
    const scheduled = await prisma().heartbeatRun.findFirstOrThrow({ where: { retryOfRunId: failed.id } });
    expect(scheduled.status).toBe('scheduled_retry');
    const [decision] = await issueDecisions(issue.id);
    expect(decision).toMatchObject({ decision: 'scheduled_retry', rule: 'R38', reason: 'transient_upstream', runId: failed.id, createdRunId: scheduled.id, evidence: { attempt: 1, maxAttempts: 4 } });
    expect(Date.parse(decision.evidence.dueAt as string)).toBeGreaterThan(Date.parse(failed.finishedAt!.toISOString()));
    expect(decision.summary).toContain(`attempt 1 of 4; due ${decision.evidence.dueAt as string}`);
    await acme.board.post(`/api/heartbeat-runs/${scheduled.id}/cancel`, {});
  });

  it('says why nothing was done after a failed run without an issue, and shows a succeeded run needed none', async () => {
    const failing = await givenAgent(acme, { script: 'fail.sh' });
    const woken = await acme.board.post(`/api/agents/${failing.id}/wakeup`, {});
    expect(woken.status).toBe(202);
    const failed = await waitForRunStatus(prisma(), woken.body.id, TERMINAL);
    expect(failed.status).toBe('failed');
    const [none] = await eventually(async () => {
      const found = await runDecisions(failed.id);
      return found.length > 0 ? found : null;
    }, 20_000, 'the decision');
    expect(none).toMatchObject({ decision: 'none', rule: 'R28', reason: 'no_issue', issueId: null, createdRunId: null, evidence: { runStatus: 'failed', errorCode: 'adapter_failed' } });
    expect(await memoLine(failed.id)).toBe(none.summary);

    const fine = await givenAgent(acme, { script: 'succeed.sh' });
    const ok = await acme.board.post(`/api/agents/${fine.id}/wakeup`, {});
    const succeeded = await waitForRunStatus(prisma(), ok.body.id, TERMINAL);
    expect(succeeded.status).toBe('succeeded');
    expect(await memoLine(succeeded.id)).toBe('no recovery needed: the run succeeded');
    expect(await runDecisions(succeeded.id)).toEqual([]);
  });

  it('scopes the lists to the company, validates the limit, and never shows a secret from the run', async () => {
    const agent = await givenAgent(acme, { script: 'leaks-secret.sh' });
    const issue = await givenIssue(acme, { title: 'Call the upstream', status: 'todo', assigneeAgentId: agent.id });
    const first = await waitForRunStatus(prisma(), (await waitForIssueRun(prisma(), issue.id)).id, TERMINAL);
    const decisions = await eventually(async () => {
      const found = await issueDecisions(issue.id);
      return found.length > 0 ? found : null;
    }, 30_000, 'a decision');
    expect(decisions.at(-1)).toMatchObject({ runId: first.id, decision: 'continuation' });
    const raw = JSON.stringify([await acme.board.get(`/api/issues/${issue.id}/recovery-decisions`), await acme.board.get(`/api/heartbeat-runs/${first.id}/recovery-decisions`)].map((r) => r.body));
    expect(raw).not.toContain('sk-live-4f9c2b7e1d8a6035');

    const globex = await givenCompany(vigil.admin);
    expect((await globex.board.get(`/api/issues/${issue.id}/recovery-decisions`)).status).toBe(404);
    expect((await globex.board.get(`/api/heartbeat-runs/${first.id}/recovery-decisions`)).status).toBe(404);
    const tooMany = await acme.board.get(`/api/issues/${issue.id}/recovery-decisions?limit=0`);
    expect(tooMany.status).toBe(400);
    expect(JSON.stringify(tooMany.body)).toContain('limit');
    const one = await acme.board.get(`/api/issues/${issue.id}/recovery-decisions?limit=1`);
    expect(one.status).toBe(200);
    expect(one.body).toHaveLength(1);
    await settled([issue.id]);
  });
});
