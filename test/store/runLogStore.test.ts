/**
 * Run logs in PostgreSQL (issue 11), on a scratch database of the test run's server: paging by
 * bytes across rows never splits a character and always moves forward, one INSERT per flush, the
 * cap's single marker line, retention of the logs of runs that ended long ago only, and logs from
 * before issue 11 still read from a local file.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PrismaPg } from '@prisma/adapter-pg';
import { createPrismaClient, Prisma, PrismaClient } from '../../src/store/db.ts';
import { applyMigrations } from '../../src/store/migrate.ts';
import { LOG_STORE, ROW_BYTES, RunLogStore, runLogRef, type RunLogLine } from '../../src/store/runLogStore.ts';
import { completeUtf8Length, type RunLogSlice } from '../../src/store/runLogSlice.ts';
import { pruneRunLogs } from '../../src/store/runLogRetention.ts';
import { runLogRetentionCutoff } from '../../src/domain/runLogBounds.ts';
import { createScratchDatabase, withClient } from '../support/scratchDatabase.ts';

let database: Awaited<ReturnType<typeof createScratchDatabase>>;
let prisma: PrismaClient;
let companyId: string;
let agentId: string;
const tempDirs: string[] = [];

beforeAll(async () => {
  database = await createScratchDatabase(inject('databaseUrl'), 'vigil_run_logs');
  await applyMigrations(database.url);
  prisma = createPrismaClient(database.url, 4);
  const company = await prisma.company.create({ data: { name: 'Acme', issuePrefix: `T${randomBytes(4).toString('hex')}` } });
  const agent = await prisma.agent.create({ data: { companyId: company.id, name: 'logger' } });
  [companyId, agentId] = [company.id, agent.id];
});

afterAll(async () => {
  for (const client of counted) await client.$disconnect();
  await prisma?.$disconnect();
  await database?.drop();
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

/** A run row as the worker leaves it once its child spawned; `finishedAt` when it ended. */
async function givenRun(fields: { finishedAt?: Date; status?: 'running' | 'succeeded' } = {}) {
  const run = await prisma.heartbeatRun.create({
    data: { companyId, agentId, status: fields.status ?? (fields.finishedAt ? 'succeeded' : 'running'), finishedAt: fields.finishedAt ?? null, logStore: LOG_STORE },
  });
  return prisma.heartbeatRun.update({ where: { id: run.id }, data: { logRef: runLogRef(companyId, run.id) } });
}

const line = (chunk: string, stream = 'stdout'): RunLogLine => ({ ts: new Date(0), stream, chunk });

/** Every slice of the log from 0 with this limit, in order. */
async function pageThrough(store: RunLogStore, run: { id: string; logStore: string | null; logRef: string | null }, limit: number): Promise<RunLogSlice[]> {
  const slices: RunLogSlice[] = [];
  let offset: number | null = 0;
  while (offset !== null) {
    const slice: RunLogSlice | null = await store.read(run, offset, limit);
    expect(slice).not.toBeNull();
    slices.push(slice!);
    expect(slice!.nextOffset === null || slice!.nextOffset > offset).toBe(true);
    offset = slice!.nextOffset;
  }
  return slices;
}

/** Rows of the run's log, in order. */
function rowsOf(runId: string) {
  return prisma.runLogChunk.findMany({ where: { runId }, orderBy: { seq: 'asc' } });
}

/** A client that counts the statements it sends. */
function countingClient(): { client: PrismaClient; statements: () => number } {
  let statements = 0;
  const client = new PrismaClient({ adapter: new PrismaPg({ connectionString: database.url, max: 2 }), log: [{ emit: 'event', level: 'query' }] });
  client.$on('query', () => statements++);
  counted.push(client);
  return { client, statements: () => statements };
}
const counted: PrismaClient[] = [];

