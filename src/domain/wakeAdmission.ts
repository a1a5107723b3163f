/**
 * R71: whether a wakeup request becomes a new queued run, merges into a live run, waits behind
 * another agent's run, or is skipped. Pure: `store/wakeups.ts` reads the facts (for an issue-bound
 * wake, under the issue row lock), asks here at each of R71's steps, and writes the answer.
 *
 * The steps are separate functions because their facts are read at different moments: the agent
 * gates before anything else, the pause hold before the issue transaction, the execution-run facts
 * under the issue lock. Each answers only from what has been read by then, so no query is made for
 * a fact a gate before it has already made moot.
 *
 * Issue 14's loop breaker (`domain/loopBreaker.ts`, V1–V5) stands between the issue lock and R71.6:
 * an automatic issue-bound wake of an agent caught in a loop on the issue is skipped as
 * `loop_detected` before the execution-run facts are looked at.
 */
import { agentNameKey, isCommentInteractionWake, type HeartbeatPolicy } from './heartbeatPolicy.ts';
import { isInvokableAgentStatus } from './runStatus.ts';
import { wakeTexts } from './texts.ts';

export type WakeSource = 'timer' | 'assignment' | 'on_demand' | 'automation';

/** A `skipped` wake is written with this reason and message (as its error). */
export interface WakeSkip {
  kind: 'skip';
  reason: string;
  message: string;
}

/** R71 steps 3–5: the agent's own gates, before the wake is looked at as work. */
export interface AgentGateFacts {
  source: WakeSource;
  agentStatus: string;
  policy: Pick<HeartbeatPolicy, 'enabled' | 'wakeOnDemand'>;
  /** The R74 invocation block, or null (also when the caller applied the budget gate itself). */
  budgetBlock: { reason: string; scope: string } | null;
}

export type AgentGatePlan =
  | { kind: 'admit' }
  /** R74: a `skipped` wake with reason `budget.blocked`, then a 409. */
  | { kind: 'refuse_budget_blocked'; reason: 'budget.blocked'; message: string; scope: string }
  /** R71.4: a 409, no wake written. */
  | { kind: 'refuse_not_invokable'; agentStatus: string }
  | WakeSkip;

export function admitByAgentGates(facts: AgentGateFacts): AgentGatePlan {
  // R71.3 (R74): the budget gate comes first, even for an agent that is not invokable.
  if (facts.budgetBlock) return { kind: 'refuse_budget_blocked', reason: 'budget.blocked', message: facts.budgetBlock.reason, scope: facts.budgetBlock.scope };
  // R71.4
  if (!isInvokableAgentStatus(facts.agentStatus)) return { kind: 'refuse_not_invokable', agentStatus: facts.agentStatus };
  // R71.5 (R70): timer wakes follow `enabled`, every other source follows `wakeOnDemand`.
  if (facts.source === 'timer') {
    return facts.policy.enabled ? { kind: 'admit' } : { kind: 'skip', reason: 'heartbeat.disabled', message: wakeTexts.timerDisabled };
  }
  return facts.policy.wakeOnDemand ? { kind: 'admit' } : { kind: 'skip', reason: 'heartbeat.wakeOnDemand.disabled', message: wakeTexts.onDemandDisabled };
}

/**
 * R67: the comment an interaction wake claims to come from, which must exist on the issue for the
 * wake to pass a pause hold; null for any other wake (it cannot pass).
 */
export function interactionCommentId(reason: string | null | undefined, context: { wakeCommentId?: unknown; commentId?: unknown }): string | null {
  if (!isCommentInteractionWake(reason)) return null;
  return nonBlank(context.wakeCommentId) ?? nonBlank(context.commentId);
}

