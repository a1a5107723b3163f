/**
 * R35–R37, R39: the bounded transient-upstream retry. Given a failed run's result, decide whether it
 * is transient, when its next attempt is due, and which codex fallback mode that attempt uses.
 * Pure: time and randomness come in as arguments, so workflows may import it.
 */

/** R36: base delays for attempts 1–4 (2 min, 10 min, 30 min, 2 h). */
export const TRANSIENT_RETRY_BASE_DELAYS_MS: readonly number[] = [120_000, 600_000, 1_800_000, 7_200_000];
export const MAX_TRANSIENT_RETRY_ATTEMPTS = 4;

const JITTER_FRACTION = 0.25;
const MIN_DELAY_MS = 1000;
const TRANSIENT_ERROR_CODES = new Set(['codex_transient_upstream', 'claude_transient_upstream']);

/**
 * R35: an adapter-declared `resultJson.errorFamily` (non-empty string) wins over the error code, so a
 * run declaring another family is not transient even with a `*_transient_upstream` code.
 */
export function transientErrorFamily(
  resultJson: Record<string, unknown> | null,
  errorCode: string | null,
): 'transient_upstream' | null {
  const declared = resultJson?.errorFamily;
  if (typeof declared === 'string' && declared.trim() !== '') {
    return declared === 'transient_upstream' ? 'transient_upstream' : null;
  }
  return errorCode !== null && TRANSIENT_ERROR_CODES.has(errorCode) ? 'transient_upstream' : null;
}

function parseInstant(value: unknown): Date | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  if (typeof value === 'string' && value.trim() === '') return null;
  const parsed = new Date(value);
  return Number.isNaN(parsed.getTime()) ? null : parsed;
}

/** R35: `retryNotBefore`, else `transientRetryNotBefore`; the first that parses as an instant wins. */
export function retryNotBeforeOf(resultJson: Record<string, unknown> | null): Date | null {
  if (resultJson === null) return null;
  return parseInstant(resultJson.retryNotBefore) ?? parseInstant(resultJson.transientRetryNotBefore);
}

export type TransientRetryPlan =
  | { kind: 'exhausted'; attemptsUsed: number }
  | { kind: 'schedule'; attempt: number; dueAt: Date; delayMs: number };

/**
 * R36, R39: the next attempt is `previousAttempt + 1` (the failed run's `scheduledRetryAttempt`);
 * beyond 4 the lineage is exhausted. `random` is a uniform draw u ∈ [0,1] (clamped) for the ±25 %
 * jitter. `baseDelaysMs` replaces the spec ladder (for configuration and tests only).
 */
export function planTransientRetry(input: {
  previousAttempt: number;
  now: Date;
  random: number;
  retryNotBefore: Date | null;
  baseDelaysMs?: readonly number[];
}): TransientRetryPlan {
  const attempt = input.previousAttempt + 1;
  if (attempt > MAX_TRANSIENT_RETRY_ATTEMPTS) return { kind: 'exhausted', attemptsUsed: input.previousAttempt };

  const ladder = input.baseDelaysMs?.length ? input.baseDelaysMs : TRANSIENT_RETRY_BASE_DELAYS_MS;
  const base = ladder[Math.min(Math.max(attempt, 1), ladder.length) - 1];
  const u = Math.min(1, Math.max(0, input.random));
  let delayMs = Math.max(MIN_DELAY_MS, Math.round(base * (1 + (2 * u - 1) * JITTER_FRACTION)));
  let dueAt = new Date(input.now.getTime() + delayMs);
  // R36: a provider-supplied "not before" later than our schedule wins.
  if (input.retryNotBefore !== null && input.retryNotBefore.getTime() > dueAt.getTime()) {
    dueAt = new Date(input.retryNotBefore.getTime());
    delayMs = dueAt.getTime() - input.now.getTime();
  }
  return { kind: 'schedule', attempt, dueAt, delayMs };
}

export type CodexFallbackMode = 'same_session' | 'safer_invocation' | 'fresh_session' | 'fresh_session_safer_invocation';

/** R37: codex_local only; attempt 1 keeps the session, later attempts get progressively more conservative. */
export function codexTransientFallbackMode(adapterType: string, attempt: number): CodexFallbackMode | null {
  if (adapterType !== 'codex_local') return null;
  if (attempt <= 1) return 'same_session';
  if (attempt === 2) return 'safer_invocation';
  if (attempt === 3) return 'fresh_session';
  return 'fresh_session_safer_invocation';
}