describe('run log slices', () => {
  it('end on a character boundary, so every byte limit pages back to the exact text, across rows', async () => {
    const store = new RunLogStore(prisma);
    const run = await givenRun();
    const writer = store.writer(run);
    // Three flushes, hence three rows, with 2-, 3- and 4-byte characters near every boundary.
    for (const chunk of ['héllo → wörld 🚀', '🚀ü→', 'done é']) await writer.append([line(chunk)]);
    expect((await rowsOf(run.id)).map((row) => row.seq)).toEqual([0, 1, 2]);
    const whole = (await store.read(run, 0, 1 << 20))!;
    expect(whole.nextOffset).toBeNull();
    expect(whole.content.split('\n').filter(Boolean).map((text) => JSON.parse(text).chunk)).toEqual(['héllo → wörld 🚀', '🚀ü→', 'done é']);
    expect(Buffer.byteLength(whole.content)).toBe(writer.bytes);
    for (const limit of [1, 2, 3, 5, 7, 40, 61]) {
      const slices = await pageThrough(store, run, limit);
      for (const slice of slices) expect(slice.content).not.toContain('\ufffd');
      expect(slices.map((slice) => slice.content).join('')).toBe(whole.content);
    }
  });

  it('starts a slice inside any row and reads on into the next ones', async () => {
    const store = new RunLogStore(prisma);
    const run = await givenRun();
    const writer = store.writer(run);
    for (let flush = 0; flush < 5; flush++) await writer.append([line(`flush ${flush}: ${'ä'.repeat(50)}`), line(`tail ${flush}`, 'stderr')]);
    const rows = await rowsOf(run.id);
    expect(rows).toHaveLength(5);
    // Rows are contiguous: each starts where the one before ended.
    rows.forEach((row, i) => expect(Number(row.byteOffset)).toBe(i === 0 ? 0 : Number(rows[i - 1].byteOffset) + rows[i - 1].byteLength));
    const whole = Buffer.from((await store.read(run, 0, 1 << 20))!.content);
    // From the middle of row 1 across rows 2 and 3, on a character boundary.
    const offset = Number(rows[1].byteOffset) + 20;
    const slice = (await store.read(run, offset, Number(rows[3].byteOffset) - offset + 10))!;
    expect(slice.content).toBe(whole.toString('utf8', offset, slice.nextOffset!));
    expect(slice.nextOffset).toBeGreaterThan(Number(rows[3].byteOffset));
    // Past the end: empty, and no next slice.
    expect(await store.read(run, whole.length, 100)).toEqual({ content: '', nextOffset: null });
    expect(await store.read(run, whole.length + 50, 100)).toEqual({ content: '', nextOffset: null });
  });

  it('keeps whole characters and leaves a cut-short one for the next slice', () => {
    const rocket = Buffer.from('🚀');
    expect(completeUtf8Length(Buffer.from('ab'))).toBe(2);
    expect(completeUtf8Length(Buffer.concat([Buffer.from('a'), rocket]))).toBe(5);
    expect(completeUtf8Length(Buffer.concat([Buffer.from('a'), rocket.subarray(0, 3)]))).toBe(1);
    expect(completeUtf8Length(rocket.subarray(0, 2))).toBe(0);
  });

  it('is null for a run without a log yet, and the log of another run is never mixed in', async () => {
    const store = new RunLogStore(prisma);
    const empty = await givenRun();
    expect(await store.read(empty, 0, 100)).toBeNull();
    const other = await givenRun();
    await store.writer(other).append([line('not yours')]);
    expect(await store.read(empty, 0, 100)).toBeNull();
  });
});

describe('appending', () => {
  it('stores a flush in one statement, however many lines, and a big flush as rows of whole lines', async () => {
    const counting = countingClient();
    const store = new RunLogStore(counting.client);
    const run = await givenRun();
    const writer = store.writer(run);
    const lines = Array.from({ length: 400 }, (_, i) => line(`${String(i).padStart(3, '0')} ${'x'.repeat(400)} ✓`));
    const { bytes, text } = await writer.append(lines);
    expect(counting.statements()).toBe(1);
    expect(Buffer.byteLength(text)).toBe(bytes);
    const rows = await rowsOf(run.id);
    expect(rows.length).toBeGreaterThan(2);
    for (const row of rows) {
      expect(row.content.endsWith('\n')).toBe(true);
      expect(Buffer.byteLength(row.content)).toBe(row.byteLength);
      expect(row.byteLength).toBeLessThanOrEqual(ROW_BYTES);
    }
    const slices = await pageThrough(store, run, 256_000);
    expect(slices.map((slice) => slice.content).join('')).toBe(text);
  });

  it('continues the offsets of a run that already has rows (a second writer appends after them)', async () => {
    const store = new RunLogStore(prisma);
    const run = await givenRun();
    const first = await store.writer(run).append([line('one')]);
    const second = await store.writer(run).append([line('two')]);
    expect(second.bytes).toBe(first.bytes + Buffer.byteLength(second.text));
    expect((await store.read(run, 0, 1000))!.content).toBe(first.text + second.text);
  });
});

