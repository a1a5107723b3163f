/**
 * How far a reader of `live_events` may trust its cursor. Pure: no I/O, unit-tested on its own.
 *
 * The trap: a bigserial id is taken when a row is written, not when it commits. Transaction A takes
 * id 10, transaction B takes 11 and commits first; a reader that moves its cursor to 11 never sees
 * 10. So the cursor (the high-water mark) only moves over contiguous ids, and a missing id (a gap)
 * is stepped over only once it can no longer appear:
 *
 * - Each read comes with the PostgreSQL snapshot it ran under (`pg_current_snapshot()` in the same
 *   statement). When a read sees id 11 but not 10, whoever took 10 had its transaction id before
 *   11 was taken, so at that snapshot it was either finished without committing (rolled back) or
 *   listed as in progress. The gap therefore waits on exactly the snapshot's in-progress list.
 * - A later read whose snapshot lists none of them as in progress settles the gap: if 10 is still
 *   not there, it never will be (a rollback, or a Serializable retry, leaves a permanent hole).
 *   Rolled-back gaps thus close on the next read, in milliseconds, instead of after a fixed wait.
 * - Only an unrelated write transaction that stays open keeps a gap waiting; after `maxGapWaitMs`
 *   the gap is skipped anyway (reported, so the hub can log it), as a plain time bound would.
 *   A row that commits after that is still in the table (a reconnect's replay finds it) but is
 *   not pushed live.
 */

/** `pg_current_snapshot()`: transactions in `inProgress` had not finished when it was taken. */
export interface TxSnapshot {
  xmin: string;
  xmax: string;
  inProgress: readonly string[];
}

/** Parses PostgreSQL's `xmin:xmax:xip,xip,…` text form. */
export function parseTxSnapshot(text: string): TxSnapshot {
  const match = /^(\d+):(\d+):([\d,]*)$/.exec(text.trim());
  if (!match) throw new Error(`Not a pg_snapshot: ${text}`);
  return { xmin: match[1], xmax: match[2], inProgress: match[3] === '' ? [] : match[3].split(',') };
}

export interface PendingGap {
  /** The first missing id (the one right after the high-water mark). */
  from: number;
  /** Transactions in progress when the gap was first seen; it settles once all have finished. */
  waitingOn: readonly string[];
  openedAt: number;
}

export interface HighWaterState {
  /** Every id at or below it was delivered, or is known never to commit. */
  highWater: number;
  gap: PendingGap | null;
}

export interface SkippedRange {
  from: number;
  to: number;
  /** `settled`: its transactions had all finished (rolled back). `timed_out`: waited too long. */
  reason: 'settled' | 'timed_out';
}

export interface HighWaterAdvance {
  state: HighWaterState;
  /** How many of the visible ids, from the first, may be delivered now (in that order). */
  deliverable: number;
  skipped: SkippedRange[];
}

/**
 * One read's worth of progress. `visibleIds` are the ids above `state.highWater` that one
 * statement saw, ascending, and `snapshot` is that statement's snapshot.
 */
export function advanceHighWater(
  state: HighWaterState,
  visibleIds: readonly number[],
  snapshot: TxSnapshot,
  now: number,
  maxGapWaitMs: number,
): HighWaterAdvance {
  let next = state.highWater + 1;
  let gap = state.gap;
  let deliverable = 0;
  const skipped: SkippedRange[] = [];
  const stillRunning = new Set(snapshot.inProgress);

  for (const id of visibleIds) {
    if (id < next) continue; // defensive: never deliver an id twice
    if (id > next) {
      // ids next … id-1 are missing while a later one is visible.
      if (gap === null || gap.from !== next) {
        gap = { from: next, waitingOn: snapshot.inProgress, openedAt: now };
      }
      const settled = gap.waitingOn.every((xid) => !stillRunning.has(xid));
      const timedOut = now - gap.openedAt >= maxGapWaitMs;
      if (!settled && !timedOut) break;
      skipped.push({ from: next, to: id - 1, reason: settled ? 'settled' : 'timed_out' });
      gap = null;
    }
    deliverable += 1;
    next = id + 1;
  }
  if (gap !== null && gap.from !== next) gap = null;
  return { state: { highWater: next - 1, gap }, deliverable, skipped };
}
