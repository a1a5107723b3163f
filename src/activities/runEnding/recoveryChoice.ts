/**
 * R8 steps 6–8, the second stage of a run's ending (finalizeRun.ts owns the order): which
 * recovery, if any, the ended run gets — a usage-limit retry parked until the reset, a bounded
 * transient retry (R35–R39), the missing-comment follow-up (R73), the one process-loss retry
 * (R23, R25), or the release of the issue's execution lock with immediate recovery (R28–R34; R24
 * for a lost process without retry). Inside finalize's transaction, which also records what was
 * decided (V8, `runEnding/decisions.ts`).
 */
import type { Prisma } from '../../store/db.ts';
import { stopReasonFor } from '../../domain/stopMetadata.ts';
import { processLostEvent } from '../../domain/runEndingFields.ts';
import { MAX_CONSECUTIVE_QUOTA_RETRIES } from '../../domain/providerQuota.ts';
import { MAX_TRANSIENT_RETRY_ATTEMPTS } from '../../domain/transientRetry.ts';
import { appendRunEvent } from '../../store/runEvents.ts';
import type { RecoveryActionKind } from '../../metrics/vigilMetrics.ts';
import { releaseAndPromote, type EscalationRequest } from '../releaseAndPromote.ts';
import { queueProcessLossRetry } from '../processLossRetry.ts';
import { scheduleTransientRetry } from '../scheduleTransientRetry.ts';
import { scheduleQuotaRetry } from '../scheduleQuotaRetry.ts';
import { applyIssueCommentPolicy } from '../issueCommentFollowUp.ts';
import { RunEndingDecisions } from './decisions.ts';
import type { AgentRow, EndedRun } from './terminalWrite.ts';

type Tx = Prisma.TransactionClient;

export interface RecoveryChoice {
  /** Runs created here; their workflows are started after the commit. */
  followUpRunIds: string[];
  /** R32: block the issue with a recovery issue, after the commit. */
  escalation: EscalationRequest | null;
  recoveryActions: RecoveryActionKind[];
  retryRunId: string | null;
  /** A usage limit ended the run (parked or exhausted): never escalated, and the agent stays idle. */
  providerQuota: boolean;
  /** V8: the one-line summaries of the decisions recorded here, in order. */
  decisionLines: string[];
}

export async function chooseRecovery(tx: Tx, ended: EndedRun, agent: AgentRow | null): Promise<RecoveryChoice> {
  const { before: run, updated, now } = ended;
  const choice: RecoveryChoice = { followUpRunIds: [], escalation: null, recoveryActions: [], retryRunId: null, providerQuota: false, decisionLines: [] };
  const decisions = new RunEndingDecisions(ended);
  // R8 step 6 (R35–R39): must come before the release, which it makes a no-op by moving the lock.
  // A usage limit parks one retry until the reset, and is never escalated (domain/providerQuota.ts).
  const quota = agent ? await scheduleQuotaRetry(tx, updated, agent, now) : { kind: 'not_quota' as const };
  if (quota.kind === 'parked') {
    choice.followUpRunIds.push(quota.runId);
    decisions.add('quota_wait', 'V9', 'provider_quota', { attempt: quota.attempt, maxAttempts: MAX_CONSECUTIVE_QUOTA_RETRIES, dueAt: quota.dueAt.toISOString() }, quota.runId);
  }
  if (quota.kind === 'exhausted') decisions.add('none', 'V9', 'provider_quota_exhausted', { attempt: quota.attempt, maxAttempts: MAX_CONSECUTIVE_QUOTA_RETRIES });
  if (quota.kind !== 'not_quota') {
    choice.providerQuota = true;
    choice.recoveryActions.push(quota.kind === 'parked' ? 'provider_quota_retry_parked' : 'provider_quota_retry_exhausted');
  }
  let transientAttempts: { attempt: number; maxAttempts: number } | null = null;
  if (agent && quota.kind === 'not_quota') {
    const transient = await scheduleTransientRetry(tx, updated, agent, now);
    if (transient.kind === 'scheduled') {
      choice.followUpRunIds.push(transient.runId);
      decisions.add('scheduled_retry', 'R38', 'transient_upstream', { attempt: transient.attempt, maxAttempts: MAX_TRANSIENT_RETRY_ATTEMPTS, dueAt: transient.dueAt.toISOString() }, transient.runId);
    }
    // R39: the release below decides; its decision carries the spent ladder.
    if (transient.kind === 'exhausted') transientAttempts = { attempt: transient.attemptsUsed, maxAttempts: MAX_TRANSIENT_RETRY_ATTEMPTS };
    if (transient.kind !== 'not_transient') choice.recoveryActions.push(transient.kind === 'scheduled' ? 'transient_retry_scheduled' : 'transient_retry_exhausted');
  }
  // R8 step 7 (R73): a succeeded run that owed its issue a comment and left none gets one
  // follow-up run, which takes the lock — step 8 then releases nothing for this run.
  const commentPolicy = await applyIssueCommentPolicy(tx, updated, agent, now);
  if (commentPolicy.followUpRunId) {
    choice.followUpRunIds.push(commentPolicy.followUpRunId);
    choice.recoveryActions.push('missing_issue_comment_follow_up');
    decisions.add('comment_follow_up', 'R73', 'missing_issue_comment', { attempt: 1, maxAttempts: 1 }, commentPolicy.followUpRunId);
  }
  // R23 + R25: a lost process gets its one retry, and the run's error event names it (R24: or not).
  const retryRunId = ended.retryOnce && agent ? await queueProcessLossRetry(tx, run, agent) : null;
  if (ended.processLost) {
    await appendRunEvent(tx, { companyId: run.companyId, runId: run.id, agentId: run.agentId, ...processLostEvent(run, ended.baseError, retryRunId) });
  }
  if (retryRunId) {
    choice.followUpRunIds.push(retryRunId);
    choice.recoveryActions.push('process_loss_retry');
    choice.retryRunId = retryRunId;
    decisions.add('retry', 'R23', 'process_lost', { attempt: 1, maxAttempts: 1 }, retryRunId);
    choice.decisionLines = await decisions.record(tx);
    return choice;
  }
  // R8 step 8 (R28–R34; R24 for a lost process without retry). The bulk cancels of R15 (agent
  // pause, budget stop) release without recovering.
  const stopReason = stopReasonFor(ended.write.status, ended.write.errorCode, ended.write.error);
  const released = await releaseAndPromote(tx, updated, {
    immediateRecovery: stopReason !== 'paused' && stopReason !== 'budget_paused' && quota.kind === 'not_quota',
  });
  choice.followUpRunIds.push(...released.followUpRunIds);
  if (released.recoveryAction) {
    choice.recoveryActions.push(released.recoveryAction);
    decisions.add(released.previousStatus === 'todo' ? 'dispatch' : 'continuation', released.why.rule, released.why.reason, { attempt: 1, maxAttempts: 1, previousStatus: released.previousStatus }, released.followUpRunIds[0]);
  }
  choice.escalation = released.escalation;
  // Nothing was done for an unsuccessful run: say why (an escalation records itself when carried out).
  if (decisions.isEmpty() && !released.escalation && ended.write.status !== 'succeeded') {
    decisions.add('none', released.why.rule, released.why.reason, transientAttempts ?? {});
  }
  choice.decisionLines = await decisions.record(tx);
  return choice;
}
