/**
 * R73 (R8 step 7), on the real stack: a succeeded run woken to work on an issue that leaves the
 * issue no comment gets exactly one `missing_issue_comment` follow-up run, which takes the
 * issue's execution lock; a follow-up that again says nothing is `retry_exhausted`. Runs that
 * commented, runs woken for other reasons and runs that did not succeed are left as they were.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { eventually, givenAgent, givenCompany, givenIssue, waitForIssueRun, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import { TERMINAL_RUN_STATUSES as TERMINAL } from '../../src/domain/runStatus.ts';
import { recoveryEventTexts } from '../../src/domain/recoveryTexts.ts';

let vigil: TestVigil;

beforeAll(async () => {
  vigil = await startTestVigil();
});

afterAll(async () => {
  await vigil?.stop();
});

const prisma = () => vigil.vigil.prisma;
const runsOfIssue = (issueId: string) =>
  prisma().heartbeatRun.findMany({ where: { contextSnapshot: { path: ['issueId'], equals: issueId } }, orderBy: { createdAt: 'asc' } });
const commentsOn = (issueId: string) => prisma().issueComment.findMany({ where: { issueId }, orderBy: { createdAt: 'asc' } });
const eventMessages = async (runId: string) =>
  (await prisma().heartbeatRunEvent.findMany({ where: { runId }, orderBy: { seq: 'asc' } })).map((event) => event.message);
const missingCommentWakes = (agentId: string) => prisma().agentWakeupRequest.findMany({ where: { agentId, reason: 'missing_issue_comment' } });

/** An assigned `todo` issue; its `issue_assigned` run, once terminal. */
async function givenAssignedIssueRun(fixture: CompanyFixture, agentId: string) {
  const issue = await givenIssue(fixture, { status: 'todo', assigneeAgentId: agentId });
  const queued = await waitForIssueRun(prisma(), issue.id);
  expect(queued.contextSnapshot).toMatchObject({ wakeReason: 'issue_assigned' });
  return { issue, run: await waitForRunStatus(prisma(), queued.id, TERMINAL) };
}

