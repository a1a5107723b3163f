/**
 * A run that failed on its provider's usage limit (`errorFamily: "provider_quota"`) parks exactly
 * one retry until the reset (domain/providerQuota.ts): a `scheduled_retry` run whose workflow waits
 * on a durable timer, holding the execution lock so nothing escalates meanwhile. The
 * agent's quota wall is recorded so its other queued runs wait for the same reset (claimRun).
 */
import type { Prisma } from '../store/db.ts';
import { asObject, toJson } from '../store/json.ts';
import { createScheduledRetryRun, noteRetryOutcome } from './scheduledRetryRun.ts';
import { PROVIDER_QUOTA_RETRY } from '../domain/recoveryKinds.ts';
import { recoveryEventTexts } from '../domain/recoveryTexts.ts';
import { isProviderQuotaFailure, planQuotaRetry, type ProviderQuotaWall } from '../domain/providerQuota.ts';
import { retryNotBeforeOf } from '../domain/transientRetry.ts';
import type { FailedRun } from './scheduleTransientRetry.ts';

type Tx = Prisma.TransactionClient;

/** `attempt`: the parked retries in a row this one makes (exhausted: the ones already made). */
export type QuotaRetryOutcome = { kind: 'not_quota' } | { kind: 'exhausted'; attempt: number } | { kind: 'parked'; runId: string; dueAt: Date; attempt: number };

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
    await noteRetryOutcome(tx, run, recoveryEventTexts.quotaRetriesExhausted(plan.consecutive), { errorFamily: 'provider_quota', consecutiveQuotaRetries: plan.consecutive });
    return { kind: 'exhausted', attempt: plan.consecutive };
  }
  const schedule = {
    retryOfRunId: run.id,
    retryReason: PROVIDER_QUOTA_RETRY.retryReason,
    errorFamily: 'provider_quota',
    scheduledRetryAt: plan.dueAt.toISOString(),
    quotaRetryStreak: streak + 1,
  };
  const retryRunId = await createScheduledRetryRun(tx, run, agent, {
    context,
    kind: PROVIDER_QUOTA_RETRY,
    schedule,
    dueAt: plan.dueAt,
    // Not a step of the transient ladder: the attempt count stays where the lineage had it.
    scheduledRetryAttempt: run.scheduledRetryAttempt,
  });
  await recordQuotaWall(tx, agent, { until: plan.dueAt.toISOString(), errorCode: run.errorCode, runId: run.id });
  await noteRetryOutcome(tx, run, recoveryEventTexts.quotaRetryParked(plan.dueAt.toISOString()), { ...schedule, retryRunId });
  return { kind: 'parked', runId: retryRunId, dueAt: plan.dueAt, attempt: streak + 1 };
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
