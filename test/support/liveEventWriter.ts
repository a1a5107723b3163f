/**
 * A process of live-event writers for the soak test (test/live/liveEventSoak.test.ts): several
 * connections, each running short transactions that interleave as Vigil's own writers do —
 * several events per transaction, pauses inside it, transaction ids taken before the events (so a
 * transaction that started later commits first), and some rollbacks.
 *
 * Usage: tsx test/support/liveEventWriter.ts <json {databaseUrl, companyId, connections, events, seed}>
 * Prints `COMMITTED <n>` when every connection has committed its share of `events`.
 */
import pg from 'pg';
import { takeTransactionId, writeActivityEvent } from './liveEventWrites.ts';

interface WriterOptions {
  databaseUrl: string;
  companyId: string;
  connections: number;
  /** Committed events per connection. */
  events: number;
  seed: number;
}

const options = JSON.parse(process.argv[2]) as WriterOptions;

/** mulberry32: the same interleavings for the same seed. */
function random(seed: number) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pause = (ms: number) => (ms < 1 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms)));

async function writer(index: number): Promise<number> {
  const next = random(options.seed * 1000 + index);
  const client = new pg.Client({ connectionString: options.databaseUrl, application_name: `vigil live-event soak writer ${index}` });
  await client.connect();
  let committed = 0;
  try {
    while (committed < options.events) {
      await client.query('BEGIN');
      if (next() < 0.4) {
        await takeTransactionId(client);
        await pause(next() * 6);
      }
      const count = Math.min(options.events - committed, 1 + Math.floor(next() * 3));
      for (let i = 0; i < count; i++) {
        await writeActivityEvent(client, options.companyId, `soak ${process.pid}/${index}`);
        await pause(next() * 4);
      }
      if (next() < 0.1) {
        await client.query('ROLLBACK');
      } else {
        await client.query('COMMIT');
        committed += count;
      }
    }
  } finally {
    await client.end();
  }
  return committed;
}

const totals = await Promise.all(Array.from({ length: options.connections }, (_, index) => writer(index)));
process.stdout.write(`COMMITTED ${totals.reduce((sum, n) => sum + n, 0)}\n`);
