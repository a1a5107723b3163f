/**
 * The high-water mark of the live-event reader: ids that commit out of order are held back until
 * the gap before them fills, is known to be permanent, or has waited too long.
 */
import { describe, expect, it } from 'vitest';
import { advanceHighWater, parseTxSnapshot, type HighWaterState, type TxSnapshot } from '../../src/live/highWaterMark.ts';

const MAX_WAIT = 5_000;
const snapshot = (...inProgress: string[]): TxSnapshot => ({ xmin: inProgress[0] ?? '900', xmax: '900', inProgress });
const at = (highWater: number): HighWaterState => ({ highWater, gap: null });

describe('advanceHighWater', () => {
  it('delivers contiguous ids and moves the mark to the last one', () => {
    const result = advanceHighWater(at(9), [10, 11, 12], snapshot('500'), 0, MAX_WAIT);
    expect(result).toEqual({ state: { highWater: 12, gap: null }, deliverable: 3, skipped: [] });
  });

  it('holds back an id that committed before a lower one, and delivers both in order once the lower one commits', () => {
    // Transaction 500 took id 10, transaction 501 took 11 and committed first.
    const first = advanceHighWater(at(9), [11], snapshot('500'), 0, MAX_WAIT);
    expect(first.deliverable).toBe(0);
    expect(first.state).toEqual({ highWater: 9, gap: { from: 10, waitingOn: ['500'], openedAt: 0 } });

    const stillOpen = advanceHighWater(first.state, [11], snapshot('500', '502'), 1_000, MAX_WAIT);
    expect(stillOpen.deliverable).toBe(0);
    expect(stillOpen.state.gap).toEqual(first.state.gap);

    const committed = advanceHighWater(stillOpen.state, [10, 11], snapshot('502'), 1_500, MAX_WAIT);
    expect(committed).toEqual({ state: { highWater: 11, gap: null }, deliverable: 2, skipped: [] });
  });

  it('steps over a rolled-back id as soon as every transaction that could hold it has finished', () => {
    const first = advanceHighWater(at(9), [11, 12], snapshot('500', '501'), 0, MAX_WAIT);
    expect(first.deliverable).toBe(0);
    // 500 and 501 are done (a newer 503 is running): id 10 can never appear.
    const settled = advanceHighWater(first.state, [11, 12], snapshot('503'), 20, MAX_WAIT);
    expect(settled).toEqual({ state: { highWater: 12, gap: null }, deliverable: 2, skipped: [{ from: 10, to: 10, reason: 'settled' }] });
  });

  it('steps over a gap at once when no transaction was in progress while it was seen', () => {
    const result = advanceHighWater(at(9), [12, 13], snapshot(), 0, MAX_WAIT);
    expect(result).toEqual({ state: { highWater: 13, gap: null }, deliverable: 2, skipped: [{ from: 10, to: 11, reason: 'settled' }] });
  });

  it('steps over a gap after the maximum wait when its transactions stay open', () => {
    const first = advanceHighWater(at(9), [11], snapshot('500'), 0, MAX_WAIT);
    expect(advanceHighWater(first.state, [11], snapshot('500'), MAX_WAIT - 1, MAX_WAIT).deliverable).toBe(0);
    const late = advanceHighWater(first.state, [11], snapshot('500'), MAX_WAIT, MAX_WAIT);
    expect(late).toEqual({ state: { highWater: 11, gap: null }, deliverable: 1, skipped: [{ from: 10, to: 10, reason: 'timed_out' }] });
  });

  it('delivers up to the first gap and waits there with the transactions of the read that found it', () => {
    const result = advanceHighWater(at(9), [10, 11, 13, 14], snapshot('600'), 7, MAX_WAIT);
    expect(result).toEqual({ state: { highWater: 11, gap: { from: 12, waitingOn: ['600'], openedAt: 7 } }, deliverable: 2, skipped: [] });
  });

  it('opens a new gap, with a fresh wait, when the mark moves past the old one', () => {
    const first = advanceHighWater(at(9), [11, 13], snapshot('500'), 0, MAX_WAIT);
    const filled = advanceHighWater(first.state, [10, 11, 13], snapshot('501'), 4_000, MAX_WAIT);
    expect(filled.deliverable).toBe(2);
    expect(filled.state).toEqual({ highWater: 11, gap: { from: 12, waitingOn: ['501'], openedAt: 4_000 } });
  });

  it('forgets a gap that filled when nothing beyond it is waiting', () => {
    const first = advanceHighWater(at(9), [11], snapshot('500'), 0, MAX_WAIT);
    const filled = advanceHighWater(first.state, [10, 11], snapshot(), 10, MAX_WAIT);
    expect(filled.state).toEqual({ highWater: 11, gap: null });
  });

  it('keeps its mark when nothing new is visible', () => {
    expect(advanceHighWater(at(41), [], snapshot('1'), 0, MAX_WAIT)).toEqual({ state: { highWater: 41, gap: null }, deliverable: 0, skipped: [] });
  });
});

describe('parseTxSnapshot', () => {
  it("reads PostgreSQL's xmin:xmax:xip form", () => {
    expect(parseTxSnapshot('748:752:748,750')).toEqual({ xmin: '748', xmax: '752', inProgress: ['748', '750'] });
    expect(parseTxSnapshot('752:752:')).toEqual({ xmin: '752', xmax: '752', inProgress: [] });
    expect(() => parseTxSnapshot('nonsense')).toThrow(/pg_snapshot/);
  });
});
