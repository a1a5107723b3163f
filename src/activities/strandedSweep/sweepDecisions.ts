/**
 * V8 for the stranded sweep (R53/R54): the recovery decision each re-dispatch candidate gets. A
 * candidate that got a new run records what it got (a dispatch or continuation, naming the run); a
 * candidate that got nothing records `none` and why — a budget block (R74's pre-check), a wake the
 * admission skipped (R71), another run that took the issue — under a dedupe key of the issue, its
 * latest run and the reason, so a sweep that keeps finding the same stranded issue in the same
 * state records it once, not once per sweep. Pure: the sweep and `redispatch.ts` write them.
 */
import { newDecisionId } from '../../store/recoveryDecisions.ts';
import { wakeSkipDecision, type RecoveryDecisionDraft, type RecoveryEvidence, type RecoveryReason } from '../../domain/recoveryDecision.ts';
import type { EnqueueResult } from '../../store/wakeups.ts';

export type SweepDecisionDraft = RecoveryDecisionDraft & { dedupeKey?: string | null };

/** What a candidate's decision needs to know about it (a `RedispatchItem` or a budget-blocked row). */
export interface SweepCandidate {
  /** The decision is the assignee's: the sweep wakes the issue's assigned agent. */
  issue: { id: string; companyId: string; status: 'todo' | 'in_progress'; assigneeAgentId: string };
  decision: { kind: 'dispatch' } | { kind: 'requeue'; retryOfRunId: string | null };
  /** `contextSnapshot.retryReason` of the issue's latest run (null without one). */
  latestRetryReason: string | null;
}

/** The run the decision follows: the issue's latest run (R53's `retryOfRunId`); a first dispatch (R54) follows none. */
function followedRunId(candidate: SweepCandidate): string | null {
  return candidate.decision.kind === 'requeue' ? candidate.decision.retryOfRunId : null;
}

function evidenceOf(candidate: SweepCandidate): RecoveryEvidence {
  return { previousStatus: candidate.issue.status, retryReason: candidate.latestRetryReason };
}

/** R54 (first dispatch, `never_dispatched`) or R53 (the one re-dispatch of a todo issue, the one continuation of an in_progress one). */
export function redispatchDecision(candidate: SweepCandidate, createdRunId: string): SweepDecisionDraft {
  const requeue = candidate.decision.kind === 'requeue';
  return {
    id: newDecisionId(),
    companyId: candidate.issue.companyId,
    issueId: candidate.issue.id,
    runId: followedRunId(candidate),
    agentId: candidate.issue.assigneeAgentId,
    source: 'stranded_sweep',
    decision: requeue && candidate.issue.status === 'in_progress' ? 'continuation' : 'dispatch',
    rule: requeue ? 'R53' : 'R54',
    reason: requeue ? 'lost_execution' : 'never_dispatched',
    evidence: requeue ? { ...evidenceOf(candidate), attempt: 1, maxAttempts: 1 } : evidenceOf(candidate),
    createdRunId,
    createdIssueId: null,
  };
}

/**
 * `none` for a stranded candidate that got no new run, once per (issue, latest run, reason): the
 * rule that stopped it (R74's budget pre-check, R71's admission, V1's loop breaker).
 */
export function noRedispatchDecision(candidate: SweepCandidate, rule: string, reason: RecoveryReason): SweepDecisionDraft {
  const runId = followedRunId(candidate);
  return {
    id: newDecisionId(),
    companyId: candidate.issue.companyId,
    issueId: candidate.issue.id,
    runId,
    agentId: candidate.issue.assigneeAgentId,
    source: 'stranded_sweep',
    decision: 'none',
    rule,
    reason,
    evidence: evidenceOf(candidate),
    createdRunId: null,
    createdIssueId: null,
    dedupeKey: `sweep-none:${candidate.issue.id}:${runId ?? 'none'}:${reason}`,
  };
}

/** R50a/R50d/R51d: the R74 pre-check found a budget block. */
export function budgetBlockedDecision(candidate: SweepCandidate): SweepDecisionDraft {
  return noRedispatchDecision(candidate, 'R74', 'budget_blocked');
}

/** A candidate whose wake R71 skipped (the `skipped` wake row says the same reason). */
export function skippedWakeDecision(candidate: SweepCandidate, skipReason: string): SweepDecisionDraft {
  const { rule, reason } = wakeSkipDecision(skipReason);
  return noRedispatchDecision(candidate, rule, reason);
}

/** R71.4: the agent is no longer invokable (no wake is written). */
export function notInvokableDecision(candidate: SweepCandidate): SweepDecisionDraft {
  return noRedispatchDecision(candidate, 'R71', 'agent_not_invokable');
}

/**
 * A candidate that went through `enqueueWakeup` (after the batch): its new run, its skip, or —
 * coalesced into or parked behind a run that took the issue meanwhile (R71.6) — nothing new.
 */
export function enqueuedDecision(candidate: SweepCandidate, result: EnqueueResult): SweepDecisionDraft {
  switch (result.kind) {
    case 'queued':
      return redispatchDecision(candidate, result.run.id);
    case 'skipped':
      return skippedWakeDecision(candidate, result.reason);
    case 'coalesced':
    case 'deferred':
      return noRedispatchDecision(candidate, 'R71', 'other_live_run');
  }
}
