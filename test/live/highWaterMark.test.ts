/**
 * The high-water mark of the live-event reader: ids that commit out of order are held back until
 * the gap before them fills or is known to be permanent — never skipped because of a wait.
 */
import { describe, expect, it } from 'vitest';
import { advanceHighWater, hasFinished, parseTxSnapshot, widenXid, type HighWaterState, type TxSnapshot } from '../../src/live/highWaterMark.ts';

/** A snapshot whose newest finished transaction is `xmax - 1`, with these still running. */
const snapshot = (xmax: number, inProgress: number[] = [], writers: number[] = inProgress): TxSnapshot => ({
  xmin: String(Math.min(xmax, ...inProgress)),
  xmax: String(xmax),
  inProgress: inProgress.map(String),
  writers: writers.map(String),
});
const at = (highWater: number): HighWaterState => ({ highWater, gap: null });

describe('advanceHighWater', () => {
  it('delivers contiguous ids and moves the mark to the last one', () => {
    const result = advanceHighWater(at(9), [10, 11, 12], snapshot(900, [500]), 0);
    expect(result).toEqual({ state: { highWater: 12, gap: null }, deliverable: 3, skipped: [], needsWriters: false });
  });

  it('holds back an id that committed before a lower one, and delivers both in order once the lower one commits', () => {
    // Transaction 500 took id 10, transaction 501 took 11 and committed first.
    const first = advanceHighWater(at(9), [11], snapshot(502, [500]), 0);
    expect(first.deliverable).toBe(0);
    expect(first.state).toEqual({ highWater: 9, gap: { from: 10, waitingOn: ['500'], openedAt: 0 } });

    const stillOpen = advanceHighWater(first.state, [11], snapshot(503, [500, 502]), 1_000);
    expect(stillOpen.deliverable).toBe(0);
    expect(stillOpen.state.gap).toEqual(first.state.gap);

    const committed = advanceHighWater(stillOpen.state, [10, 11], snapshot(503, [502]), 1_500);
    expect(committed).toEqual({ state: { highWater: 11, gap: null }, deliverable: 2, skipped: [], needsWriters: false });
  });

  it('waits for a holder that took its transaction id after the one that committed first (it is running, yet not in the snapshot)', () => {
    // Issue 9: Y took xid 741, then X took 742; X wrote id 10 and stays open; Y wrote 11 and
    // committed. PostgreSQL's snapshot is then 742:742: — xmax is the newest *finished* xid + 1,
    // so X is not in its in-progress list. Only pg_stat_activity names it.
    const first = advanceHighWater(at(9), [11], snapshot(742, [], [742]), 0);
    expect(first.deliverable).toBe(0);
    expect(first.state.gap).toEqual({ from: 10, waitingOn: ['742'], openedAt: 0 });

    // Still 742:742: while X is open, however long that takes: nothing is skipped.
    const hourLater = advanceHighWater(first.state, [11], snapshot(742, [], [742]), 3_600_000);
    expect(hourLater).toEqual({ state: first.state, deliverable: 0, skipped: [], needsWriters: false });

    // X committed: its id is visible and both go out in id order.
    const committed = advanceHighWater(hourLater.state, [10, 11], snapshot(743), 3_600_010);
    expect(committed).toEqual({ state: { highWater: 11, gap: null }, deliverable: 2, skipped: [], needsWriters: false });
  });

  it('steps over a rolled-back id as soon as every transaction that could hold it has finished', () => {
    const first = advanceHighWater(at(9), [11, 12], snapshot(502, [500, 501]), 0);
    expect(first.deliverable).toBe(0);
    // 500 and 501 are done (a newer 503 is running): id 10 can never appear.
    const settled = advanceHighWater(first.state, [11, 12], snapshot(504, [503]), 20);
    expect(settled).toEqual({ state: { highWater: 12, gap: null }, deliverable: 2, skipped: [{ from: 10, to: 10 }], needsWriters: false });
  });

  it('steps over a gap at once when no transaction that could hold it was running', () => {
    const result = advanceHighWater(at(9), [12, 13], snapshot(900), 0);
    expect(result).toEqual({ state: { highWater: 13, gap: null }, deliverable: 2, skipped: [{ from: 10, to: 11 }], needsWriters: false });
  });

  it('counts a transaction that started after the read as unfinished, not as a reason to settle', () => {
    // 900 appeared in pg_stat_activity after the snapshot was taken (at or above its xmax).
    const result = advanceHighWater(at(9), [11], snapshot(900, [], [900]), 0);
    expect(result.deliverable).toBe(0);
    expect(result.state.gap?.waitingOn).toEqual(['900']);
  });

  it('delivers up to the first gap and waits there with the transactions of the read that found it', () => {
    const result = advanceHighWater(at(9), [10, 11, 13, 14], snapshot(601, [600]), 7);
    expect(result).toEqual({ state: { highWater: 11, gap: { from: 12, waitingOn: ['600'], openedAt: 7 } }, deliverable: 2, skipped: [], needsWriters: false });
  });

  it('opens a new gap, with the transactions running then, when the mark moves past the old one', () => {
    const first = advanceHighWater(at(9), [11, 13], snapshot(501, [500]), 0);
    const filled = advanceHighWater(first.state, [10, 11, 13], snapshot(502, [501]), 4_000);
    expect(filled.deliverable).toBe(2);
    expect(filled.state).toEqual({ highWater: 11, gap: { from: 12, waitingOn: ['501'], openedAt: 4_000 } });
  });

  it('forgets a gap that filled when nothing beyond it is waiting', () => {
    const first = advanceHighWater(at(9), [11], snapshot(501, [500]), 0);
    const filled = advanceHighWater(first.state, [10, 11], snapshot(501), 10);
    expect(filled.state).toEqual({ highWater: 11, gap: null });
  });

  it('asks for a read with the writers when a new gap shows in a read without them, after delivering what came before it', () => {
    const withoutWriters: TxSnapshot = { ...snapshot(900, [500]), writers: null };
    const result = advanceHighWater(at(9), [10, 11, 13], withoutWriters, 0);
    expect(result).toEqual({ state: { highWater: 11, gap: null }, deliverable: 2, skipped: [], needsWriters: true });
    // An existing gap already knows whom it waits on: a plain read is enough to settle it.
    const open = advanceHighWater(at(9), [11], snapshot(502, [500]), 0).state;
    expect(advanceHighWater(open, [10, 11], { ...snapshot(502), writers: null }, 5)).toEqual({ state: { highWater: 11, gap: null }, deliverable: 2, skipped: [], needsWriters: false });
    expect(advanceHighWater(open, [11], { ...snapshot(502, [500]), writers: null }, 5).needsWriters).toBe(false);
  });

  it('keeps its mark when nothing new is visible', () => {
    expect(advanceHighWater(at(41), [], snapshot(2, [1]), 0)).toEqual({ state: { highWater: 41, gap: null }, deliverable: 0, skipped: [], needsWriters: false });
  });
});

