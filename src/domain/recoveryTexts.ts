/**
 * Every sentence the recovery path writes: run events and errors (§6, §8, §9, §10) and issue-thread
 * copy (recovery issues, escalation and orphan-blocker comments, §11–§12). Strings quoted by
 * RECOVERY.md are reproduced byte for byte, backticks included; tests elsewhere match substrings.
 *
 * Redaction (R64): functions that describe a run take its `error`/`errorCode` only to decide whether
 * it "has failure details". No raw error text or error code ever reaches an issue thread; the
 * withheld sentence stands in for it. Pure (no Node imports), so workflows may import it.
 */

export const WITHHELD_FAILURE = 'Latest retry failure details were withheld from the issue thread; inspect the linked run for evidence.';

export const LIVENESS_EXHAUSTED_PREFIX = 'Bounded liveness continuation exhausted';

// R46: the continuation instruction when the source run recorded no `nextAction`.
export const DEFAULT_CONTINUATION_INSTRUCTION =
  'The previous run ended without concrete progress. Take the first concrete action now or mark the issue blocked with a specific unblock request.';

/** The run fields recovery copy may use: ids and status for links, the rest only as "has details". */
export interface RecoveryRunFacts {
  id: string;
  agentId: string;
  status: string;
  /** `contextSnapshot.retryReason` of the run. */
  retryReason: string | null;
  error: string | null;
  errorCode: string | null;
}

type PreviousStatus = 'todo' | 'in_progress';

function nonEmpty(value: string | null | undefined): string | null {
  return value !== null && value !== undefined && value.trim() !== '' ? value : null;
}

/** The part of an identifier before the first `-` (`PAP` if there is none, as the reference does). */
function prefixOf(identifier: string): string {
  return identifier.split('-')[0] || 'PAP';
}

function issueLinkWithPrefix(label: string, prefix: string): string {
  return `[${label}](/${prefix}/issues/${label})`;
}

/** R55: `[PFX-2](/PFX/issues/PFX-2)`, PFX being the identifier's own prefix. */
export function issueLink(identifier: string): string {
  return issueLinkWithPrefix(identifier, prefixOf(identifier));
}

/** R64: a run "has failure details" when its `error` or its `errorCode` is non-empty. */
export function hasFailureDetails(run: { error: string | null; errorCode: string | null } | null): boolean {
  return run !== null && (nonEmpty(run.error) !== null || nonEmpty(run.errorCode) !== null);
}

/** R58 item 11 and R62: the one failure line an issue thread may carry. */
function failureLine(run: { error: string | null; errorCode: string | null } | null): string {
  return hasFailureDetails(run) ? `- Failure: ${WITHHELD_FAILURE}` : '- Failure: none recorded';
}

/** R60 {W} / R32 {F}: the withheld sentence with a leading space, or nothing. */
function withheldSuffix(run: { error: string | null; errorCode: string | null } | null): string {
  return hasFailureDetails(run) ? ` ${WITHHELD_FAILURE}` : '';
}

// R57 step 4.
export function recoveryIssueTitle(source: { identifier: string | null; title: string }): string {
  return `Recover stalled issue ${source.identifier ?? source.title}`;
}

// R58: one item per line; PFX is the company's issue prefix.
export function recoveryIssueDescription(input: {
  issuePrefix: string;
  source: { id: string; identifier: string | null };
  previousStatus: PreviousStatus;
  latestRun: RecoveryRunFacts | null;
}): string {
  const { issuePrefix: prefix, latestRun } = input;
  const runLink = latestRun
    ? `[\`${latestRun.id}\`](/${prefix}/agents/${latestRun.agentId}/runs/${latestRun.id})`
    : 'none';
  return [
    'Paperclip exhausted automatic recovery for an assigned issue and created this explicit recovery task.',
    '',
    '## Source',
    '',
    `- Source issue: ${issueLinkWithPrefix(input.source.identifier ?? input.source.id, prefix)}`,
    `- Previous source status: \`${input.previousStatus}\``,
    `- Latest retry run: ${runLink}`,
    `- Latest retry status: \`${latestRun?.status ?? 'unknown'}\``,
    '- Detected invariant: `stranded_assigned_issue`',
    `- Retry reason: \`${nonEmpty(latestRun?.retryReason) ?? 'unknown'}\``,
    failureLine(latestRun),
    '',
    '## Ownership',
    '',
    '- Selected owner: the first invokable manager/creator/executive candidate with budget available.',
    '',
    '## Required Action',
    '',
    '- Inspect the latest run and source issue state.',
    '- Fix the runtime/adapter problem, reassign the source issue, or convert the source issue into a clear manual-review state.',
    '- When the source issue has a live execution path or has been intentionally resolved, mark this recovery issue done.',
  ].join('\n');
}

