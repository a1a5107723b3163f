/**
 * `npm run bench:logs`: what storing a run's log in PostgreSQL (issue 11) costs per run, beside
 * the local NDJSON file it replaced (the baseline), measured in the same invocation.
 *
 * A typical run's log: FLUSHES recorder flushes adding up to about BYTES of NDJSON (default 200
 * flushes, 1 MiB), lines of ~100 characters with some multibyte ones.
 * 1. Append: each flush through RunLogWriter.append (one INSERT) against the code before issue 11
 *    (open the file for append, write, stat, close). Runs alternate which store goes first.
 * 2. Read back: the whole log paged through RunLogStore.read at the route's default limit
 *    (256,000 bytes) and at 16 KiB (a board following a live run), against readLocalFileRunLog.
 * 3. Space: the table's size (heap, TOAST, indexes) per run against the file's size.
 *
 * Usage: npm run bench:logs [-- --runs 20 --flushes 200 --bytes 1048576]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startEmbeddedPostgres } from '../src/store/embeddedPostgres.ts';
import { applyMigrations } from '../src/store/migrate.ts';
import { createPrismaClient } from '../src/store/db.ts';
import { findFreePorts } from '../src/platform/freePorts.ts';
import { RunLogStore, type RunLogLine } from '../src/store/runLogStore.ts';
import { readLocalFileRunLog } from '../src/store/localFileRunLog.ts';
import { DEFAULT_RUN_LOG_MAX_BYTES } from '../src/domain/runLogBounds.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' }, flushes: { type: 'string', default: '200' }, bytes: { type: 'string', default: String(1024 * 1024) } } });
const RUNS = Number(values.runs);
const FLUSHES = Number(values.flushes);
const BYTES = Number(values.bytes);

const say = (line: string) => process.stdout.write(`${line}\n`);
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
const stats = (samples: number[]) => {
  const sorted = [...samples].sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p90: percentile(sorted, 0.9), p99: percentile(sorted, 0.99) };
};
const ms = (value: number) => `${value.toFixed(2)} ms`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}×`;

/** The NDJSON line of one output piece, as both stores write it. */
const ndjson = (line: RunLogLine) => JSON.stringify({ ts: line.ts.toISOString(), stream: line.stream, chunk: line.chunk }) + '\n';

/** One flush of a chatty agent: lines of ~100 characters, some with 2-, 3- and 4-byte characters. */
function flushLines(flush: number): RunLogLine[] {
  const target = BYTES / FLUSHES;
  const lines: RunLogLine[] = [];
  let bytes = 0;
  for (let i = 0; bytes < target; i++) {
    // A random id per line, so the text compresses about as well as real output, not better.
    const id = randomBytes(8).toString('hex');
    const text = i % 5 === 0 ? `step ${flush}.${i} ${id}: wrote café.ts → ok ✓ 🚀 ${'é'.repeat(20)} ${'-'.repeat(30)}` : `step ${flush}.${i} ${id}: running npm test -- --filter module-${i} ${'.'.repeat(40)}`;
    const line = { ts: new Date(), stream: i % 7 === 0 ? 'stderr' : 'stdout', chunk: text };
    lines.push(line);
    bytes += Buffer.byteLength(ndjson(line));
  }
  return lines;
}

/** The append of the local-file store before issue 11 (src/store/runLogStore.ts at 0e31221). */
async function appendToFile(file: string, lines: RunLogLine[]): Promise<number> {
  await mkdir(path.dirname(file), { recursive: true });
  const handle = await open(file, 'a');
  try {
    await handle.write(lines.map(ndjson).join(''));
    return (await handle.stat()).size;
  } finally {
    await handle.close();
  }
}

async function pageAll(read: (offset: number) => Promise<{ content: string; nextOffset: number | null } | null>): Promise<string> {
  const parts: string[] = [];
  let offset: number | null = 0;
  while (offset !== null) {
    const slice: { content: string; nextOffset: number | null } | null = await read(offset);
    if (!slice) throw new Error('no log');
    parts.push(slice.content);
    offset = slice.nextOffset;
  }
  return parts.join('');
}

