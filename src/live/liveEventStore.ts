/**
 * Reads of `live_events` (written only by the triggers of the `live_events` migration) and its
 * retention. Ids are JS numbers: a bigserial stays below 2^53 for any realistic lifetime.
 */
import { Prisma, type PrismaClient } from '../store/db.ts';
import type { LiveEvent } from './liveEventTypes.ts';
import { parseTxSnapshot, type TxSnapshot } from './highWaterMark.ts';

interface LiveEventRow {
  id: bigint;
  company_id: string;
  type: string;
  payload: Record<string, unknown>;
}

function toLiveEvent(row: LiveEventRow): LiveEvent {
  return { id: Number(row.id), companyId: row.company_id, type: row.type, payload: row.payload };
}

/**
 * The statement's snapshot and, read after it, the transactions of this database that hold a
 * transaction id (highWaterMark.ts says why both are needed).
 */
const TRANSACTIONS = Prisma.sql`
  pg_current_snapshot()::text AS snapshot,
  (SELECT coalesce(array_agg(backend_xid::text), '{}') FROM pg_stat_activity
   WHERE datname = current_database() AND backend_xid IS NOT NULL) AS writers`;
/** The snapshot alone: enough while no new gap shows (`advanceHighWater` asks when one does). */
const SNAPSHOT_ONLY = Prisma.sql`pg_current_snapshot()::text AS snapshot, NULL::text[] AS writers`;

interface TransactionsRow {
  snapshot: string;
  writers: string[] | null;
}

const snapshotOf = (row: TransactionsRow): TxSnapshot => parseTxSnapshot(row.snapshot, row.writers);

/**
 * The next rows of every company after `afterId`, in id order, with the transactions as that very
 * statement saw them: `advanceHighWater` needs both from one point in time.
 */
export async function readLiveEventsAfter(
  prisma: PrismaClient,
  afterId: number,
  limit: number,
  { withWriters }: { withWriters: boolean },
): Promise<{ snapshot: TxSnapshot; events: LiveEvent[] }> {
  const rows = await prisma.$queryRaw<Array<Partial<LiveEventRow> & TransactionsRow>>`
    SELECT ${withWriters ? TRANSACTIONS : SNAPSHOT_ONLY}, e.id, e.company_id, e.type, e.payload
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (
      SELECT id, company_id::text AS company_id, type, payload
      FROM live_events WHERE id > ${afterId}::bigint ORDER BY id LIMIT ${limit}::int
    ) AS e ON true
    ORDER BY e.id`;
  return {
    snapshot: snapshotOf(rows[0]),
    events: rows.filter((row) => row.id != null).map((row) => toLiveEvent(row as LiveEventRow)),
  };
}

/** The highest visible id (0 when the table is empty) and the transactions that may still add lower ones. */
export async function readLiveEventsHead(prisma: PrismaClient): Promise<{ snapshot: TxSnapshot; latestId: number }> {
  const [row] = await prisma.$queryRaw<Array<TransactionsRow & { latest: bigint | null }>>`
    SELECT ${TRANSACTIONS}, (SELECT max(id) FROM live_events) AS latest`;
  return { snapshot: snapshotOf(row), latestId: row.latest === null ? 0 : Number(row.latest) };
}

/** The transactions as of now, to tell whether the ones a reader waits on have finished. */
export async function readTxSnapshot(prisma: PrismaClient): Promise<TxSnapshot> {
  const [row] = await prisma.$queryRaw<TransactionsRow[]>`SELECT ${TRANSACTIONS}`;
  return snapshotOf(row);
}

/** One company's rows in (afterId, upToId], in id order: a reconnecting board's replay. */
export async function readCompanyLiveEvents(
  prisma: PrismaClient,
  companyId: string,
  afterId: number,
  upToId: number,
  limit: number,
): Promise<LiveEvent[]> {
  const rows = await prisma.$queryRaw<LiveEventRow[]>`
    SELECT id, company_id::text AS company_id, type, payload
    FROM live_events
    WHERE company_id = ${companyId}::uuid AND id > ${afterId}::bigint AND id <= ${upToId}::bigint
    ORDER BY id LIMIT ${limit}::int`;
  return rows.map(toLiveEvent);
}

/** The lowest id still kept, or null when the table is empty. */
export async function oldestLiveEventId(prisma: PrismaClient): Promise<number | null> {
  const [row] = await prisma.$queryRaw<Array<{ id: bigint | null }>>`SELECT min(id) AS id FROM live_events`;
  return row.id === null ? null : Number(row.id);
}

/**
 * Deletes rows created before `olderThan`, in batches so no statement holds many row locks.
 * Ids grow with time, so the old rows are the lowest: both scans walk the primary key, and stop at
 * the first row young enough to keep, without an index on created_at.
 */
export async function pruneLiveEvents(prisma: PrismaClient, olderThan: Date, batchSize = 5_000): Promise<number> {
  let deleted = 0;
  for (;;) {
    const count = await prisma.$executeRaw`
      DELETE FROM live_events WHERE id IN (
        SELECT id FROM live_events
        WHERE created_at < ${olderThan}
          AND id < coalesce((SELECT min(id) FROM live_events WHERE created_at >= ${olderThan}), 9223372036854775807)
        ORDER BY id LIMIT ${batchSize}::int
      )`;
    deleted += count;
    if (count < batchSize) return deleted;
  }
}
