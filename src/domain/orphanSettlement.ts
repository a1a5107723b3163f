/**
 * R21–R25 for the orphan reaper's batches: which orphans a batch settles with set-based
 * statements, and which go through the per-run ending (`endRun`, R8's stages one run at a time).
 * Pure; src/activities/reaper/settleOrphanBatch.ts gathers the facts under the batch's locks.
 *
 * The batch takes the common shapes: the one process-loss retry (R22/R23), and a lost run without
 * a retry that has no execution lock to give up (R28.2: no target issue; R28.3: another run holds
 * it). Everything else — a run no longer `running`, an agent row gone, a usage-limit or
 * transient-upstream family in its result (R35–R39), a comment owed (R73), or an execution lock
 * this run holds or nobody holds (R28.4 release, R29 promotion, R30–R34 immediate recovery) —
 * takes the per-run path, which owns those rules.
 */
import { isProviderQuotaFailure } from './providerQuota.ts';
import { transientErrorFamily } from './transientRetry.ts';
import { commentExpectationOf } from './issueCommentPolicy.ts';

export type OrphanSettlement =
  /** R22/R23: the terminal write and the one retry, which takes over the execution lock (if still this run's). */
  | { kind: 'retry' }
  /** R24 with R28.2/R28.3: the terminal write only; no lock to release, no immediate recovery. */
  | { kind: 'no_recovery' }
  /** Anything else: the per-run ending. */
  | { kind: 'per_run'; why: 'not_running' | 'no_agent' | 'retry_family' | 'comment_policy' | 'execution_lock' };

export interface OrphanFacts {
  runId: string;
  /** The run's status as locked by the batch. */
  runStatus: string;
  agentFound: boolean;
  /** R22, decided as the terminal write decides it (`processLossRetryAllowed`). */
  retryOnce: boolean;
  /** The terminal write's resultJson (prior resultJson plus stop metadata) and error code. */
  resultJson: Record<string, unknown>;
  errorCode: string;
  issueId: string | null;
  wakeReason: string | null;
  /** R28.1: the bound issue, else the issue whose execution lock is this run; null when none. */
  targetIssue: { executionRunId: string | null } | null;
}

export function orphanSettlementOf(facts: OrphanFacts): OrphanSettlement {
  // Finished meanwhile (its workflow, a direct cancel): the per-run path reports it already terminal (R5).
  if (facts.runStatus !== 'running') return { kind: 'per_run', why: 'not_running' };
  if (!facts.agentFound) return { kind: 'per_run', why: 'no_agent' };
  // R8 step 6 (R35–R39): a usage-limit or transient-upstream family schedules its own retry.
  if (isProviderQuotaFailure(facts.resultJson) || transientErrorFamily(facts.resultJson, facts.errorCode) !== null) {
    return { kind: 'per_run', why: 'retry_family' };
  }
  // R8 step 7 (R73): only a succeeded run owes a comment; kept here so the batch never skips the step.
  if (commentExpectationOf({ status: 'failed', issueId: facts.issueId, wakeReason: facts.wakeReason }) !== 'none') {
    return { kind: 'per_run', why: 'comment_policy' };
  }
  // R22/R23: the retry returns before the release (R8 step 8 does not run).
  if (facts.retryOnce) return { kind: 'retry' };
  // R28.2 / R28.3: nothing to release, so no promotion (R29) and no immediate recovery (R30–R34).
  if (facts.targetIssue === null) return { kind: 'no_recovery' };
  if (facts.targetIssue.executionRunId !== null && facts.targetIssue.executionRunId !== facts.runId) return { kind: 'no_recovery' };
  return { kind: 'per_run', why: 'execution_lock' };
}