// R60: the stranded sweep's lead sentence for an escalation.
export function sweepEscalationLead(
  previousStatus: PreviousStatus,
  latestRun: { error: string | null; errorCode: string | null } | null,
): string {
  const w = withheldSuffix(latestRun);
  return previousStatus === 'todo'
    ? `Paperclip automatically retried dispatch for this assigned \`todo\` issue after a lost wake/run, but it still has no live execution path.${w} Moving it to \`blocked\` so it is visible for intervention.`
    : `Paperclip automatically retried continuation for this assigned \`in_progress\` issue after its live execution disappeared, but it still has no live execution path.${w} Moving it to \`blocked\` so it is visible for intervention.`;
}

// R32: terminal-run recovery's lead sentence. {F} is the withheld sentence (R64 SHOULD), never a summary.
export function immediateEscalationLead(
  previousStatus: PreviousStatus,
  latestRun: { error: string | null; errorCode: string | null } | null,
): string {
  const f = withheldSuffix(latestRun);
  return previousStatus === 'todo'
    ? `Paperclip automatically retried dispatch for this assigned \`todo\` issue during terminal run recovery, but it still has no live execution path.${f} Moving it to \`blocked\` so it is visible for intervention.`
    : `Paperclip automatically retried continuation for this assigned \`in_progress\` issue during terminal run recovery, but it still has no live execution path.${f} Moving it to \`blocked\` so it is visible for intervention.`;
}

/** R60/R61: appended to the lead (`lead + recoveryLines(...)`); starts with a newline. */
export function recoveryLines(recovery: { identifier: string } | null): string {
  if (recovery === null) {
    return [
      '',
      '- Recovery issue: none created because Paperclip could not find an invokable manager, creator, or executive owner with budget available.',
      '- Next action: a board operator should assign an invokable recovery owner, fix the agent/runtime state, or record an intentional manual resolution.',
    ].join('\n');
  }
  return [
    '',
    `- Recovery issue: ${issueLink(recovery.identifier)}`,
    '- Next action: the recovery owner should either restore a live execution path or record the manual resolution, then mark the recovery issue done.',
  ].join('\n');
}

// R62 step 3: nested recovery is forbidden, so a failed recovery issue is blocked in place.
export function inPlaceRecoveryComment(input: {
  recoveryIssue: { identifier: string };
  previousStatus: string;
  latestRun: RecoveryRunFacts | null;
}): string {
  const prefix = prefixOf(input.recoveryIssue.identifier);
  const { latestRun } = input;
  const runLink = latestRun ? `[${latestRun.id}](/${prefix}/agents/${latestRun.agentId}/runs/${latestRun.id})` : 'none';
  return [
    'Paperclip stopped automatic stranded-work recovery for this recovery issue.',
    '',
    `- Recovery issue: ${issueLink(input.recoveryIssue.identifier)}`,
    `- Previous status: \`${input.previousStatus}\``,
    `- Latest run: ${runLink}`,
    `- Latest run status: \`${latestRun?.status ?? 'unknown'}\``,
    `- Retry reason: \`${nonEmpty(latestRun?.retryReason) ?? 'none'}\``,
    failureLine(latestRun),
    '- Guard: recovery issues do not create nested `stranded_issue_recovery` issues.',
    '',
    'Next action: the current recovery owner should inspect the failed run evidence, restore a live execution path or record the manual resolution, then move this recovery issue out of `blocked`.',
  ].join('\n');
}

const MAX_ORPHAN_BLOCKER_LINKS = 5;

/**
 * R55 step 4 / R60: links up to 5 distinct blocked identifiers, in the order given, joined with
 * ", " (as the reference does); "another open issue" when there are none.
 */
export function orphanBlockerComment(blockedIdentifiers: string[]): string {
  const distinct = [...new Set(blockedIdentifiers.filter((identifier) => identifier !== ''))];
  const links = distinct.length === 0
    ? 'another open issue'
    : distinct.slice(0, MAX_ORPHAN_BLOCKER_LINKS).map(issueLink).join(', ');
  return [
    '## Assigned Orphan Blocker',
    '',
    `Paperclip found this issue is blocking ${links} but had no assignee, so no heartbeat could pick it up.`,
    '',
    '- Assigned it back to the agent that created the blocker.',
    '- Next action: resolve this blocker or reassign it to the right owner.',
  ].join('\n');
}

