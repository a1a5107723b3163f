/**
 * Issue 14 §2 (V8): one recovery decision — what Vigil did after a run ended or during a sweep,
 * the rule that decided it, the counters and evidence it used, and what it created. Every
 * decision is recorded once (`store/recoveryDecisions.ts`); the API lists them, the run
 * workflow's memo shows the one line of `decisionLine`, and each recovery comment names its
 * decision's id (`decisionReference`). Pure (no Node imports), so workflows may import it.
 */
import { LOOP_DETECTED_REASON } from './loopBreaker.ts';

export const RECOVERY_DECISION_KINDS = [
  'retry',
  'scheduled_retry',
  'quota_wait',
  'continuation',
  'comment_follow_up',
  'dispatch',
  'escalation',
  'block_in_place',
  'none',
] as const;
export type RecoveryDecisionKind = (typeof RECOVERY_DECISION_KINDS)[number];

/** Where the decision was taken. */
export const RECOVERY_DECISION_SOURCES = ['run_ending', 'stranded_sweep', 'orphan_reaper', 'loop_breaker'] as const;
export type RecoveryDecisionSource = (typeof RECOVERY_DECISION_SOURCES)[number];

/**
 * Why, as a code with one sentence each. A `none` decision always says why nothing was done.
 */
export const RECOVERY_REASONS = {
  process_lost: 'the agent process was lost',
  process_lost_retry_used: 'the agent process was lost and its lineage already used its one process-loss retry',
  transient_upstream: 'the upstream model was overloaded or unavailable',
  transient_retries_exhausted: 'the upstream model failed again after every bounded retry',
  provider_quota: "the provider's usage limit was reached",
  provider_quota_exhausted: "the provider's usage limit was reached again after the parked retries in a row",
  missing_issue_comment: 'the run owed its issue a comment and left none',
  no_progress: 'the run ended without concrete progress',
  continuations_exhausted: 'the run ended without concrete progress and its continuations are used up',
  run_unsuccessful: 'the run did not succeed and the issue has no other live execution path',
  retry_already_used: "the issue's one automatic retry of this kind was already used",
  agent_not_invokable: 'the assigned agent cannot run',
  recovery_issue_stalled: 'a recovery issue stalled (recovery issues are never recovered by another)',
  never_dispatched: 'the assigned issue never had a run',
  lost_execution: 'the issue lost its wake or run',
  loop_detected: 'the agent kept running on the issue without progress',
  run_succeeded: 'the run succeeded',
  stopped_by_board: 'the run was cancelled by a pause or a budget stop, which never recovers',
  no_issue: 'the run was not bound to an issue',
  lock_moved: "the issue's execution lock had moved to another run",
  deferred_wake_promoted: "a waiting wake for the issue took the issue's execution instead",
  issue_not_open: 'the issue is not todo or in_progress',
  not_assigned_to_agent: "the issue is no longer assigned to the run's agent",
  other_live_run: 'the issue already has another live run',
  pause_hold: 'a pause hold covers the issue',
  issue_moved_on: 'the issue left the status the decision was taken on',
  issue_in_execution_stage: 'the issue is in a review or approval stage',
  budget_blocked: 'a budget stop blocks the agent or the issue',
  wakes_disabled: "the agent's heartbeat policy refuses automatic wakes",
  dependencies_blocked: 'the issue waits on unresolved blockers',
  issue_missing: 'the issue no longer exists',
} as const;
export type RecoveryReason = keyof typeof RECOVERY_REASONS;

/** R71's skip reasons (a `skipped` wake's `reason`) as the rule and reason of the decision that wake carried out. */
const WAKE_SKIPS: Record<string, { rule: string; reason: RecoveryReason }> = {
  [LOOP_DETECTED_REASON]: { rule: 'V1', reason: 'loop_detected' },
  issue_tree_hold_active: { rule: 'R67', reason: 'pause_hold' },
  issue_dependencies_blocked: { rule: 'R71', reason: 'dependencies_blocked' },
  issue_execution_issue_not_found: { rule: 'R71', reason: 'issue_missing' },
  'heartbeat.wakeOnDemand.disabled': { rule: 'R71', reason: 'wakes_disabled' },
  'heartbeat.disabled': { rule: 'R71', reason: 'wakes_disabled' },
};

