/**
 * R73: the issue-comment policy. A run woken to start, review, approve or revise an issue is
 * expected to leave at least one comment on it (any comment with `createdByRunId` = the run; R8
 * step 5's summary counts). One that succeeded and left none gets exactly one follow-up run
 * (`missing_issue_comment`); a follow-up that again leaves none is `retry_exhausted`.
 *
 * Pure: `activities/issueCommentFollowUp.ts` gathers the facts inside finalize's transaction and
 * carries the decision out.
 */
import { MISSING_ISSUE_COMMENT } from './recoveryKinds.ts';

/** `heartbeat_runs.issue_comment_status`, exactly the spec's values. */
export type IssueCommentStatus = 'not_applicable' | 'satisfied' | 'retry_queued' | 'retry_exhausted';

/** R73: the wake reasons whose run owes the issue a comment. */
export const COMMENT_EXPECTED_WAKE_REASONS: readonly string[] = [
  'issue_assigned',
  'execution_review_requested',
  'execution_approval_requested',
  'execution_changes_requested',
];

/**
 * Whether the run owes its issue a comment: `expected` (one of the wake reasons above),
 * `follow_up` (it is R73's own follow-up, which gets no second one), or `none`.
 */
export type CommentExpectation = 'none' | 'expected' | 'follow_up';

/**
 * Only a run that `succeeded` owes a comment: a failed, timed-out or cancelled run already has
 * its follow-up from the recovery rules (R22–R39), and a second one would race it for the
 * issue's execution lock.
 */
export function commentExpectationOf(run: { status: string; issueId: string | null; wakeReason: string | null }): CommentExpectation {
  if (run.status !== 'succeeded' || run.issueId === null || run.wakeReason === null) return 'none';
  if (run.wakeReason === MISSING_ISSUE_COMMENT.wakeReason) return 'follow_up';
  return COMMENT_EXPECTED_WAKE_REASONS.includes(run.wakeReason) ? 'expected' : 'none';
}

/** What the activity looked up for a run that owes a comment. */
export interface IssueCommentFacts {
  expectation: CommentExpectation;
  /** The first comment the run left on its issue, or null. */
  commentId: string | null;
  /** The run's persisted liveness state (R45). */
  livenessState: string | null;
  /** A `deferred_issue_execution` wake of the run's agent for the issue carries a comment (R29 will promote it). */
  deferredCommentWake: boolean;
  /** `issues.executionRunId` is still this run. */
  holdsExecutionLock: boolean;
  agentInvokable: boolean;
  /** An active pause hold covers the issue (R66): no automatic work. */
  pauseHoldActive: boolean;
}

/** Why a run that left no comment gets no follow-up from R73 (its run event says so). */
export type StandAsideReason = 'liveness_continuation' | 'deferred_comment_wake' | 'lock_moved' | 'agent_not_invokable' | 'pause_hold';

export type IssueCommentDecision =
  | { status: 'not_applicable'; standAside: StandAsideReason | null }
  | { status: 'satisfied'; commentId: string }
  | { status: 'retry_queued' }
  | { status: 'retry_exhausted' };

/** R46: these liveness states get a bounded liveness continuation, which R73 leaves alone. */
const LIVENESS_CONTINUED_STATES = ['plan_only', 'empty_response'];

export function decideIssueCommentPolicy(facts: IssueCommentFacts): IssueCommentDecision {
  if (facts.expectation === 'none') return { status: 'not_applicable', standAside: null };
  if (facts.commentId !== null) return { status: 'satisfied', commentId: facts.commentId };
  // One follow-up per lineage: R73's own follow-up never gets another.
  if (facts.expectation === 'follow_up') return { status: 'retry_exhausted' };
  // One run never gets two follow-ups: the liveness continuation (R46, after the commit) owns this one.
  if (facts.livenessState !== null && LIVENESS_CONTINUED_STATES.includes(facts.livenessState)) {
    return { status: 'not_applicable', standAside: 'liveness_continuation' };
  }
  // The comment wake the release promotes (R29) wakes the agent on the issue anyway.
  if (facts.deferredCommentWake) return { status: 'not_applicable', standAside: 'deferred_comment_wake' };
  // Another run, a reassignment or a status change (R75) took the issue from this run.
  if (!facts.holdsExecutionLock) return { status: 'not_applicable', standAside: 'lock_moved' };
  if (!facts.agentInvokable) return { status: 'not_applicable', standAside: 'agent_not_invokable' };
  if (facts.pauseHoldActive) return { status: 'not_applicable', standAside: 'pause_hold' };
  return { status: 'retry_queued' };
}
