/**
 * R49–R51: what the stranded-work sweep does with one candidate issue (an agent-assigned `todo` or
 * `in_progress` issue), decided from facts the sweep reads for all candidates in one query.
 * Pure: the sweep (`activities/strandedSweep.ts`) gathers the facts and carries out the decision.
 */
import { isInvokableAgentStatus, UNSUCCESSFUL_TERMINAL_RUN_STATUSES } from './runStatus.ts';
import { recoveryKindFor, type RecoveryKind } from './recoveryKinds.ts';

export interface StrandedCandidateFacts {
  status: 'todo' | 'in_progress';
  /** The assignee agent's status, or null when it is missing or in another company. */
  agentStatus: string | null;
  /** R49.2: a queued/running/scheduled_retry run or a deferred wake for the issue. */
  hasLiveExecutionPath: boolean;
  /** R49.3: an active pause hold on the issue or an ancestor. */
  heldByPause: boolean;
  isRecoveryIssue: boolean;
  /** R49.4: the newest run bound to the issue, of any agent and status. */
  latestRun: { id: string; status: string; retryReason: string | null; livenessState: string | null } | null;
  /** R50a: a `queued` wake for the issue exists. */
  hasQueuedWake: boolean;
  /** R51a: `checkoutRunId` or `executionRunId` is set. */
  hasRunLinkage: boolean;
  checkoutRunId: string | null;
}

export type StrandedDecision =
  | { kind: 'skip' }
  /** R51b: the latest run succeeded; `productive` picks the counter. Counted as skipped too. */
  | { kind: 'observe'; productive: boolean }
  /** R50a/R54: first dispatch of a todo issue that never ran (after a budget pre-check). */
  | { kind: 'dispatch' }
  /** R50e/R51e/R53: one automatic retry of the kind (after a budget check). */
  | { kind: 'requeue'; recovery: RecoveryKind; retryOfRunId: string | null }
  /** R50c/R51c/R56: the retry was used; block with a recovery issue. */
  | { kind: 'escalate'; latestRunId: string }
  /** R49.5/R62: a recovery issue whose latest run failed is blocked in place. */
  | { kind: 'escalate_in_place'; latestRunId: string };

const PRODUCTIVE_LIVENESS = ['advanced', 'completed', 'blocked', 'needs_followup'];

function isUnsuccessfulTerminal(status: string): boolean {
  return (UNSUCCESSFUL_TERMINAL_RUN_STATUSES as readonly string[]).includes(status);
}

export function decideStrandedAction(facts: StrandedCandidateFacts): StrandedDecision {
  // R49.1–R49.3, in order; the hold is checked before any look at run history.
  if (facts.agentStatus === null || !isInvokableAgentStatus(facts.agentStatus)) return { kind: 'skip' };
  if (facts.hasLiveExecutionPath) return { kind: 'skip' };
  if (facts.heldByPause) return { kind: 'skip' };
  const latest = facts.latestRun;
  // R49.5: nested recovery is forbidden.
  if (facts.isRecoveryIssue && latest && isUnsuccessfulTerminal(latest.status)) return { kind: 'escalate_in_place', latestRunId: latest.id };
  const recovery = recoveryKindFor(facts.status);
  const retryUsed = latest !== null && latest.retryReason === recovery.retryReason && isUnsuccessfulTerminal(latest.status);
  if (facts.status === 'todo') {
    // R50.
    if (!latest) return facts.hasQueuedWake ? { kind: 'skip' } : { kind: 'dispatch' };
    if (latest.status === 'succeeded') return { kind: 'skip' };
    if (retryUsed) return { kind: 'escalate', latestRunId: latest.id };
    return { kind: 'requeue', recovery, retryOfRunId: latest.id };
  }
  // R51.
  if (!latest && !facts.hasRunLinkage) return { kind: 'skip' };
  if (latest?.status === 'succeeded') return { kind: 'observe', productive: PRODUCTIVE_LIVENESS.includes(latest.livenessState ?? '') };
  if (retryUsed && latest) return { kind: 'escalate', latestRunId: latest.id };
  return { kind: 'requeue', recovery, retryOfRunId: latest?.id ?? facts.checkoutRunId };
}
