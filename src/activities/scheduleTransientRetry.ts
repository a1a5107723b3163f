/**
 * R35–R39: a run that failed because its upstream model was overloaded gets a bounded retry,
 * scheduled 2 min / 10 min / 30 min / 2 h later (±25 %), at most four times. The retry is a
 * `scheduled_retry` run that takes the execution lock (so the issue stays `in_progress`
 * and gets no comment); its own workflow waits for the due time on a durable Temporal timer.
 */
import type { Prisma } from '../store/db.ts';
import { asObject } from '../store/json.ts';
import { createScheduledRetryRun, noteRetryOutcome } from './scheduledRetryRun.ts';
import { TRANSIENT_RETRY } from '../domain/recoveryKinds.ts';
import { recoveryEventTexts } from '../domain/recoveryTexts.ts';
import {
  MAX_TRANSIENT_RETRY_ATTEMPTS,
  codexTransientFallbackMode,
  planTransientRetry,
  retryNotBeforeOf,
  transientErrorFamily,
} from '../domain/transientRetry.ts';

type Tx = Prisma.TransactionClient;

export interface FailedRun {
  id: string;
  companyId: string;
  agentId: string;
  status: string;
  errorCode: string | null;
  resultJson: unknown;
  contextSnapshot: unknown;
  scheduledRetryAttempt: number;
}

export type TransientRetryOutcome = { kind: 'not_transient' } | { kind: 'exhausted'; attemptsUsed: number } | { kind: 'scheduled'; runId: string; attempt: number; dueAt: Date };

export async function scheduleTransientRetry(
  tx: Tx,
  run: FailedRun,
  agent: { id: string; name: string; adapterType: string },
  now: Date,
): Promise<TransientRetryOutcome> {
  const resultJson = run.resultJson ? asObject(run.resultJson) : null;
  // R35: only `failed` runs (not timed out, not cancelled) with the transient-upstream contract.
  if (run.status !== 'failed' || transientErrorFamily(resultJson, run.errorCode) !== 'transient_upstream') return { kind: 'not_transient' };
  const retryNotBefore = retryNotBeforeOf(resultJson);
  const plan = planTransientRetry({ previousAttempt: run.scheduledRetryAttempt, now, random: Math.random(), retryNotBefore });
  if (plan.kind === 'exhausted') {
    // R39: the normal release-and-promote (immediate recovery) takes over.
    await noteRetryOutcome(tx, run, recoveryEventTexts.retryExhausted(plan.attemptsUsed), { scheduledRetryAttempt: plan.attemptsUsed, maxAttempts: MAX_TRANSIENT_RETRY_ATTEMPTS });
    return { kind: 'exhausted', attemptsUsed: plan.attemptsUsed };
  }
  const fallbackMode = codexTransientFallbackMode(agent.adapterType, plan.attempt);
  const schedule = {
    retryOfRunId: run.id,
    retryReason: TRANSIENT_RETRY.retryReason,
    errorFamily: 'transient_upstream',
    scheduledRetryAttempt: plan.attempt,
    scheduledRetryAt: plan.dueAt.toISOString(),
    ...(retryNotBefore ? { transientRetryNotBefore: retryNotBefore.toISOString() } : {}),
    ...(fallbackMode ? { codexTransientFallbackMode: fallbackMode } : {}),
  };
  const retryRunId = await createScheduledRetryRun(tx, run, agent, {
    context: asObject(run.contextSnapshot),
    kind: TRANSIENT_RETRY,
    schedule,
    dueAt: plan.dueAt,
    scheduledRetryAttempt: plan.attempt,
  });
  await noteRetryOutcome(tx, run, recoveryEventTexts.scheduledRetry(plan.attempt, MAX_TRANSIENT_RETRY_ATTEMPTS, plan.dueAt.toISOString()), { ...schedule, delayMs: plan.delayMs, retryRunId });
  return { kind: 'scheduled', runId: retryRunId, attempt: plan.attempt, dueAt: plan.dueAt };
}
