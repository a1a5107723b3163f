/** Issue 14 V1, V3–V5: the loop breaker's pure decision (`src/domain/loopBreaker.ts`). */
import { describe, expect, it } from 'vitest';
import { countingSince, decideLoopBreaker, isBoardWake, madeProgress, type RunProgressEvidence } from '../../src/domain/loopBreaker.ts';

const idle: RunProgressEvidence = { comments: 0, documentRevisions: 0, statusChanges: 0 };
const settings = { maxRuns: 3, windowSec: 600 };

describe('madeProgress (V3)', () => {
  it('is a comment, a document revision or a status change by the run, and nothing else', () => {
    expect(madeProgress(idle)).toBe(false);
    expect(madeProgress({ ...idle, comments: 1 })).toBe(true);
    expect(madeProgress({ ...idle, documentRevisions: 2 })).toBe(true);
    expect(madeProgress({ ...idle, statusChanges: 1 })).toBe(true);
  });
});

describe('decideLoopBreaker (V1, V4)', () => {
  it('admits until N runs ended without progress, then skips and trips once', () => {
    expect(decideLoopBreaker({ settings, recentRuns: [idle, idle], tripped: false })).toEqual({ kind: 'admit' });
    expect(decideLoopBreaker({ settings, recentRuns: [idle, idle, idle], tripped: false })).toEqual({ kind: 'skip_and_trip', runsWithoutProgress: 3 });
    expect(decideLoopBreaker({ settings, recentRuns: [idle, idle, idle], tripped: true })).toEqual({ kind: 'skip', runsWithoutProgress: 3 });
  });

  it('admits, and clears a trip, once any of the last N runs made progress or the runs left the window', () => {
    expect(decideLoopBreaker({ settings, recentRuns: [{ ...idle, comments: 1 }, idle, idle], tripped: true })).toEqual({ kind: 'admit_and_clear' });
    expect(decideLoopBreaker({ settings, recentRuns: [idle, idle, { ...idle, statusChanges: 1 }], tripped: false })).toEqual({ kind: 'admit' });
    expect(decideLoopBreaker({ settings, recentRuns: [], tripped: true })).toEqual({ kind: 'admit_and_clear' });
  });
});

describe('countingSince (V1, V4)', () => {
  const now = new Date('2026-12-06T06:00:00.000Z');
  it('is the window start, or a later board reset', () => {
    expect(countingSince(now, 600, null)).toEqual(new Date('2026-12-06T05:50:00.000Z'));
    expect(countingSince(now, 600, new Date('2026-12-06T05:40:00.000Z'))).toEqual(new Date('2026-12-06T05:50:00.000Z'));
    expect(countingSince(now, 600, new Date('2026-12-06T05:55:00.000Z'))).toEqual(new Date('2026-12-06T05:55:00.000Z'));
  });
});

describe('isBoardWake (V5)', () => {
  it('exempts what a board user asked for, and nothing an agent or Vigil asked for', () => {
    expect(isBoardWake({ requestedByActorType: 'user' })).toBe(true);
    expect(isBoardWake({ requestedByActorType: 'agent' })).toBe(false);
    expect(isBoardWake({ requestedByActorType: 'system' })).toBe(false);
    expect(isBoardWake({})).toBe(false);
  });
});