// R46 step 4: posted once per source run; its first line is LIVENESS_EXHAUSTED_PREFIX (the dedupe key).
export function livenessExhaustedComment(input: {
  livenessState: string;
  attemptsUsed: number;
  maxAttempts: number;
  livenessReason: string | null;
}): string {
  return [
    LIVENESS_EXHAUSTED_PREFIX,
    '',
    `- Last liveness state: \`${input.livenessState}\``,
    `- Attempts used: ${input.attemptsUsed}/${input.maxAttempts}`,
    `- Reason: ${nonEmpty(input.livenessReason) ?? 'Run ended without concrete progress'}`,
    '- Next action: a human or manager should inspect the run and either clarify the task, mark it blocked, or assign a concrete follow-up.',
  ].join('\n');
}

/** Issue 14 V2: the first line of the loop breaker's one comment per trip. */
export const LOOP_BREAKER_PREFIX = 'Loop breaker tripped';

// Issue 14 V2: posted once per trip (however many wakes it skips), without an author.
export function loopBreakerComment(input: { agentName: string; runsWithoutProgress: number; windowSec: number; issueId: string }): string {
  return [
    LOOP_BREAKER_PREFIX,
    '',
    `- Agent: ${input.agentName}`,
    `- Runs on this issue without progress: ${input.runsWithoutProgress} within ${windowText(input.windowSec)} (progress = a comment, a document revision or a status change by the run; a reassignment is not progress)`,
    '- Automatic wakes of this agent for this issue (timer, comment, continuation, retry, recovery dispatch, handoffs by agents) are skipped with reason `loop_detected`.',
    `- Next action: a board user can still wake the agent, clarify the task, reassign it, or reset the breaker with \`POST /api/issues/${input.issueId}/loop-breaker/reset\`; the agent's next progress resets it too.`,
  ].join('\n');
}

function windowText(windowSec: number): string {
  if (windowSec % 3600 === 0) return windowSec === 3600 ? '1 hour' : `${windowSec / 3600} hours`;
  if (windowSec % 60 === 0) return windowSec === 60 ? '1 minute' : `${windowSec / 60} minutes`;
  return `${windowSec} seconds`;
}

/** Run events, run errors and wake errors written by the recovery path. */
export const recoveryEventTexts = {
  // R18
  detached: (pid: number) => `Lost in-memory process handle, but child pid ${pid} is still alive`,
  // R20: appended to the base "Process lost" message when a retry will be queued.
  retryingOnce: '; retrying once',
  // R25
  queuedRetry: (retryRunId: string) => `; queued retry ${retryRunId}`,
  // R23
  processLossRetryQueued: 'Queued automatic retry after orphaned child process was confirmed dead',
  // R38
  scheduledRetry: (attempt: number, max: number, dueAtIso: string) => `Scheduled bounded retry ${attempt}/${max} for ${dueAtIso}`,
  quotaRetryParked: (dueAtIso: string) => `Provider usage limit reached; one retry parked until ${dueAtIso}`,
  quotaRetriesExhausted: (count: number) => `Provider usage limit reached again after ${count} parked retries in a row; no further automatic retry will be queued`,
  queuedRunParkedForQuota: (untilIso: string) => `The agent's provider usage limit resets at ${untilIso}; this run waits for it`,
  // R39
  retryExhausted: (attempts: number) =>
    `Bounded retry exhausted after ${attempts} scheduled attempts; no further automatic retry will be queued`,
  // R40
  scheduledRetryPromoted: 'Scheduled retry became due and was promoted to the queued run pool',
  scheduledRetryReassigned: 'Cancelled because the issue was reassigned before the scheduled retry became due',
  scheduledRetryIssueCancelled: 'Cancelled because the issue was cancelled before the scheduled retry became due',
  // R29
  deferredNotInvokable: 'Deferred wake could not be promoted: agent is not invokable',
  deferredSuppressedByHold: 'Deferred wake suppressed by active subtree pause hold',
  // R46: appended to the run's livenessReason.
  continuationExhaustedSuffix: '; continuation attempts exhausted',
  // R73: on the run that left no issue comment.
  missingCommentFollowUpQueued: (followUpRunId: string) =>
    `Run ended without an issue comment; queued one follow-up run ${followUpRunId} to require a comment`,
  missingCommentRetryExhausted: 'Run ended without an issue comment after one follow-up; no further comment wake will be queued',
  missingCommentStandAside: {
    liveness_continuation: 'Run ended without an issue comment; its liveness continuation follows up instead',
    deferred_comment_wake: 'Run ended without an issue comment; a deferred comment wake already exists for this issue',
    lock_moved: "Run ended without an issue comment; no follow-up queued because the issue's execution lock is no longer this run's",
    agent_not_invokable: 'Run ended without an issue comment; no follow-up queued because the agent is not invokable',
    pause_hold: 'Run ended without an issue comment; no follow-up queued because an active subtree pause hold covers the issue',
  },
} as const;
