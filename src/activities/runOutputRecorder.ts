/**
 * Streams an adapter's output into the run log file, `heartbeat_run_events` (event type `log`)
 * and the run's `lastOutput*` / `log*` columns. Chunks are batched so a chatty agent costs one
 * write every FLUSH_MS rather than one per line; the log's sha256 is kept as it grows.
 */
import { createHash } from 'node:crypto';
import type { PrismaClient } from '../store/db.ts';
import type { AdapterOutputChunk } from '../adapters/types.ts';
import type { RunLogStore } from '../store/runLogStore.ts';
import { appendRunEvents } from '../store/runEvents.ts';

const FLUSH_MS = 200;
/** heartbeat.run.log chunks are at most 8 KiB (API.md); events follow the same cap. */
const MAX_EVENT_CHUNK = 8 * 1024;

export class RunOutputRecorder {
  private pending: AdapterOutputChunk[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private seq = 0;
  private failure: unknown = null;
  private readonly logHash = createHash('sha256');

  constructor(
    private readonly prisma: PrismaClient,
    private readonly logStore: RunLogStore,
    private readonly run: { id: string; companyId: string; agentId: string; logRef: string },
    private readonly onFlushed: () => void,
  ) {}

  record(chunk: AdapterOutputChunk): void {
    this.pending.push(chunk);
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Writes everything recorded so far; safe to call concurrently (flushes are chained). */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.pending;
    this.pending = [];
    this.flushing = this.flushing.then(() => (batch.length ? this.write(batch) : undefined)).catch((error) => {
      this.failure ??= error;
    });
    return this.flushing;
  }

  /** Flushes and reports the first write error, if any. */
  async close(): Promise<void> {
    await this.flush();
    if (this.failure) throw this.failure;
  }

  private async write(batch: AdapterOutputChunk[]): Promise<void> {
    const pieces = batch.flatMap((chunk) => {
      const parts: AdapterOutputChunk[] = [];
      for (let i = 0; i < chunk.text.length; i += MAX_EVENT_CHUNK) {
        parts.push({ ...chunk, text: chunk.text.slice(i, i + MAX_EVENT_CHUNK) });
      }
      return parts;
    });
    const { bytes, text } = await this.logStore.append(
      this.run.logRef,
      pieces.map((p) => ({ ts: p.ts, stream: p.stream, chunk: p.text })),
    );
    this.logHash.update(text);
    await appendRunEvents(
      this.prisma,
      pieces.map((p) => ({
        companyId: this.run.companyId,
        runId: this.run.id,
        agentId: this.run.agentId,
        eventType: 'log',
        stream: p.stream,
        level: p.stream === 'stderr' ? 'warn' : 'info',
        message: p.text,
      })),
    );
    const last = pieces[pieces.length - 1];
    this.seq += pieces.length;
    await this.prisma.heartbeatRun.update({
      where: { id: this.run.id },
      data: {
        lastOutputAt: last.ts,
        lastOutputSeq: this.seq,
        lastOutputStream: last.stream,
        lastOutputBytes: BigInt(Buffer.byteLength(last.text)),
        logBytes: BigInt(bytes),
        logSha256: this.logHash.copy().digest('hex'),
      },
    });
    this.onFlushed();
  }
}