describe('transaction ids', () => {
  it("reads PostgreSQL's xmin:xmax:xip form, with the running backends' xids", () => {
    expect(parseTxSnapshot('748:752:748,750', ['748', '750', '752'])).toEqual({ xmin: '748', xmax: '752', inProgress: ['748', '750'], writers: ['748', '750', '752'] });
    expect(parseTxSnapshot('752:752:')).toEqual({ xmin: '752', xmax: '752', inProgress: [], writers: null });
    expect(() => parseTxSnapshot('nonsense')).toThrow(/pg_snapshot/);
  });

  it('widens a 32-bit backend xid into the epoch of the snapshot beside it, across a wraparound', () => {
    const epoch3 = 3n * 2n ** 32n;
    expect(widenXid('752', '752')).toBe('752');
    expect(widenXid('760', '752')).toBe('760'); // running, above the newest finished
    expect(widenXid('4294967290', String(epoch3 + 5n))).toBe(String(epoch3 - 6n)); // just before the wrap
    expect(widenXid('3', String(epoch3 - 2n))).toBe(String(epoch3 + 3n)); // just after it
  });

  it('calls a transaction finished only below xmax and outside the in-progress list', () => {
    const view = snapshot(752, [748]);
    expect(hasFinished('747', view)).toBe(true);
    expect(hasFinished('748', view)).toBe(false);
    expect(hasFinished('752', view)).toBe(false);
    expect(hasFinished('9000', view)).toBe(false);
  });
});