describe('the issue-comment policy (R73)', () => {
  let acme: CompanyFixture;

  beforeAll(async () => {
    acme = await givenCompany(vigil.admin);
  });

  it('queues exactly one follow-up that takes the execution lock when a run leaves no comment, and exhausts it when the follow-up is silent too', async () => {
    const agent = await givenAgent(acme, { script: 'writes-notes-silently.sh', env: { LINGER_ON_WAKE_REASON: 'missing_issue_comment' } });
    const { issue, run } = await givenAssignedIssueRun(acme, agent.id);

    // The run worked (a document revision, so it is `advanced`) but printed no summary.
    expect(run).toMatchObject({ status: 'succeeded', livenessState: 'advanced', issueCommentStatus: 'retry_queued', issueCommentSatisfiedByCommentId: null });
    expect(run.issueCommentRetryQueuedAt).not.toBeNull();
    expect(await commentsOn(issue.id)).toHaveLength(0);

    const followUps = await prisma().heartbeatRun.findMany({ where: { retryOfRunId: run.id } });
    expect(followUps).toHaveLength(1);
    const followUp = followUps[0];
    expect(followUp).toMatchObject({ invocationSource: 'automation', triggerDetail: 'system', agentId: agent.id });
    expect(followUp.contextSnapshot).toMatchObject({ issueId: issue.id, wakeReason: 'missing_issue_comment', retryReason: 'missing_issue_comment', retryOfRunId: run.id });
    expect(await prisma().agentWakeupRequest.findUniqueOrThrow({ where: { id: followUp.wakeupRequestId! } })).toMatchObject({
      source: 'automation',
      triggerDetail: 'system',
      reason: 'missing_issue_comment',
      requestedByActorType: 'system',
      runId: followUp.id,
      payload: { issueId: issue.id, retryOfRunId: run.id, retryReason: 'missing_issue_comment' },
    });
    // The lock moved with the run's terminal write: the release (step 8) had nothing to release.
    const live = await prisma().heartbeatRun.findUniqueOrThrow({ where: { id: followUp.id } });
    expect(['queued', 'running']).toContain(live.status);
    expect((await prisma().issue.findUniqueOrThrow({ where: { id: issue.id } })).executionRunId).toBe(followUp.id);
    expect(await eventMessages(run.id)).toContain(recoveryEventTexts.missingCommentFollowUpQueued(followUp.id));

    // The follow-up is silent as well: exhausted, and nothing more is queued.
    const ended = await waitForRunStatus(prisma(), followUp.id, TERMINAL);
    expect(ended).toMatchObject({ status: 'succeeded', livenessState: 'advanced', issueCommentStatus: 'retry_exhausted', issueCommentRetryQueuedAt: null });
    expect(await eventMessages(followUp.id)).toContain(recoveryEventTexts.missingCommentRetryExhausted);
    expect(await prisma().heartbeatRun.count({ where: { retryOfRunId: followUp.id } })).toBe(0);
    expect(await runsOfIssue(issue.id)).toHaveLength(2);
    expect(await missingCommentWakes(agent.id)).toHaveLength(1);
    expect(await prisma().issue.findUniqueOrThrow({ where: { id: issue.id } })).toMatchObject({ status: 'in_progress', executionRunId: null });

    // Temporal names why the follow-up exists.
    const description = await vigil.vigil.temporal.workflow.getHandle(`run-${followUp.id}`).describe();
    expect(description.searchAttributes).toMatchObject({ VigilRetryKind: ['missing_issue_comment'], VigilRetryOfRunId: [run.id] });
  });

  it('is satisfied by the summary comment the run posted (R8 step 5)', async () => {
    const agent = await givenAgent(acme, { script: 'succeed.sh' });
    const { issue, run } = await givenAssignedIssueRun(acme, agent.id);

    const comments = await commentsOn(issue.id);
    expect(comments).toHaveLength(1);
    expect(comments[0]).toMatchObject({ body: 'Fixed the flaky test', createdByRunId: run.id });
    expect(run).toMatchObject({ status: 'succeeded', issueCommentStatus: 'satisfied', issueCommentSatisfiedByCommentId: comments[0].id, issueCommentRetryQueuedAt: null });
    expect(await prisma().heartbeatRun.count({ where: { retryOfRunId: run.id } })).toBe(0);
    expect(await missingCommentWakes(agent.id)).toHaveLength(0);
  });

  it('does not apply to a run woken for another reason, even a silent one', async () => {
    const agent = await givenAgent(acme, { script: 'writes-notes-silently.sh' });
    // Backlog: assigning wakes nobody, so the on-demand wake is the issue's only run.
    const issue = await givenIssue(acme, { status: 'backlog', assigneeAgentId: agent.id });
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { reason: 'manual_check', payload: { issueId: issue.id } });
    expect(woken.status, JSON.stringify(woken.body)).toBe(202);
    const run = await waitForRunStatus(prisma(), woken.body.id, TERMINAL);

    expect(run.contextSnapshot).toMatchObject({ issueId: issue.id, wakeReason: 'manual_check' });
    expect(run).toMatchObject({ status: 'succeeded', livenessState: 'advanced', issueCommentStatus: 'not_applicable', issueCommentRetryQueuedAt: null });
    expect(await commentsOn(issue.id)).toHaveLength(0);
    expect(await prisma().heartbeatRun.count({ where: { retryOfRunId: run.id } })).toBe(0);
    expect(await runsOfIssue(issue.id)).toHaveLength(1);
    expect(await missingCommentWakes(agent.id)).toHaveLength(0);
    expect((await prisma().issue.findUniqueOrThrow({ where: { id: issue.id } })).executionRunId).toBeNull();
  });

  it('leaves a failed run to the recovery rules: one continuation recovery, then the issue is blocked', async () => {
    // A company of its own: the escalation (R56) must not find an owner among the other tests' agents.
    const initech = await givenCompany(vigil.admin);
    const agent = await givenAgent(initech, { script: 'fail.sh' });
    const { issue, run } = await givenAssignedIssueRun(initech, agent.id);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'adapter_failed', issueCommentStatus: 'not_applicable' });

    // R33: the issue was checked out (R9), so its one immediate recovery is a continuation.
    const recovery = await prisma().heartbeatRun.findFirstOrThrow({ where: { retryOfRunId: run.id } });
    expect(recovery.contextSnapshot).toMatchObject({ wakeReason: 'issue_continuation_needed', retryReason: 'issue_continuation_needed' });
    const recoveryEnded = await waitForRunStatus(prisma(), recovery.id, TERMINAL);
    expect(recoveryEnded).toMatchObject({ status: 'failed', issueCommentStatus: 'not_applicable' });
    // R32: the retry was used, so the issue is blocked; no comment follow-up anywhere in between.
    await eventually(async () => (await prisma().issue.findUniqueOrThrow({ where: { id: issue.id } })).status === 'blocked', 20_000, 'the issue to be blocked');
    expect((await runsOfIssue(issue.id)).map((row) => [row.status, row.issueCommentStatus])).toEqual([
      ['failed', 'not_applicable'],
      ['failed', 'not_applicable'],
    ]);
    expect(await missingCommentWakes(agent.id)).toHaveLength(0);
  });

  it('stands aside for the liveness continuation when the silent run showed nothing either (R46)', async () => {
    const agent = await givenAgent(acme, { script: 'writes-notes-silently.sh', env: { NOTES: 'none' } });
    const { issue, run } = await givenAssignedIssueRun(acme, agent.id);
    expect(run).toMatchObject({ status: 'succeeded', livenessState: 'empty_response', issueCommentStatus: 'not_applicable' });
    expect(await eventMessages(run.id)).toContain(recoveryEventTexts.missingCommentStandAside.liveness_continuation);

    // Its one follow-up is the liveness continuation; the bounded chain ends with the exhausted comment.
    await eventually(async () => {
      const comments = await commentsOn(issue.id);
      return comments.some((comment) => comment.body.startsWith('Bounded liveness continuation exhausted'));
    }, 60_000, 'the bounded continuation to be exhausted');
    const runs = await runsOfIssue(issue.id);
    expect(runs.map((row) => (row.contextSnapshot as Record<string, unknown>).wakeReason)).toEqual([
      'issue_assigned',
      'run_liveness_continuation',
      'run_liveness_continuation',
    ]);
    expect(runs.every((row) => row.issueCommentStatus === 'not_applicable')).toBe(true);
    expect(await missingCommentWakes(agent.id)).toHaveLength(0);
  });
});