const root = await mkdtemp(path.join(os.tmpdir(), 'vigil-bench-logs-'));
const [port] = await findFreePorts(1);
// The temp folder itself is the data dir (as bench/servers.ts does): a folder below it would be
// out of the postgres user's reach when run as root, and its cluster would go to /var/lib/vigil.
const server = await startEmbeddedPostgres({ dataDir: root, port, log: () => undefined });
try {
  await applyMigrations(server.databaseUrl);
  const prisma = createPrismaClient(server.databaseUrl, 4);
  const store = new RunLogStore(prisma, { maxBytes: DEFAULT_RUN_LOG_MAX_BYTES });
  const fileRoot = path.join(root, 'run-logs');
  const companyId = randomUUID();
  const flushes = Array.from({ length: FLUSHES }, (_, i) => flushLines(i));
  const logBytes = flushes.reduce((sum, lines) => sum + lines.reduce((bytes, line) => bytes + Buffer.byteLength(ndjson(line)), 0), 0);
  say(`${RUNS} runs of ${FLUSHES} flushes, ${logBytes} bytes of NDJSON each (${flushes[0].length} lines per flush)`);

  const perFlush = { pg: [] as number[], file: [] as number[] };
  const perRun = { pg: [] as number[], file: [] as number[] };
  const readDefault = { pg: [] as number[], file: [] as number[] };
  const readSmall = { pg: [] as number[], file: [] as number[] };
  const runs: Array<{ id: string; logRef: string }> = [];
  for (let r = 0; r < RUNS + 2; r++) {
    const warmUp = r < 2;
    const run = { id: randomUUID(), companyId };
    const logRef = `${companyId}/${run.id}.ndjson`;
    const file = path.join(fileRoot, logRef);
    const writer = store.writer(run);
    const appendPg = async () => {
      const started = performance.now();
      for (const lines of flushes) {
        const at = performance.now();
        await writer.append(lines);
        if (!warmUp) perFlush.pg.push(performance.now() - at);
      }
      if (!warmUp) perRun.pg.push(performance.now() - started);
    };
    const appendFile = async () => {
      const started = performance.now();
      for (const lines of flushes) {
        const at = performance.now();
        await appendToFile(file, lines);
        if (!warmUp) perFlush.file.push(performance.now() - at);
      }
      if (!warmUp) perRun.file.push(performance.now() - started);
    };
    if (r % 2 === 0) {
      await appendPg();
      await appendFile();
    } else {
      await appendFile();
      await appendPg();
    }
    if (writer.bytes !== logBytes || (await stat(file)).size !== logBytes) throw new Error(`run ${r}: ${writer.bytes} / ${(await stat(file)).size} bytes, expected ${logBytes}`);
    if (!warmUp) runs.push({ id: run.id, logRef });
  }

  for (const [limit, samples] of [[256_000, readDefault], [16 * 1024, readSmall]] as const) {
    for (const [i, run] of runs.entries()) {
      const row = { id: run.id, logStore: 'postgres', logRef: null };
      const reads = [
        async () => {
          const started = performance.now();
          const text = await pageAll((offset) => store.read(row, offset, limit));
          samples.pg.push(performance.now() - started);
          return text;
        },
        async () => {
          const started = performance.now();
          const text = await pageAll((offset) => readLocalFileRunLog(fileRoot, run.logRef, offset, limit));
          samples.file.push(performance.now() - started);
          return text;
        },
      ];
      const [first, second] = i % 2 === 0 ? reads : [...reads].reverse();
      const texts = [await first(), await second()];
      if (texts[0] !== texts[1] || Buffer.byteLength(texts[0]) !== logBytes) throw new Error(`run ${run.id}: the two stores read back different logs`);
    }
  }

  const [space] = await prisma.$queryRaw<Array<{ total: bigint; heap: bigint; toast: bigint; indexes: bigint; rows: bigint }>>`
    SELECT pg_total_relation_size('run_log_chunks') AS total, pg_relation_size('run_log_chunks') AS heap,
           coalesce(pg_total_relation_size(nullif(reltoastrelid, 0)), 0) AS toast, pg_indexes_size('run_log_chunks') AS indexes,
           (SELECT count(*) FROM run_log_chunks) AS rows
    FROM pg_class WHERE relname = 'run_log_chunks'`;
  const allRuns = RUNS + 2;

  const append = { pg: stats(perRun.pg), file: stats(perRun.file) };
  const flush = { pg: stats(perFlush.pg), file: stats(perFlush.file) };
  const reads = { pg: stats(readDefault.pg), file: stats(readDefault.file) };
  const small = { pg: stats(readSmall.pg), file: stats(readSmall.file) };
  const pages = (limit: number) => Math.ceil(logBytes / limit);
  say('');
  say('| figure (p50 / p90) | PostgreSQL | local file (baseline) | ratio p50 |');
  say('|---|---|---|---|');
  say(`| append a run's log (${FLUSHES} flushes) | ${ms(append.pg.p50)} / ${ms(append.pg.p90)} | ${ms(append.file.p50)} / ${ms(append.file.p90)} | ${ratio(append.pg.p50, append.file.p50)} |`);
  say(`| one flush (p50 / p99) | ${ms(flush.pg.p50)} / ${ms(flush.pg.p99)} | ${ms(flush.file.p50)} / ${ms(flush.file.p99)} | ${ratio(flush.pg.p50, flush.file.p50)} |`);
  say(`| read it all, 256,000-byte pages (${pages(256_000)}) | ${ms(reads.pg.p50)} / ${ms(reads.pg.p90)} | ${ms(reads.file.p50)} / ${ms(reads.file.p90)} | ${ratio(reads.pg.p50, reads.file.p50)} |`);
  say(`| read it all, 16 KiB pages (${pages(16 * 1024)}) | ${ms(small.pg.p50)} / ${ms(small.pg.p90)} | ${ms(small.file.p50)} / ${ms(small.file.p90)} | ${ratio(small.pg.p50, small.file.p50)} |`);
  say(`| one 16 KiB page | ${ms(small.pg.p50 / pages(16 * 1024))} | ${ms(small.file.p50 / pages(16 * 1024))} | ${ratio(small.pg.p50, small.file.p50)} |`);
  say(
    `| space per run | ${(Number(space.total) / allRuns / 1024).toFixed(0)} KiB (heap ${(Number(space.heap) / allRuns / 1024).toFixed(0)}, TOAST ${(Number(space.toast) / allRuns / 1024).toFixed(0)}, indexes ${(Number(space.indexes) / allRuns / 1024).toFixed(0)}; ${Number(space.rows) / allRuns} rows) | ${(logBytes / 1024).toFixed(0)} KiB | ${ratio(Number(space.total) / allRuns, logBytes)} |`,
  );
  await prisma.$disconnect();
} finally {
  await server.stop();
  await rm(root, { recursive: true, force: true });
}