function nonBlank(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

export interface PauseHoldFacts {
  /** R66: an active pause hold covers the issue or an ancestor. */
  heldByPause: boolean;
  /** The wake's `interactionCommentId` exists on the issue. */
  interactionCommentVerified: boolean;
}

export type PauseHoldPlan =
  | { kind: 'admit' }
  /** Held, but a verified interaction: the run's context is marked `treeHoldInteraction` with the hold. */
  | { kind: 'admit_interaction' }
  /** Also logs `issue.tree_hold_wakeup_deferred`. */
  | (WakeSkip & { reason: 'issue_tree_hold_active' });

export function admitUnderPauseHold(facts: PauseHoldFacts): PauseHoldPlan {
  if (!facts.heldByPause) return { kind: 'admit' };
  // R67: only verified comment interactions pass a pause hold.
  if (facts.interactionCommentVerified) return { kind: 'admit_interaction' };
  return { kind: 'skip', reason: 'issue_tree_hold_active', message: wakeTexts.pauseHoldActive };
}

/** The run that currently executes the issue (R71.6), as the admission sees it. */
export interface ActiveExecutionRunFacts {
  id: string;
  status: string;
  /** Null when the run's agent no longer exists. */
  agentName: string | null;
}

export interface IssueWakeFacts {
  /** False when the issue is missing or in another company. */
  issueFound: boolean;
  /** The issue's `executionRunId` (the execution lock) as read under the row lock. */
  executionRunId: string | null;
  activeRun: ActiveExecutionRunFacts | null;
  requestingAgentName: string;
  wakeReason: string | null | undefined;
  /** R75 readiness; read only when `blockerGateApplies` says the gate looks at it, else empty. */
  unresolvedBlockerIds: readonly string[];
}

export type IssueWakePlan =
  | (WakeSkip & { reason: 'issue_execution_issue_not_found' })
  /** The skipped wake's payload adds `unresolvedBlockerIssueIds`. */
  | (WakeSkip & { reason: 'issue_dependencies_blocked'; unresolvedBlockerIds: readonly string[] })
  /** A `queued` wake and run; the issue lock is not stamped here (lazy locking, R4). */
  | { kind: 'create_run' }
  /** Merge into the live run, with a `coalesced` wake of this reason. */
  | { kind: 'coalesce'; into: string; reason: 'issue_execution_same_name'; stampLock: boolean }
  /** Park as a `deferred_issue_execution` wake until the run finishes (promotion, R29). */
  | { kind: 'defer'; behind: string; stampLock: boolean };

/**
 * R75 via R71.6: the dependency gate only stands in front of a new run (no live run holds the
 * issue), and a comment interaction passes it.
 */
export function blockerGateApplies(facts: { hasActiveRun: boolean; wakeReason: string | null | undefined }): boolean {
  return !facts.hasActiveRun && !isCommentInteractionWake(facts.wakeReason);
}

export function admitIssueWake(facts: IssueWakeFacts): IssueWakePlan {
  // R71.6
  if (!facts.issueFound) return { kind: 'skip', reason: 'issue_execution_issue_not_found', message: wakeTexts.issueNotFound };
  const active = facts.activeRun;
  if (!active) {
    // R75: unresolved blockers keep new work off the issue.
    if (blockerGateApplies({ hasActiveRun: false, wakeReason: facts.wakeReason }) && facts.unresolvedBlockerIds.length > 0) {
      return { kind: 'skip', reason: 'issue_dependencies_blocked', message: wakeTexts.dependenciesBlocked, unresolvedBlockerIds: facts.unresolvedBlockerIds };
    }
    return { kind: 'create_run' };
  }
  // R71: the live run found without the lock becomes the lock holder.
  const stampLock = facts.executionRunId !== active.id;
  const sameName = active.agentName !== null && agentNameKey(active.agentName) === agentNameKey(facts.requestingAgentName);
  // R71: a comment against a running same-name run needs a run after it, not a merge into it.
  const followUpNeeded = isCommentInteractionWake(facts.wakeReason) && active.status === 'running';
  if (sameName && !followUpNeeded) return { kind: 'coalesce', into: active.id, reason: 'issue_execution_same_name', stampLock };
  // R71: another agent's run, or a follow-up: wait for it.
  return { kind: 'defer', behind: active.id, stampLock };
}

/** A live run of the agent, as the unbound admission sees it. */
export interface AgentLiveRunFacts {
  id: string;
  status: string;
  taskKey: string | null;
}

export type UnboundWakePlan = { kind: 'create_run' } | { kind: 'coalesce'; into: string };

/**
 * R71.7: a wake with no issue merges into the agent's live run of the same task scope — queued,
 * else scheduled retry, else running unless a follow-up is needed — or becomes a new run.
 * `liveRuns` oldest first.
 */
export function admitUnboundWake(facts: { taskKey: string | null; liveRuns: readonly AgentLiveRunFacts[]; followUpNeeded: boolean }): UnboundWakePlan {
  const sameScope = facts.liveRuns.filter((run) => run.taskKey === facts.taskKey);
  const target =
    sameScope.find((run) => run.status === 'queued') ??
    sameScope.find((run) => run.status === 'scheduled_retry') ??
    (facts.followUpNeeded ? undefined : sameScope.find((run) => run.status === 'running'));
  return target ? { kind: 'coalesce', into: target.id } : { kind: 'create_run' };
}
