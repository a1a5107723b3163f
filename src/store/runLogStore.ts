/**
 * Full run logs in PostgreSQL (issue 11), so every API process reads every run's log, while the
 * run runs and after it ended. `heartbeat_runs.logStore = 'postgres'`; `logRef` =
 * `<companyId>/<runId>`, the key of the run's rows (reads go by the run's id).
 *
 * A log is NDJSON, one `{ts, stream, chunk}` line per output piece (already redacted by the
 * adapter), kept in `run_log_chunks` rows of whole lines, each with the byte offset of its first
 * byte, which is what `GET /heartbeat-runs/:runId/log` pages by.
 * - Append: ONE statement per recorder flush, whatever its size (a big flush becomes several rows
 *   of at most ROW_BYTES, in the same INSERT), which also carries the recorder's other writes. The rows' seq and offset continue the run's last
 *   row inside that statement, so offsets stay contiguous without any state in this process; two
 *   appends of one run must not overlap (one recorder per run, its flushes chained): if they did,
 *   one would fail on the primary key rather than corrupt the offsets.
 * - Read: one statement over the (run_id, byte_offset) index: the log's end, the row holding
 *   `offset`, and the rows after it up to `offset + limitBytes`; sliced as runLogSlice.ts says.
 * - Cap: a run's writer stores at most `maxBytes`, then one marker line (domain/runLogBounds.ts).
 * - Runs logged before issue 11 (`local_file`) are read from this process's `<dataDir>/run-logs`
 *   when it has the file, else they have no log here (404): localFileRunLog.ts.
 */
import { Prisma, type PrismaClient } from './db.ts';
import { DEFAULT_RUN_LOG_MAX_BYTES, VIGIL_LOG_STREAM, fitRunLogCap, runLogTexts } from '../domain/runLogBounds.ts';
import { LOCAL_FILE_LOG_STORE, readLocalFileRunLog } from './localFileRunLog.ts';
import { runLogSlice, runLogWindowLength, UTF8_CARRY_BYTES, type RunLogSlice } from './runLogSlice.ts';

export const LOG_STORE = 'postgres';

export function runLogRef(companyId: string, runId: string): string {
  return `${companyId}/${runId}`;
}

/** A flush's rows are cut (between lines) at about this size, so a read never fetches much more than it serves. */
export const ROW_BYTES = 64 * 1024;

export interface RunLogLine {
  ts: Date;
  stream: string;
  chunk: string;
}

export interface RunLogStoreOptions {
  /** Per-run cap (VIGIL_RUN_LOG_MAX_BYTES); default in domain/runLogBounds.ts. */
  maxBytes?: number;
  /** Where logs from before issue 11 are (`<dataDir>/run-logs`); none when null. */
  localFileDir?: string | null;
}

export class RunLogStore {
  readonly maxBytes: number;
  private readonly localFileDir: string | null;

  constructor(
    private readonly prisma: PrismaClient,
    options: RunLogStoreOptions = {},
  ) {
    this.maxBytes = options.maxBytes ?? DEFAULT_RUN_LOG_MAX_BYTES;
    this.localFileDir = options.localFileDir ?? null;
  }

  /**
   * The appending side of one run's log (its recorder's); `stored` continues a log an earlier
   * worker began (issue 13): its size and text, which say whether it was already cut.
   */
  writer(run: { id: string; companyId: string }, stored?: { bytes: number; text: string }): RunLogWriter {
    const writer = new RunLogWriter(this.prisma, run, this.maxBytes);
    if (stored) writer.continueAfter(stored.bytes, stored.text.includes(`"stream":${JSON.stringify(VIGIL_LOG_STREAM)}`));
    return writer;
  }

  /**
   * Up to `limitBytes` of the run's log from `offset` (runLogSlice.ts); null when the run has no
   * log (yet), or only a local file this process does not have.
   */
  async read(run: { id: string; logStore: string | null; logRef: string | null }, offset: number, limitBytes: number): Promise<RunLogSlice | null> {
    if (run.logStore === LOCAL_FILE_LOG_STORE) {
      return run.logRef && this.localFileDir ? readLocalFileRunLog(this.localFileDir, run.logRef, offset, limitBytes) : null;
    }
    // Any other store (null included: output may land before `logStore` is written) is this one.
    const rows = await this.prisma.$queryRaw<Array<{ log_end: bigint; byte_offset: bigint | null; content: string | null }>>`
      SELECT tail.log_end, piece.byte_offset, piece.content
      FROM (
        SELECT byte_offset + byte_length AS log_end FROM run_log_chunks
        WHERE run_id = ${run.id}::uuid ORDER BY seq DESC LIMIT 1
      ) AS tail
      LEFT JOIN LATERAL (
        SELECT byte_offset, content FROM run_log_chunks
        WHERE run_id = ${run.id}::uuid
          AND ${offset}::int8 < tail.log_end
          AND byte_offset >= coalesce((SELECT max(byte_offset) FROM run_log_chunks WHERE run_id = ${run.id}::uuid AND byte_offset <= ${offset}::int8), 0)
          AND byte_offset < ${offset + limitBytes + UTF8_CARRY_BYTES}::int8
      ) AS piece ON true
      ORDER BY piece.byte_offset`;
    if (rows.length === 0) return null;
    const size = Number(rows[0].log_end);
    const pieces = rows.filter((row): row is { log_end: bigint; byte_offset: bigint; content: string } => row.content !== null);
    if (pieces.length === 0) return runLogSlice(Buffer.alloc(0), offset, limitBytes, size);
    const bytes = Buffer.concat(pieces.map((piece) => Buffer.from(piece.content, 'utf8')));
    const start = offset - Number(pieces[0].byte_offset);
    return runLogSlice(bytes.subarray(start, start + runLogWindowLength(offset, limitBytes, size)), offset, limitBytes, size);
  }
}

