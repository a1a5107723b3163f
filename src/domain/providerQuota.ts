/**
 * A quota wall is not a blip. A run that failed on a provider's usage limit with a reset time
 * (`errorFamily: "provider_quota"`) gets exactly one retry, parked until that reset on a durable
 * timer: it does not use up the transient ladder (R35–R41), never escalates, opens no recovery
 * issue, and leaves the agent idle. Until the reset, the agent's other queued runs wait for it too
 * instead of failing into the wall one by one. Pure: time comes in as an argument.
 */

export const PROVIDER_QUOTA_FAMILY = 'provider_quota';

/** A reset a few seconds away (or already past) still waits this long: the provider's clock is not ours. */
const MIN_WAIT_MS = 30_000;
/** A reset claimed further out than this is not believed: the retry waits this long instead. */
const MAX_WAIT_MS = 8 * 24 * 3600 * 1000;
/** Quota retries in a row (each one failed on the wall again) before the lineage stops retrying. */
export const MAX_CONSECUTIVE_QUOTA_RETRIES = 5;

export function isProviderQuotaFailure(resultJson: Record<string, unknown> | null): boolean {
  return resultJson?.errorFamily === PROVIDER_QUOTA_FAMILY;
}

export type QuotaRetryPlan = { kind: 'park'; dueAt: Date } | { kind: 'exhausted'; consecutive: number };

/**
 * When the one retry of a quota failure is due. `consecutiveQuotaRetries` counts the quota retries
 * this run's lineage already made in a row (the failed run itself being one of them, or not).
 */
export function planQuotaRetry(input: { now: Date; retryNotBefore: Date | null; consecutiveQuotaRetries: number }): QuotaRetryPlan {
  if (input.consecutiveQuotaRetries >= MAX_CONSECUTIVE_QUOTA_RETRIES) return { kind: 'exhausted', consecutive: input.consecutiveQuotaRetries };
  const now = input.now.getTime();
  const wanted = input.retryNotBefore?.getTime() ?? now + MIN_WAIT_MS;
  const dueAt = Math.min(Math.max(wanted, now + MIN_WAIT_MS), now + MAX_WAIT_MS);
  return { kind: 'park', dueAt: new Date(dueAt) };
}

/** The agent's quota wall, kept in `agent_runtime_state.state_json.providerQuota`. */
export interface ProviderQuotaWall {
  until: string;
  errorCode: string | null;
  runId: string;
}

/** The wall still standing at `now`, if any. */
export function activeQuotaWall(stateJson: unknown, now: Date): ProviderQuotaWall | null {
  const state = stateJson !== null && typeof stateJson === 'object' ? (stateJson as Record<string, unknown>) : {};
  const wall = state.providerQuota as Partial<ProviderQuotaWall> | undefined;
  if (!wall || typeof wall.until !== 'string') return null;
  const until = Date.parse(wall.until);
  return Number.isFinite(until) && until > now.getTime() ? (wall as ProviderQuotaWall) : null;
}
