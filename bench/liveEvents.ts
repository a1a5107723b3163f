/**
 * `npm run bench:live`: what the live-event channel costs, each figure beside a baseline measured
 * in the same invocation on the same PostgreSQL.
 *
 * 1. One read of the hub (`readLiveEventsAfter`: new rows and the snapshot; after a new gap also
 *    the running transaction ids from pg_stat_activity that make gaps safe) against the same read
 *    of the rows alone, with 40 other connections open (pg_stat_activity grows with them).
 * 2. Commit to delivery: an event committed by `vigil_live_emit` until a hub subscriber has it,
 *    against a plain outbox: a row and a NOTIFY committed, until a LISTENing client has read it.
 *
 * Usage: npm run bench:live [-- --reads 2000 --events 300]
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startEmbeddedPostgres } from '../src/store/embeddedPostgres.ts';
import { applyMigrations } from '../src/store/migrate.ts';
import { createPrismaClient } from '../src/store/db.ts';
import { findFreePorts } from '../src/platform/freePorts.ts';
import { createLogger } from '../src/logger.ts';
import { LiveEventHub } from '../src/live/liveEventHub.ts';
import { readLiveEventsAfter } from '../src/live/liveEventStore.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const { values } = parseArgs({ options: { reads: { type: 'string', default: '2000' }, events: { type: 'string', default: '300' } } });
const READS = Number(values.reads);
const EVENTS = Number(values.events);

const say = (line: string) => process.stdout.write(`${line}\n`);
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
const summary = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), mean: samples.reduce((a, b) => a + b, 0) / samples.length };
};

const root = await mkdtemp(path.join(os.tmpdir(), 'vigil-bench-live-'));
const [port] = await findFreePorts(1);
const server = await startEmbeddedPostgres({ dataDir: root, port, log: () => undefined });
const idle: pg.Client[] = [];
try {
  await applyMigrations(server.databaseUrl);
  const prisma = createPrismaClient(server.databaseUrl, 4);
  const companyId = randomUUID();
  await prisma.$executeRaw`SELECT vigil_live_emit(${companyId}::uuid, 'issue.updated', jsonb_build_object('n', n)) FROM generate_series(1, 2000) AS n`;
  for (let i = 0; i < 40; i++) {
    const client = new pg.Client({ connectionString: server.databaseUrl });
    await client.connect();
    idle.push(client);
  }

  // 1. Reads: the hub's statement against the rows alone, interleaved so both see the same machine.
  const hubRead: number[] = [];
  const hubReadWithWriters: number[] = [];
  const rowsOnly: number[] = [];
  const afterId = 1990; // ten rows per read, as a read after a notification typically finds
  for (let i = 0; i < READS; i++) {
    let started = performance.now();
    await readLiveEventsAfter(prisma, afterId, 500, { withWriters: false });
    hubRead.push(performance.now() - started);
    started = performance.now();
    await readLiveEventsAfter(prisma, afterId, 500, { withWriters: true });
    hubReadWithWriters.push(performance.now() - started);
    started = performance.now();
    await prisma.$queryRaw`SELECT id, company_id::text AS company_id, type, payload FROM live_events WHERE id > ${afterId}::bigint ORDER BY id LIMIT 500`;
    rowsOnly.push(performance.now() - started);
  }
  const reads = { hub: summary(hubRead), withWriters: summary(hubReadWithWriters), baseline: summary(rowsOnly) };

  // 2. Commit to delivery.
  const writer = new pg.Client({ connectionString: server.databaseUrl });
  const listener = new pg.Client({ connectionString: server.databaseUrl });
  await Promise.all([writer.connect(), listener.connect()]);
  await listener.query('LISTEN vigil_bench');
  // The baseline a plain LISTEN/NOTIFY outbox pays: the notification, then one read of the new rows.
  const bareLatency: number[] = [];
  let newest = Number((await writer.query<{ id: string }>('SELECT max(id)::text AS id FROM live_events')).rows[0].id);
  for (let i = 0; i < EVENTS; i++) {
    const received = new Promise<void>((resolve) => listener.once('notification', () => resolve()));
    const started = performance.now();
    await writer.query(`INSERT INTO live_events (company_id, type, payload) VALUES ($1, 'issue.updated', '{}'); NOTIFY vigil_bench`.replace('$1', `'${companyId}'`));
    await received;
    const rows = await prisma.$queryRaw<Array<{ id: bigint }>>`SELECT id, company_id::text AS company_id, type, payload FROM live_events WHERE id > ${newest}::bigint ORDER BY id LIMIT 500`;
    newest = Number(rows.at(-1)!.id);
    bareLatency.push(performance.now() - started);
  }
  await listener.end();

  const hub = new LiveEventHub({ prisma, databaseUrl: server.databaseUrl, logger: createLogger('error') });
  await hub.start();
  await hub.ready();
  let deliver: (() => void) | null = null;
  const unsubscribe = hub.subscribe(companyId, { deliver: () => deliver?.(), close: () => undefined });
  const hubLatency: number[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const delivered = new Promise<void>((resolve) => (deliver = resolve));
    const started = performance.now();
    await writer.query(`SELECT vigil_live_emit($1::uuid, 'issue.updated', '{}'::jsonb)`, [companyId]);
    await delivered;
    hubLatency.push(performance.now() - started);
  }
  unsubscribe();
  await hub.stop();
  await writer.end();
  await prisma.$disconnect();
  const delivery = { hub: summary(hubLatency), baseline: summary(bareLatency) };

  const ms = (value: number) => `${value.toFixed(2)} ms`;
  say(`\n| figure | Vigil | baseline | ratio |`);
  say(`|---|---|---|---|`);
  say(`| hub read, p50 (baseline: the rows alone) | ${ms(reads.hub.p50)} | ${ms(reads.baseline.p50)} | ${(reads.hub.p50 / reads.baseline.p50).toFixed(2)}× |`);
  say(`| hub read, mean | ${ms(reads.hub.mean)} | ${ms(reads.baseline.mean)} | ${(reads.hub.mean / reads.baseline.mean).toFixed(2)}× |`);
  say(`| hub read after a new gap (with pg_stat_activity), p50 | ${ms(reads.withWriters.p50)} | ${ms(reads.baseline.p50)} | ${(reads.withWriters.p50 / reads.baseline.p50).toFixed(2)}× |`);
  say(`| commit → subscriber, p50 (baseline: NOTIFY, then read the row) | ${ms(delivery.hub.p50)} | ${ms(delivery.baseline.p50)} | ${(delivery.hub.p50 / delivery.baseline.p50).toFixed(2)}× |`);
  say(`| commit → subscriber, p99 | ${ms(delivery.hub.p99)} | ${ms(delivery.baseline.p99)} | ${(delivery.hub.p99 / delivery.baseline.p99).toFixed(2)}× |`);
  say(`\n(${READS} reads each with 40 idle connections open; ${EVENTS} events one at a time)`);
} finally {
  for (const client of idle) await client.end().catch(() => undefined);
  await server.stop();
  await rm(root, { recursive: true, force: true });
}