/**
 * Appends one run's lines, one INSERT per call, up to the cap: the lines that would pass it are
 * dropped, one marker line says where the log was cut, and later calls store nothing (no
 * statement). The run itself is not affected.
 */
export class RunLogWriter {
  private stored = 0;
  private cut = false;

  constructor(
    private readonly prisma: PrismaClient,
    private readonly run: { id: string; companyId: string },
    private readonly maxBytes: number,
  ) {}

  /** A log begun by an earlier writer: appends continue after its `bytes`, and store nothing if it was cut. */
  continueAfter(bytes: number, cut: boolean): void {
    this.stored = bytes;
    this.cut = cut;
  }

  /** The log's size after the last append (0 before the first). */
  get bytes(): number {
    return this.stored;
  }

  get truncated(): boolean {
    return this.cut;
  }

  /**
   * Returns the log's size and the text this call stored ('' once the log was cut). `alongside`
   * gives data-modifying statements (an INSERT or UPDATE each) that run in the same statement as
   * the append, told the text being stored and the log's end offset after it (as SQL) — the
   * recorder writes the run's columns and the flush's events so, one round trip per flush. They
   * run even when nothing is stored.
   */
  async append(lines: RunLogLine[], alongside: (log: { end: Prisma.Sql; text: string }) => Prisma.Sql[] = () => []): Promise<{ bytes: number; text: string }> {
    const keep = this.cut ? { kept: [], sizes: [] } : this.fit(lines);
    const end = keep.kept.length > 0 ? Prisma.sql`(SELECT end_offset FROM appended)` : Prisma.sql`${this.stored}::int8`;
    const others = alongside({ end, text: keep.kept.join('') });
    if (keep.kept.length === 0) {
      if (others.length > 0) await this.prisma.$executeRaw`WITH ${Prisma.join(others.map((sql, i) => Prisma.sql`${Prisma.raw(`alongside_${i}`)} AS (${sql})`))} SELECT 1`;
      return { bytes: this.stored, text: '' };
    }
    this.stored = await this.insert(packRows(keep.kept, keep.sizes), others);
    return { bytes: this.stored, text: keep.kept.join('') };
  }

  /** The lines that fit under the cap, encoded, and the marker line when this append reaches it. */
  private fit(lines: RunLogLine[]): { kept: string[]; sizes: number[] } {
    const encoded = lines.map(ndjsonLine);
    const sizes = encoded.map((line) => Buffer.byteLength(line));
    const fit = fitRunLogCap(this.stored, sizes, this.maxBytes);
    const kept = encoded.slice(0, fit.keep);
    const keptSizes = sizes.slice(0, fit.keep);
    if (fit.truncatedAt !== null) {
      const marker = ndjsonLine({ ts: new Date(), stream: VIGIL_LOG_STREAM, chunk: runLogTexts.truncated(fit.truncatedAt, this.maxBytes) });
      kept.push(marker);
      keptSizes.push(Buffer.byteLength(marker));
      this.cut = true;
    }
    return { kept, sizes: keptSizes };
  }

  private async insert(rows: { rel: number[]; len: number[]; content: string[] }, alongside: Prisma.Sql[]): Promise<number> {
    const others = alongside.map((sql, i) => Prisma.sql`, ${Prisma.raw(`alongside_${i}`)} AS (${sql})`);
    const [{ end_offset: end }] = await this.prisma.$queryRaw<Array<{ end_offset: bigint }>>`
      WITH last AS (
        SELECT seq, byte_offset + byte_length AS end_offset FROM run_log_chunks
        WHERE run_id = ${this.run.id}::uuid ORDER BY seq DESC LIMIT 1
      ), base AS (
        SELECT coalesce((SELECT seq + 1 FROM last), 0) AS seq, coalesce((SELECT end_offset FROM last), 0) AS end_offset
      ), inserted AS (
        INSERT INTO run_log_chunks (run_id, company_id, seq, byte_offset, byte_length, content)
        SELECT ${this.run.id}::uuid, ${this.run.companyId}::uuid, (base.seq + piece.n - 1)::int4, base.end_offset + piece.rel, piece.len, piece.content
        FROM base, unnest(${rows.rel}::int8[], ${rows.len}::int4[], ${rows.content}::text[]) WITH ORDINALITY AS piece(rel, len, content, n)
        RETURNING byte_offset + byte_length AS end_offset
      ), appended AS (
        SELECT max(end_offset) AS end_offset FROM inserted
      )${others.length > 0 ? Prisma.join(others, '') : Prisma.empty}
      SELECT end_offset FROM appended`;
    return Number(end);
  }
}

function ndjsonLine(line: RunLogLine): string {
  return JSON.stringify({ ts: line.ts.toISOString(), stream: line.stream, chunk: line.chunk }) + '\n';
}

/** Whole lines grouped into rows of about ROW_BYTES (a longer line is a row of its own); offsets relative to the first. */
function packRows(lines: string[], sizes: number[]): { rel: number[]; len: number[]; content: string[] } {
  const rows = { rel: [] as number[], len: [] as number[], content: [] as string[] };
  let offset = 0;
  let open: string[] = [];
  let openBytes = 0;
  const close = () => {
    if (open.length === 0) return;
    rows.rel.push(offset);
    rows.len.push(openBytes);
    rows.content.push(open.join(''));
    offset += openBytes;
    open = [];
    openBytes = 0;
  };
  lines.forEach((line, i) => {
    if (openBytes > 0 && openBytes + sizes[i] > ROW_BYTES) close();
    open.push(line);
    openBytes += sizes[i];
  });
  close();
  return rows;
}