describe('writes alongside the append (the recorder\'s flush)', () => {
  it('runs them in the same statement with the log\'s end offset, and still runs them once the log is cut', async () => {
    const counting = countingClient();
    const store = new RunLogStore(counting.client, { maxBytes: 200 });
    const run = await givenRun();
    const writer = store.writer(run);
    const noteLogBytes = (log: { end: Prisma.Sql; text: string }) => [
      Prisma.sql`UPDATE heartbeat_runs SET log_bytes = ${log.end}, stdout_excerpt = ${log.text} WHERE id = ${run.id}::uuid`,
    ];
    const first = await writer.append([line('first flush')], noteLogBytes);
    expect(counting.statements()).toBe(1);
    let row = await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: run.id } });
    expect(row.logBytes).toBe(BigInt(first.bytes));
    expect(row.stdoutExcerpt).toBe(first.text);
    // This flush passes the cap: the marker is stored, and the run's columns say so.
    const second = await writer.append([line('y'.repeat(300))], noteLogBytes);
    expect(writer.truncated).toBe(true);
    row = await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: run.id } });
    expect(row.logBytes).toBe(BigInt(second.bytes));
    expect(row.stdoutExcerpt).toBe(second.text);
    // Nothing more is stored, but the alongside writes still happen, in one statement.
    const before = counting.statements();
    await writer.append([line('after the cut')], (log) => [Prisma.sql`UPDATE heartbeat_runs SET log_bytes = ${log.end}, stderr_excerpt = 'still written' WHERE id = ${run.id}::uuid`]);
    expect(counting.statements()).toBe(before + 1);
    row = await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: run.id } });
    expect(row.logBytes).toBe(BigInt(second.bytes));
    expect(row.stderrExcerpt).toBe('still written');
  });
});

describe('the per-run cap', () => {
  it('stores whole lines up to the cap, then ONE marker line saying where the log was cut, and nothing after it', async () => {
    const maxBytes = 1_000;
    const counting = countingClient();
    const store = new RunLogStore(counting.client, { maxBytes });
    const run = await givenRun();
    const writer = store.writer(run);
    let stored = '';
    for (let flush = 0; flush < 20; flush++) stored += (await writer.append([line(`flush ${flush} ${'y'.repeat(60)}`)])).text;
    expect(writer.truncated).toBe(true);
    const log = (await store.read(run, 0, 1 << 20))!;
    expect(log.content).toBe(stored);
    const entries = log.content.trim().split('\n').map((text) => JSON.parse(text) as { stream: string; chunk: string });
    const markers = entries.filter((entry) => entry.stream === 'system');
    expect(markers).toHaveLength(1);
    expect(entries.at(-1)).toBe(markers[0]);
    const markerLine = `${log.content.trim().split('\n').at(-1)!}\n`;
    const cutAt = Buffer.byteLength(log.content) - Buffer.byteLength(markerLine);
    expect(cutAt).toBeLessThanOrEqual(maxBytes);
    expect(markers[0].chunk).toContain(`Run log truncated at ${cutAt} bytes`);
    // Later flushes store nothing and cost no statement.
    const before = counting.statements();
    expect(await writer.append([line('more output')])).toEqual({ bytes: writer.bytes, text: '' });
    expect(counting.statements()).toBe(before);
  });

  it('cuts inside a flush at the first line that does not fit', async () => {
    const lines = Array.from({ length: 10 }, (_, i) => line(`line ${i} ${'z'.repeat(40)}`));
    const lineBytes = Buffer.byteLength(`${JSON.stringify({ ts: new Date(0).toISOString(), stream: 'stdout', chunk: lines[0].chunk })}\n`);
    const store = new RunLogStore(prisma, { maxBytes: 3 * lineBytes + 10 });
    const run = await givenRun();
    const { text } = await store.writer(run).append(lines);
    const entries = text.trim().split('\n').map((entry) => JSON.parse(entry) as { stream: string; chunk: string });
    expect(entries.at(-1)!).toMatchObject({ stream: 'system', chunk: expect.stringContaining(`truncated at ${3 * lineBytes} bytes`) });
    expect(entries.slice(0, -1).map((entry) => entry.chunk.split(' ')[1])).toEqual(['0', '1', '2']);
  });
});

