/**
 * A run that failed on its provider's usage limit (`errorFamily: "provider_quota"`) parks exactly
 * one retry until the reset (domain/providerQuota.ts): a `scheduled_retry` run whose workflow waits
 * on a durable timer, holding the issue's execution lock so nothing escalates meanwhile. The
 * agent's quota wall is recorded so its other queued runs wait for the same reset (claimRun).
 */
import type { Prisma } from '../store/db.ts';
import { asObject, boundIssueId, toJson } from '../store/json.ts';
import { createSystemRun, moveExecutionLock } from '../store/systemRuns.ts';
import { appendRunEvent } from '../store/runEvents.ts';
import { PROVIDER_QUOTA_RETRY } from '../domain/recoveryKinds.ts';
import { recoveryEventTexts } from '../domain/recoveryTexts.ts';
import { isProviderQuotaFailure, planQuotaRetry, type ProviderQuotaWall } from '../domain/providerQuota.ts';
import { retryNotBeforeOf } from '../domain/transientRetry.ts';
import type { FailedRun } from './scheduleTransientRetry.ts';

type Tx = Prisma.TransactionClient;

export type QuotaRetryOutcome = { kind: 'not_quota' } | { kind: 'exhausted' } | { kind: 'parked'; runId: string; dueAt: Date };

/** How many quota retries in a row led to this run (it included, when it is one). */
function consecutiveQuotaRetries(context: Record<string, unknown>): number {
  return context.retryReason === PROVIDER_QUOTA_RETRY.retryReason ? Number(context.quotaRetryStreak ?? 1) || 1 : 0;
}

export async function scheduleQuotaRetry(
  tx: Tx,
  run: FailedRun & { wakeupRequestId?: string | null },
  agent: { id: string; name: string; companyId: string; adapterType: string },
  now: Date,
): Promise<QuotaRetryOutcome> {
  const resultJson = run.resultJson ? asObject(run.resultJson) : null;
  if (run.status !== 'failed' || !isProviderQuotaFailure(resultJson)) return { kind: 'not_quota' };
  const context = asObject(run.contextSnapshot);
  const streak = consecutiveQuotaRetries(context);
  const plan = planQuotaRetry({ now, retryNotBefore: retryNotBeforeOf(resultJson), consecutiveQuotaRetries: streak });
  if (plan.kind === 'exhausted') {
    await appendRunEvent(tx, {
      companyId: run.companyId,
      runId: run.id,
      agentId: run.agentId,
      eventType: 'lifecycle',
      level: 'warn',
      message: recoveryEventTexts.quotaRetriesExhausted(plan.consecutive),
      payload: { errorFamily: 'provider_quota', consecutiveQuotaRetries: plan.consecutive },
    });
    return { kind: 'exhausted' };
  }
  const issueId = boundIssueId(context);
  const schedule = {
    retryOfRunId: run.id,
    retryReason: PROVIDER_QUOTA_RETRY.retryReason,
    errorFamily: 'provider_quota',
    scheduledRetryAt: plan.dueAt.toISOString(),
    quotaRetryStreak: streak + 1,
  };
  const retry = await createSystemRun(tx, {
    companyId: run.companyId,
    agentId: agent.id,
    wake: { reason: PROVIDER_QUOTA_RETRY.wakeReason, payload: { ...(issueId ? { issueId } : {}), ...schedule } },
    run: {
      status: 'scheduled_retry',
      contextSnapshot: { ...context, ...schedule, wakeReason: PROVIDER_QUOTA_RETRY.wakeReason },
      retryOfRunId: run.id,
      continuationAttempt: Number(context.livenessContinuationAttempt ?? 0) || 0,
      scheduledRetryAt: plan.dueAt,
      // Not a step of the transient ladder: the attempt count stays where the lineage had it.
      scheduledRetryAttempt: run.scheduledRetryAttempt,
      scheduledRetryReason: PROVIDER_QUOTA_RETRY.retryReason,
    },
  });
  // The lock moves to the parked run, so the failed run's release (R28.3) recovers nothing.
  if (issueId) await moveExecutionLock(tx, { issueId, newRunId: retry.id, agentName: agent.name, onlyFrom: run.id });
  await recordQuotaWall(tx, agent, { until: plan.dueAt.toISOString(), errorCode: run.errorCode, runId: run.id });
  await appendRunEvent(tx, {
    companyId: run.companyId,
    runId: run.id,
    agentId: run.agentId,
    eventType: 'lifecycle',
    level: 'warn',
    message: recoveryEventTexts.quotaRetryParked(plan.dueAt.toISOString()),
    payload: { ...schedule, retryRunId: retry.id },
  });
  return { kind: 'parked', runId: retry.id, dueAt: plan.dueAt };
}

/** `agent_runtime_state.state_json.providerQuota`: until when the agent's provider refuses work. */
async function recordQuotaWall(tx: Tx, agent: { id: string; companyId: string; adapterType: string }, wall: ProviderQuotaWall): Promise<void> {
  const state = await tx.agentRuntimeState.findUnique({ where: { agentId: agent.id }, select: { stateJson: true } });
  const stateJson = toJson({ ...asObject(state?.stateJson), providerQuota: wall });
  await tx.agentRuntimeState.upsert({
    where: { agentId: agent.id },
    create: { agentId: agent.id, companyId: agent.companyId, adapterType: agent.adapterType, stateJson },
    update: { stateJson },
  });
}
