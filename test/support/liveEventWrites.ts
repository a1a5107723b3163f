/**
 * Producing live events from a test the way Vigil's own writes do: an `activity_log` row whose
 * trigger calls `vigil_live_emit` (migration `live_events`), on a plain `pg` client whose
 * transaction the test opens, holds and ends at the moment it chooses.
 */
import type pg from 'pg';

/** Writes one `activity.logged` event in the client's current transaction; returns its live id. */
export async function writeActivityEvent(client: pg.Client, companyId: string, action: string): Promise<number> {
  await client.query(
    `INSERT INTO activity_log (company_id, actor_type, actor_id, action, entity_type, entity_id)
     VALUES ($1::uuid, 'system', 'live-event-test', $2, 'company', $1::text)`,
    [companyId, action],
  );
  // The row trigger took the id with nextval in this session.
  const { rows } = await client.query<{ id: string }>(`SELECT currval('live_events_id_seq')::text AS id`);
  return Number(rows[0].id);
}

/** Takes the transaction's id now (as any earlier write would), before it writes an event. */
export async function takeTransactionId(client: pg.Client): Promise<string> {
  const { rows } = await client.query<{ xid: string }>('SELECT pg_current_xact_id()::text AS xid');
  return rows[0].xid;
}
