/**
 * The automatic retry kinds (glossary, R33, R53) and the other tags recovery writes into wakes
 * and run contexts (§18). Each kind is tried at most once in a row: a terminal run whose
 * `contextSnapshot.retryReason` already names the kind means the retry was used (R32, R50c, R51c).
 */
export const STRANDED_ISSUE_RECOVERY = 'stranded_issue_recovery';

export interface RecoveryKind {
  retryReason: 'assignment_recovery' | 'issue_continuation_needed';
  wakeReason: 'issue_assignment_recovery' | 'issue_continuation_needed';
  source: 'issue.assignment_recovery' | 'issue.continuation_recovery';
}

const DISPATCH: RecoveryKind = { retryReason: 'assignment_recovery', wakeReason: 'issue_assignment_recovery', source: 'issue.assignment_recovery' };
const CONTINUATION: RecoveryKind = { retryReason: 'issue_continuation_needed', wakeReason: 'issue_continuation_needed', source: 'issue.continuation_recovery' };

/** `todo` issues are re-dispatched; `in_progress` issues get a continuation. */
export function recoveryKindFor(status: 'todo' | 'in_progress'): RecoveryKind {
  return status === 'todo' ? DISPATCH : CONTINUATION;
}

export const PROCESS_LOST_RETRY = { wakeReason: 'process_lost_retry', retryReason: 'process_lost' } as const;
export const TRANSIENT_RETRY = { wakeReason: 'transient_failure_retry', retryReason: 'transient_failure' } as const;
/** The one retry of a usage-limit failure, parked until the provider's reset (domain/providerQuota.ts). */
export const PROVIDER_QUOTA_RETRY = { wakeReason: 'provider_quota_retry', retryReason: 'provider_quota' } as const;
export const LIVENESS_CONTINUATION_REASON = 'run_liveness_continuation';
/** R73: the one follow-up of a succeeded run that owed its issue a comment and left none. */
export const MISSING_ISSUE_COMMENT = { wakeReason: 'missing_issue_comment', retryReason: 'missing_issue_comment' } as const;

/**
 * Every `contextSnapshot.retryReason` recovery writes, which Temporal shows as the run workflow's
 * `VigilRetryKind` (temporal/runWorkflows.ts). temporal-dev.yml, searchAttributeKeys.ts and the
 * README name these values; test/domain/retryKinds.test.ts keeps them in agreement.
 */
export const RETRY_KINDS = [
  PROCESS_LOST_RETRY.retryReason,
  TRANSIENT_RETRY.retryReason,
  PROVIDER_QUOTA_RETRY.retryReason,
  DISPATCH.retryReason,
  CONTINUATION.retryReason,
  MISSING_ISSUE_COMMENT.retryReason,
] as const;
/** R46: default maximum of liveness continuations per lineage. */
export const MAX_LIVENESS_CONTINUATIONS = 2;
