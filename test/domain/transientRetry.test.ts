/** R35–R37, R39: bounded transient-upstream retry decisions. */
import { describe, expect, it } from 'vitest';
import {
  codexTransientFallbackMode,
  MAX_TRANSIENT_RETRY_ATTEMPTS,
  planTransientRetry,
  retryNotBeforeOf,
  TRANSIENT_RETRY_BASE_DELAYS_MS,
  transientErrorFamily,
} from '../../src/domain/transientRetry.ts';

const now = new Date('2026-01-01T00:00:00.000Z');
const plan = (previousAttempt: number, random: number, retryNotBefore: Date | null = null) =>
  planTransientRetry({ previousAttempt, now, random, retryNotBefore });

describe('transient error family (R35)', () => {
  it('treats codex and claude transient upstream codes as transient_upstream', () => {
    expect(transientErrorFamily(null, 'codex_transient_upstream')).toBe('transient_upstream');
    expect(transientErrorFamily({}, 'claude_transient_upstream')).toBe('transient_upstream');
  });

  it('does not treat other codes as transient', () => {
    for (const code of ['adapter_failed', 'process_lost', 'timeout', 'transient_upstream', '']) {
      expect(transientErrorFamily({}, code)).toBeNull();
    }
    expect(transientErrorFamily(null, null)).toBeNull();
  });

  it('reads resultJson.errorFamily even when the run failed with adapter_failed', () => {
    expect(transientErrorFamily({ errorFamily: 'transient_upstream' }, 'adapter_failed')).toBe('transient_upstream');
  });

  it('lets a declared non-transient family win over a transient error code', () => {
    expect(transientErrorFamily({ errorFamily: 'rate_limit_exhausted' }, 'codex_transient_upstream')).toBeNull();
  });

  it('ignores an empty or non-string errorFamily and falls back to the code', () => {
    expect(transientErrorFamily({ errorFamily: '' }, 'codex_transient_upstream')).toBe('transient_upstream');
    expect(transientErrorFamily({ errorFamily: 7 }, 'claude_transient_upstream')).toBe('transient_upstream');
    expect(transientErrorFamily({ errorFamily: '  ' }, 'adapter_failed')).toBeNull();
  });
});

describe('retryNotBefore (R35)', () => {
  it('prefers resultJson.retryNotBefore over transientRetryNotBefore', () => {
    expect(retryNotBeforeOf({ retryNotBefore: '2026-01-01T01:00:00.000Z', transientRetryNotBefore: '2026-01-01T02:00:00.000Z' }))
      .toEqual(new Date('2026-01-01T01:00:00.000Z'));
  });

  it('falls back to transientRetryNotBefore', () => {
    expect(retryNotBeforeOf({ transientRetryNotBefore: '2026-01-01T02:00:00.000Z' })).toEqual(new Date('2026-01-01T02:00:00.000Z'));
    expect(retryNotBeforeOf({ retryNotBefore: 'not a date', transientRetryNotBefore: '2026-01-01T02:00:00.000Z' }))
      .toEqual(new Date('2026-01-01T02:00:00.000Z'));
  });

  it('returns null for missing or invalid dates', () => {
    expect(retryNotBeforeOf(null)).toBeNull();
    expect(retryNotBeforeOf({})).toBeNull();
    expect(retryNotBeforeOf({ retryNotBefore: 'soon', transientRetryNotBefore: '' })).toBeNull();
    expect(retryNotBeforeOf({ retryNotBefore: { at: 1 } })).toBeNull();
  });
});

describe('planning a bounded retry (R36, R39)', () => {
  it('uses the 2 min, 10 min, 30 min, 2 h ladder for attempts 1-4 with no jitter at u = 0.5', () => {
    expect(TRANSIENT_RETRY_BASE_DELAYS_MS).toEqual([120_000, 600_000, 1_800_000, 7_200_000]);
    expect(MAX_TRANSIENT_RETRY_ATTEMPTS).toBe(4);
    TRANSIENT_RETRY_BASE_DELAYS_MS.forEach((base, index) => {
      const result = plan(index, 0.5);
      expect(result).toEqual({ kind: 'schedule', attempt: index + 1, delayMs: base, dueAt: new Date(now.getTime() + base) });
    });
  });

  it('jitters by -25 % at u = 0 and +25 % at u = 1', () => {
    expect(plan(0, 0)).toMatchObject({ attempt: 1, delayMs: 90_000, dueAt: new Date(now.getTime() + 90_000) });
    expect(plan(0, 1)).toMatchObject({ attempt: 1, delayMs: 150_000 });
    expect(plan(3, 0)).toMatchObject({ attempt: 4, delayMs: 5_400_000 });
    expect(plan(3, 1)).toMatchObject({ attempt: 4, delayMs: 9_000_000 });
  });

  it('rounds the jittered delay to whole milliseconds', () => {
    const result = plan(0, 0.3333333);
    expect(result.kind).toBe('schedule');
    if (result.kind === 'schedule') expect(Number.isInteger(result.delayMs)).toBe(true);
  });

  it('floors the delay at 1000 ms', () => {
    expect(planTransientRetry({ previousAttempt: 0, now, random: 0, retryNotBefore: null, baseDelaysMs: [400] }))
      .toEqual({ kind: 'schedule', attempt: 1, delayMs: 1000, dueAt: new Date(now.getTime() + 1000) });
  });

  it('uses a retryNotBefore later than the computed due time', () => {
    const retryNotBefore = new Date(now.getTime() + 3_600_000);
    expect(plan(0, 0.5, retryNotBefore)).toEqual({ kind: 'schedule', attempt: 1, dueAt: retryNotBefore, delayMs: 3_600_000 });
  });

  it('ignores a retryNotBefore earlier than the computed due time', () => {
    const retryNotBefore = new Date(now.getTime() + 60_000);
    expect(plan(1, 0.5, retryNotBefore)).toEqual({ kind: 'schedule', attempt: 2, dueAt: new Date(now.getTime() + 600_000), delayMs: 600_000 });
  });

  it('is exhausted once four scheduled attempts were used', () => {
    expect(plan(4, 0.5)).toEqual({ kind: 'exhausted', attemptsUsed: 4 });
    expect(plan(3, 0.5).kind).toBe('schedule');
  });
});

describe('codex transient fallback mode (R37)', () => {
  it('escalates the codex_local fallback by attempt', () => {
    expect([1, 2, 3, 4, 5].map((attempt) => codexTransientFallbackMode('codex_local', attempt))).toEqual([
      'same_session',
      'safer_invocation',
      'fresh_session',
      'fresh_session_safer_invocation',
      'fresh_session_safer_invocation',
    ]);
  });

  it('gives other adapters no mode', () => {
    for (const adapterType of ['claude_local', 'process', 'http']) {
      expect(codexTransientFallbackMode(adapterType, 1)).toBeNull();
      expect(codexTransientFallbackMode(adapterType, 4)).toBeNull();
    }
  });
});