export function wakeSkipDecision(skipReason: string): { rule: string; reason: RecoveryReason } {
  return WAKE_SKIPS[skipReason] ?? { rule: 'R71', reason: 'issue_moved_on' };
}

/** The counters and facts a decision used; every field optional, none secret (ids, counts, states). */
export interface RecoveryEvidence {
  /** The run's terminal status and error code (never its error text). */
  runStatus?: string;
  errorCode?: string | null;
  /** Attempt n of m of the decision's kind (retry, scheduled retry, continuation, quota wait). */
  attempt?: number;
  maxAttempts?: number;
  livenessState?: string | null;
  /** When the run last did something useful (R43's evidence), or null when it did nothing. */
  lastUsefulActionAt?: string | null;
  /** `contextSnapshot.retryReason` of the run the decision follows. */
  retryReason?: string | null;
  previousStatus?: string;
  /** When a scheduled or parked retry becomes due. */
  dueAt?: string;
  /** The loop breaker's counters (V1). */
  runsWithoutProgress?: number;
  windowSec?: number;
  /** How an escalation found its recovery issue: created, reused (R57.5), none (R61); and which one. */
  recoveryIssue?: 'created' | 'reused' | 'none';
  recoveryIssueId?: string | null;
}

export interface RecoveryDecisionDraft {
  /** Chosen by the writer, so texts written in the same transaction can name it. */
  id: string;
  companyId: string;
  issueId: string | null;
  /** The run the decision follows (the ended run, or the issue's latest run for a sweep). */
  runId: string | null;
  agentId: string | null;
  source: RecoveryDecisionSource;
  decision: RecoveryDecisionKind;
  /** The rule that decided, e.g. `R23`, `R46`, `V2`. */
  rule: string;
  reason: RecoveryReason;
  evidence: RecoveryEvidence;
  createdRunId: string | null;
  createdIssueId: string | null;
}

const KIND_LABELS: Record<RecoveryDecisionKind, string> = {
  retry: 'retry',
  scheduled_retry: 'scheduled retry',
  quota_wait: 'quota wait',
  continuation: 'continuation',
  comment_follow_up: 'comment follow-up',
  dispatch: 'dispatch',
  escalation: 'escalation',
  block_in_place: 'block in place',
  none: 'no recovery',
};

/**
 * The decision in one line, as the run workflow's memo and the API's `summary` show it:
 * `retry (R23): the agent process was lost; attempt 1 of 1 → run <id> [decision <id>]`.
 */
export function decisionLine(d: Pick<RecoveryDecisionDraft, 'id' | 'decision' | 'rule' | 'reason' | 'evidence' | 'createdRunId' | 'createdIssueId'>): string {
  const facts: string[] = [];
  const e = d.evidence;
  if (e.attempt !== undefined && e.maxAttempts !== undefined) facts.push(`attempt ${e.attempt} of ${e.maxAttempts}`);
  if (e.dueAt) facts.push(`due ${e.dueAt}`);
  if (e.runsWithoutProgress !== undefined) facts.push(`${e.runsWithoutProgress} runs without progress`);
  const reused = e.recoveryIssue === 'reused' && e.recoveryIssueId ? `open recovery issue ${e.recoveryIssueId}` : null;
  const created = [d.createdRunId ? `run ${d.createdRunId}` : null, d.createdIssueId ? `issue ${d.createdIssueId}` : reused].filter((x) => x !== null);
  const why = RECOVERY_REASONS[d.reason] ?? d.reason;
  return `${KIND_LABELS[d.decision]} (${d.rule}): ${[why, ...facts].join('; ')}${created.length > 0 ? ` → ${created.join(', ')}` : ''} [decision ${d.id}]`;
}

/** The line a recovery comment or recovery issue ends with, so two notices are never confusable. */
export function decisionReference(decisionId: string): string {
  return `- Recovery decision: \`${decisionId}\``;
}

/** Appends the decision reference as the text's last line (every line before it stays as specified). */
export function withDecisionReference(text: string, decisionId: string): string {
  return `${text}\n${decisionReference(decisionId)}`;
}

/** The run workflow's memo `recoveryDecision`: the decisions after the run in one line. */
export function recoveryDecisionMemo(runStatus: string, decisionLines: readonly string[]): string {
  if (decisionLines.length > 0) return decisionLines.join(' | ');
  return runStatus === 'succeeded' ? 'no recovery needed: the run succeeded' : 'no recovery decision was recorded';
}
