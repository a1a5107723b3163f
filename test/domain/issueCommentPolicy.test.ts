/** R73: who owes the issue a comment, and what happens when it is missing. */
import { describe, expect, it } from 'vitest';
import { commentExpectationOf, decideIssueCommentPolicy, type IssueCommentFacts } from '../../src/domain/issueCommentPolicy.ts';

const ISSUE = 'issue-1';

/** A succeeded `issue_assigned` run that left no comment and still holds the lock: it gets a follow-up. */
const silentRun: IssueCommentFacts = {
  expectation: 'expected',
  commentId: null,
  livenessState: 'advanced',
  deferredCommentWake: false,
  holdsExecutionLock: true,
  agentInvokable: true,
  pauseHoldActive: false,
};
const decide = (overrides: Partial<IssueCommentFacts>) => decideIssueCommentPolicy({ ...silentRun, ...overrides });

describe('comment expectation (R73)', () => {
  it('expects a comment from a succeeded issue-bound run woken to start, review, approve or revise', () => {
    for (const wakeReason of ['issue_assigned', 'execution_review_requested', 'execution_approval_requested', 'execution_changes_requested']) {
      expect(commentExpectationOf({ status: 'succeeded', issueId: ISSUE, wakeReason })).toBe('expected');
    }
  });

  it('knows its own follow-up by the wake reason missing_issue_comment', () => {
    expect(commentExpectationOf({ status: 'succeeded', issueId: ISSUE, wakeReason: 'missing_issue_comment' })).toBe('follow_up');
  });

  it('expects nothing from other wake reasons', () => {
    for (const wakeReason of ['issue_commented', 'heartbeat_timer', 'run_liveness_continuation', 'issue_continuation_needed', 'process_lost_retry', 'transient_failure_retry', 'manual_check', null]) {
      expect(commentExpectationOf({ status: 'succeeded', issueId: ISSUE, wakeReason })).toBe('none');
    }
  });

  it('expects nothing from a run without an issue', () => {
    expect(commentExpectationOf({ status: 'succeeded', issueId: null, wakeReason: 'issue_assigned' })).toBe('none');
  });

  it('leaves failed, timed-out and cancelled runs to the recovery rules, the follow-up included', () => {
    for (const status of ['failed', 'timed_out', 'cancelled']) {
      expect(commentExpectationOf({ status, issueId: ISSUE, wakeReason: 'issue_assigned' })).toBe('none');
      expect(commentExpectationOf({ status, issueId: ISSUE, wakeReason: 'missing_issue_comment' })).toBe('none');
    }
  });
});

describe('issue-comment policy decision (R73)', () => {
  it('queues one follow-up when an expected comment is missing and the run still holds the lock', () => {
    expect(decide({})).toEqual({ status: 'retry_queued' });
  });

  it('is satisfied by any comment the run left, its own summary comment included', () => {
    expect(decide({ commentId: 'comment-1' })).toEqual({ status: 'satisfied', commentId: 'comment-1' });
    expect(decide({ commentId: 'comment-1', expectation: 'follow_up' })).toEqual({ status: 'satisfied', commentId: 'comment-1' });
    // A comment is a fact, whatever else would have kept R73 out of the way.
    expect(decide({ commentId: 'comment-1', livenessState: 'plan_only', holdsExecutionLock: false })).toEqual({ status: 'satisfied', commentId: 'comment-1' });
  });

  it('exhausts a follow-up that again leaves no comment, and queues nothing more', () => {
    expect(decide({ expectation: 'follow_up' })).toEqual({ status: 'retry_exhausted' });
    expect(decide({ expectation: 'follow_up', livenessState: 'empty_response', holdsExecutionLock: false })).toEqual({ status: 'retry_exhausted' });
  });

  it('does not apply to a run that owes no comment, even when it left none', () => {
    expect(decide({ expectation: 'none' })).toEqual({ status: 'not_applicable', standAside: null });
    expect(decide({ expectation: 'none', commentId: 'comment-1' })).toEqual({ status: 'not_applicable', standAside: null });
  });

  it('stands aside for the liveness continuation, so one run never gets two follow-ups', () => {
    expect(decide({ livenessState: 'plan_only' })).toEqual({ status: 'not_applicable', standAside: 'liveness_continuation' });
    expect(decide({ livenessState: 'empty_response' })).toEqual({ status: 'not_applicable', standAside: 'liveness_continuation' });
    for (const livenessState of ['advanced', 'needs_followup', 'completed', 'blocked', null]) {
      expect(decide({ livenessState }).status).toBe('retry_queued');
    }
  });

  it('stands aside when a deferred comment wake will wake the agent on the issue anyway', () => {
    expect(decide({ deferredCommentWake: true })).toEqual({ status: 'not_applicable', standAside: 'deferred_comment_wake' });
  });

  it('stands aside when the issue execution lock is no longer the run', () => {
    expect(decide({ holdsExecutionLock: false })).toEqual({ status: 'not_applicable', standAside: 'lock_moved' });
  });

  it('queues nothing for an agent that cannot run, or an issue under a pause hold', () => {
    expect(decide({ agentInvokable: false })).toEqual({ status: 'not_applicable', standAside: 'agent_not_invokable' });
    expect(decide({ pauseHoldActive: true })).toEqual({ status: 'not_applicable', standAside: 'pause_hold' });
  });
});
