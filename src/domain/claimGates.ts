/**
 * R4 (claim gates, in the rule's order), R69 (a non-invokable agent's run waits) and R9
 * (auto-checkout at start) as pure decisions over the facts the claim reads in one statement
 * (`src/store/claimStatements.ts`). `src/activities/claimRun.ts` carries the decision out.
 */
import { agentNameKey, isCommentInteractionWake } from './heartbeatPolicy.ts';
import { isInvokableAgentStatus, isLiveRunStatus } from './runStatus.ts';
import { activeQuotaWall, type ProviderQuotaWall } from './providerQuota.ts';
import { invocationBlockOf, type InvocationBlockFacts } from './invocationBlock.ts';
import type { StopReason } from './stopMetadata.ts';
import { runTexts } from './texts.ts';

/** The run's context fields the gates look at (parsed from `contextSnapshot` by the caller). */
export interface ClaimContext {
  issueId: string | null;
  wakeReason: string | null;
  treeHoldInteraction: boolean;
  resumeIntent: boolean;
  hasWakeComment: boolean;
}

export interface ClaimFacts {
  run: { id: string; companyId: string; status: string; scheduledRetryAt: Date | null };
  context: ClaimContext;
  agent: { id: string; name: string; status: string; runtimeStateJson: unknown } | null;
  budget: InvocationBlockFacts;
  /** The bound issue (null when the run is not issue-bound or the issue is missing). */
  issue: { id: string; companyId: string; assigneeAgentId: string | null; status: string; checkoutRunId: string | null } | null;
  /** R66: the nearest active pause hold over the issue or an ancestor. */
  pauseHold: { holdId: string; rootIssueId: string } | null;
  /** R75: blockers not `done`. */
  unresolvedBlockerIds: readonly string[];
  /** R9: the status of the run holding the issue's checkout (null: none, or missing). */
  checkoutHolderStatus: string | null;
}

/** R4 step 5 and R9: what the claim writes on the bound issue. */
export interface IssueLockPlan {
  issueId: string;
  executionAgentNameKey: string;
  /** R9: also check out (`in_progress`, `checkoutRunId`, `startedAt`). */
  checkOut: boolean;
}

export type ClaimDecision =
  /** A retried claim (its first answer was lost): only this run's workflow claims it. */
  | { kind: 'already_running' }
  | { kind: 'scheduled'; dueAt: Date }
  | { kind: 'ended'; status: string }
  | { kind: 'wait_for_agent' }
  | { kind: 'park_for_quota'; wall: ProviderQuotaWall }
  /** R4 steps 1–3 and 4a: the generic cancel (R14) with this reason; `holdInterrupted` is logged first. */
  | { kind: 'cancel'; reason: string; holdInterrupted?: { holdId: string; rootIssueId: string; issueId: string } }
  /** R4 4b/4c: the light cancel. */
  | { kind: 'light_cancel'; code: StopReason; timeoutSource: 'dependency_gate' | 'stale_queued_run_gate'; message: string }
  | { kind: 'claim'; issueLock: IssueLockPlan | null };

export function decideClaim(facts: ClaimFacts, now: Date): ClaimDecision {
  const { run, context, agent } = facts;
  if (run.status === 'running') return { kind: 'already_running' };
  if (run.status === 'scheduled_retry') return { kind: 'scheduled', dueAt: run.scheduledRetryAt ?? new Date(0) };
  if (run.status !== 'queued') return { kind: 'ended', status: run.status };
  // R4.1
  if (!agent) return { kind: 'cancel', reason: runTexts.agentGone };
  // R69 (R4.2 in the reference): the starter leaves a non-invokable agent's queued runs alone; they run once it resumes.
  if (!isInvokableAgentStatus(agent.status)) return { kind: 'wait_for_agent' };
  // The agent's provider refuses work until its usage limit resets: wait for it, not into it.
  const wall = activeQuotaWall(agent.runtimeStateJson, now);
  if (wall) return { kind: 'park_for_quota', wall };
  // R4.3 (R74)
  const block = invocationBlockOf(facts.budget);
  if (block) return { kind: 'cancel', reason: block.reason };
  if (!context.issueId) return { kind: 'claim', issueLock: null };

  // R4.4a (R66, R67)
  if (facts.pauseHold && !context.treeHoldInteraction) {
    return { kind: 'cancel', reason: runTexts.pauseHoldActive, holdInterrupted: { ...facts.pauseHold, issueId: context.issueId } };
  }
  // R4.4b (R75)
  const interaction = isCommentInteractionWake(context.wakeReason);
  if (!interaction && facts.unresolvedBlockerIds.length > 0) {
    return { kind: 'light_cancel', code: 'issue_dependencies_blocked', timeoutSource: 'dependency_gate', message: runTexts.dependenciesBlocked };
  }
  // R4.4c
  const issue = facts.issue;
  let stale: StopReason | null = null;
  if (!issue || issue.companyId !== run.companyId) stale = 'issue_not_found';
  else if (issue.assigneeAgentId !== agent.id && !interaction) stale = 'issue_assignee_changed';
  else if ((issue.status === 'done' || issue.status === 'cancelled') && !context.resumeIntent && !context.hasWakeComment) stale = 'issue_terminal_status';
  if (stale || !issue) {
    const code = stale ?? 'issue_not_found';
    return { kind: 'light_cancel', code, timeoutSource: 'stale_queued_run_gate', message: runTexts.staleIssue(code) };
  }
  // R4.5: the lazy lock, only for the assignee (the write also guards on it and on the lock being free or ours).
  if (issue.assigneeAgentId !== agent.id) return { kind: 'claim', issueLock: null };
  return {
    kind: 'claim',
    issueLock: {
      issueId: issue.id,
      executionAgentNameKey: agentNameKey(agent.name),
      checkOut: checksOutAtStart({
        issueStatus: issue.status,
        checkoutRunId: issue.checkoutRunId,
        checkoutHolderStatus: facts.checkoutHolderStatus,
        runId: run.id,
        dependenciesReady: facts.unresolvedBlockerIds.length === 0,
        wakeReason: context.wakeReason,
      }),
    },
  };
}

/**
 * R9: an issue-bound run of the assignee checks the issue out at start when its dependencies are
 * ready, the wake reason is present, not a mention and not an `execution_` wake, and the status is
 * one work starts from. A stale checkout (its run terminal or missing) is adopted; a live one is a
 * tolerated conflict (the lock is still stamped, without the checkout).
 */
export function checksOutAtStart(input: {
  issueStatus: string;
  checkoutRunId: string | null;
  checkoutHolderStatus: string | null;
  runId: string;
  dependenciesReady: boolean;
  wakeReason: string | null;
}): boolean {
  const { wakeReason } = input;
  return (
    input.dependenciesReady &&
    wakeReason !== null &&
    wakeReason !== 'issue_comment_mentioned' &&
    !wakeReason.startsWith('execution_') &&
    ['todo', 'backlog', 'blocked', 'in_progress'].includes(input.issueStatus) &&
    (input.checkoutRunId === null ||
      input.checkoutRunId === input.runId ||
      input.checkoutHolderStatus === null ||
      !isLiveRunStatus(input.checkoutHolderStatus))
  );
}