describe('retention', () => {
  it('deletes the logs of runs that ended before the cutoff, in batches, and keeps running and recent runs', async () => {
    const store = new RunLogStore(prisma);
    const now = new Date();
    const days = (n: number) => new Date(now.getTime() - n * 24 * 60 * 60 * 1000);
    const endedLongAgo = await givenRun({ finishedAt: days(40) });
    const endedLongAgoToo = await givenRun({ finishedAt: days(31) });
    const endedRecently = await givenRun({ finishedAt: days(2) });
    const stillRunning = await givenRun();
    const gone = { id: randomUUID(), companyId };
    for (const run of [endedLongAgo, endedLongAgoToo, endedRecently, stillRunning, gone]) {
      const writer = store.writer(run);
      for (let flush = 0; flush < 3; flush++) await writer.append([line(`flush ${flush}`)]);
    }
    // Their rows were written when they ran: all of them long ago, the running one's too.
    await prisma.runLogChunk.updateMany({ where: { runId: { in: [endedLongAgo.id, endedLongAgoToo.id, stillRunning.id, gone.id] } }, data: { createdAt: days(45) } });
    await prisma.runLogChunk.updateMany({ where: { runId: endedRecently.id }, data: { createdAt: days(3) } });

    // Batches of 2 rows: runs are cut between batches and found again.
    expect(await pruneRunLogs(prisma, runLogRetentionCutoff(now, 30), 2)).toBe(9);
    const left = await prisma.runLogChunk.groupBy({ by: ['runId'], _count: true, where: { runId: { in: [endedLongAgo.id, endedLongAgoToo.id, endedRecently.id, stillRunning.id, gone.id] } } });
    expect(Object.fromEntries(left.map((row) => [row.runId, row._count]))).toEqual({ [endedRecently.id]: 3, [stillRunning.id]: 3 });
    expect(await store.read(endedLongAgo, 0, 100)).toBeNull();
    expect((await store.read(stillRunning, 0, 1000))!.content).toContain('flush 2');
    expect(await pruneRunLogs(prisma, runLogRetentionCutoff(now, 30), 2)).toBe(0);
  });

  it('finds the runs to prune through the partial index on their first rows', async () => {
    const indexes = await withClient(database.url, (client) =>
      client.query<{ indexdef: string }>(`SELECT indexdef FROM pg_indexes WHERE indexname = 'run_log_chunks_first_row_created_idx'`),
    );
    expect(indexes.rows.map((row) => row.indexdef)).toEqual([expect.stringMatching(/\(created_at\) WHERE \(seq = 0\)$/)]);
  });
});

describe('runs logged before issue 11 (local_file)', () => {
  it('are read from the local file when this process has it, and have no log otherwise', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-run-logs-'));
    tempDirs.push(dir);
    const run = await prisma.heartbeatRun.create({ data: { companyId, agentId, status: 'succeeded', finishedAt: new Date(), logStore: 'local_file', logRef: `${companyId}/old.ndjson` } });
    const text = `${JSON.stringify({ ts: new Date(0).toISOString(), stream: 'stdout', chunk: 'from the file 🚀' })}\n`;
    await mkdir(path.join(dir, companyId), { recursive: true });
    await writeFile(path.join(dir, companyId, 'old.ndjson'), text);
    const withFile = new RunLogStore(prisma, { localFileDir: dir });
    const slices = await pageThrough(withFile, run, 3);
    expect(slices.map((slice) => slice.content).join('')).toBe(text);
    expect(await new RunLogStore(prisma, { localFileDir: path.join(dir, 'elsewhere') }).read(run, 0, 100)).toBeNull();
    expect(await new RunLogStore(prisma).read(run, 0, 100)).toBeNull();
  });
});
