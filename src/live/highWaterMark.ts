/**
 * How far a reader of `live_events` may trust its cursor. Pure: no I/O, unit-tested on its own.
 *
 * The trap: a bigserial id is taken when a row is written, not when it commits. Transaction A takes
 * id 10, transaction B takes 11 and commits first; a reader that moves its cursor to 11 never sees
 * 10. So the cursor (the high-water mark) only moves over contiguous ids, and a missing id (a gap)
 * is stepped over only once it can no longer appear — never because it waited long enough: a
 * board must not miss an event that commits, however late.
 *
 * Who can still fill a gap? Whoever took the missing id took it before the visible id after it,
 * which committed before the read; and `vigil_live_emit` takes its transaction id before it takes
 * an event id. So the holder had a transaction id before the read and, unless it has finished, is
 * still running after it. Each read therefore comes with two views of the database's transactions:
 *
 * - the statement's snapshot (`pg_current_snapshot()`): which transactions had finished when the
 *   rows were read. Its in-progress list is NOT the list of running transactions: it only names
 *   those below `xmax`, and PostgreSQL sets `xmax` to the newest *finished* transaction + 1, so a
 *   transaction that took its id after an older one that committed first is running yet unlisted
 *   (the boards of issue 9 missed exactly those events);
 * - `writers`: every transaction of this database that held a transaction id when
 *   `pg_stat_activity` was read, after the snapshot — a superset of the gap's possible holders.
 *
 * A gap waits on its `writers` (and the snapshot's in-progress list). A later read whose snapshot
 * shows all of them finished settles it: if the id is still missing then, it never commits (a
 * rollback, or a Serializable retry, leaves a permanent hole). Rolled-back gaps close on the next
 * read, in milliseconds; a gap whose holder stays open holds every later event back until it ends.
 */

/** `pg_current_snapshot()` plus the database's running transactions right after it (xid8, decimal). */
export interface TxSnapshot {
  xmin: string;
  /** One past the newest finished transaction: every id at or above it is unfinished. */
  xmax: string;
  /** Unfinished transactions below `xmax`. */
  inProgress: readonly string[];
  /**
   * Transactions of this database holding a transaction id when read after the snapshot; null
   * when the read did not ask (only a new gap needs them, and asking costs the read ~0.6 ms).
   */
  writers: readonly string[] | null;
}

/** Parses PostgreSQL's `xmin:xmax:xip,xip,…` text form; `writers` are 32-bit `backend_xid`s. */
export function parseTxSnapshot(text: string, backendXids: readonly string[] | null = null): TxSnapshot {
  const match = /^(\d+):(\d+):([\d,]*)$/.exec(text.trim());
  if (!match) throw new Error(`Not a pg_snapshot: ${text}`);
  const xmax = match[2];
  return {
    xmin: match[1],
    xmax,
    inProgress: match[3] === '' ? [] : match[3].split(','),
    writers: backendXids === null ? null : backendXids.map((xid) => widenXid(xid, xmax)),
  };
}

const XID_SPACE = 2n ** 32n;

/**
 * A 32-bit `xid` (what `pg_stat_activity.backend_xid` shows) as the 64-bit `xid8` of the snapshot
 * it sits beside: running transactions lie within 2^31 of `xmax`, on either side of it.
 */
export function widenXid(xid: string, xmax: string): string {
  const reference = BigInt(xmax);
  let offset = (BigInt(xid) - (reference % XID_SPACE)) % XID_SPACE;
  if (offset < 0n) offset += XID_SPACE;
  if (offset >= XID_SPACE / 2n) offset -= XID_SPACE;
  return String(reference + offset);
}

/** At `snapshot`, had `xid` committed or rolled back? */
export function hasFinished(xid: string, snapshot: TxSnapshot): boolean {
  return BigInt(xid) < BigInt(snapshot.xmax) && !snapshot.inProgress.includes(xid);
}

/** The transactions that may still write what `snapshot` did not show. */
export function possibleWriters(snapshot: TxSnapshot): string[] {
  if (snapshot.writers === null) throw new Error('possibleWriters needs a snapshot read with its writers');
  return [...new Set([...snapshot.inProgress, ...snapshot.writers])];
}

export interface PendingGap {
  /** The first missing id (the one right after the high-water mark). */
  from: number;
  /** Transactions that may hold it; it settles once all have finished. */
  waitingOn: readonly string[];
  /** When the gap was first seen (the reader's clock), so a long wait can be reported. */
  openedAt: number;
}

export interface HighWaterState {
  /** Every id at or below it was delivered, or is known never to commit. */
  highWater: number;
  gap: PendingGap | null;
}

/** Ids stepped over because every transaction that could hold them had finished. */
export interface SkippedRange {
  from: number;
  to: number;
}

export interface HighWaterAdvance {
  state: HighWaterState;
  /** How many of the visible ids, from the first, may be delivered now (in that order). */
  deliverable: number;
  skipped: SkippedRange[];
  /** A new gap was found in a read without its writers: read again with them (from `state`). */
  needsWriters: boolean;
}

/**
 * One read's worth of progress. `visibleIds` are the ids above `state.highWater` that one
 * statement saw, ascending, and `snapshot` is that statement's view of the transactions.
 */
export function advanceHighWater(state: HighWaterState, visibleIds: readonly number[], snapshot: TxSnapshot, now: number): HighWaterAdvance {
  let next = state.highWater + 1;
  let gap = state.gap;
  let deliverable = 0;
  const skipped: SkippedRange[] = [];

  for (const id of visibleIds) {
    if (id < next) continue; // defensive: never deliver an id twice
    if (id > next) {
      // ids next … id-1 are missing while a later one is visible.
      if (gap === null || gap.from !== next) {
        if (snapshot.writers === null) return { state: { highWater: next - 1, gap: null }, deliverable, skipped, needsWriters: true };
        gap = { from: next, waitingOn: possibleWriters(snapshot), openedAt: now };
      }
      if (!gap.waitingOn.every((xid) => hasFinished(xid, snapshot))) break;
      skipped.push({ from: next, to: id - 1 });
      gap = null;
    }
    deliverable += 1;
    next = id + 1;
  }
  if (gap !== null && gap.from !== next) gap = null;
  return { state: { highWater: next - 1, gap }, deliverable, skipped, needsWriters: false };
}
