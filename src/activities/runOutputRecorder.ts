/**
 * Streams an adapter's output into the run's log (PostgreSQL, src/store/runLogStore.ts), `heartbeat_run_events` (event type `log`, and
 * `agent.message` for what a coding-agent CLI's parser read from its stream) and the run's
 * `lastOutput*` / `log*` columns. Chunks are batched so a chatty agent costs two statements
 * every FLUSH_MS rather than writes per line (the log's INSERT; the events with the run's columns); the log's sha256
 * is kept as it grows. Past the log's cap (VIGIL_RUN_LOG_MAX_BYTES) the log stops growing, while
 * events and `lastOutput*` go on as before.
 */
import { createHash } from 'node:crypto';
import type { PrismaClient } from '../store/db.ts';
import type { AdapterOutputChunk } from '../adapters/types.ts';
import type { AgentStreamMessage } from '../adapters/agentStream.ts';
import { tailUtf8 } from '../adapters/processOutput.ts';
import type { RunLogStore, RunLogWriter } from '../store/runLogStore.ts';
import { appendRunEvents } from '../store/runEvents.ts';
import { outputFlushedWrites } from '../store/runExecutionWrites.ts';

const FLUSH_MS = 200;
/** heartbeat.run.log chunks are at most 8 KiB (API.md); events follow the same cap. */
const MAX_EVENT_CHUNK = 8 * 1024;

export class RunOutputRecorder {
  private pending: Array<AdapterOutputChunk | AgentStreamMessage> = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private seq = 0;
  private failure: unknown = null;
  private readonly logHash = createHash('sha256');
  private readonly log: RunLogWriter;

  constructor(
    private readonly prisma: PrismaClient,
    logStore: RunLogStore,
    /** `logRef` is informational: the store keys a run's log by its id. */
    private readonly run: { id: string; companyId: string; agentId: string; logRef?: string },
    private readonly onFlushed: () => void,
  ) {
    this.log = logStore.writer(run);
  }

  record(chunk: AdapterOutputChunk): void {
    this.pending.push(chunk);
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** A message the agent's CLI streamed (its text comes from redacted output). */
  recordAgentMessage(message: AgentStreamMessage): void {
    if (message.text.trim() === '') return;
    this.pending.push(message);
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

  private async write(batch: Array<AdapterOutputChunk | AgentStreamMessage>): Promise<void> {
    const events: Parameters<typeof appendRunEvents>[1] = [];
    const pieces: AdapterOutputChunk[] = [];
    for (const item of batch) {
      if (!('stream' in item)) {
        events.push({
          companyId: this.run.companyId,
          runId: this.run.id,
          agentId: this.run.agentId,
          eventType: 'agent.message',
          level: item.kind === 'error' ? 'warn' : 'info',
          message: tailUtf8(item.text, MAX_EVENT_CHUNK),
          payload: { kind: item.kind },
        });
        continue;
      }
      for (let i = 0; i < item.text.length; i += MAX_EVENT_CHUNK) {
        const piece = { ...item, text: item.text.slice(i, i + MAX_EVENT_CHUNK) };
        pieces.push(piece);
        events.push({
          companyId: this.run.companyId,
          runId: this.run.id,
          agentId: this.run.agentId,
          eventType: 'log',
          stream: piece.stream,
          level: piece.stream === 'stderr' ? 'warn' : 'info',
          message: piece.text,
        });
      }
    }
    if (pieces.length === 0) {
      await appendRunEvents(this.prisma, events);
      return this.onFlushed();
    }
    const last = pieces[pieces.length - 1];
    const seq = this.seq + pieces.length;
    const lines = pieces.map((p) => ({ ts: p.ts, stream: p.stream, chunk: p.text }));
    // One statement: the log's rows, the events, and the run's columns (the log's sha256 taken
    // over the text this flush stores).
    const { text } = await this.log.append(lines, (log) =>
      outputFlushedWrites(
        {
          runId: this.run.id,
          lastOutputAt: last.ts,
          lastOutputSeq: seq,
          lastOutputStream: last.stream,
          lastOutputBytes: Buffer.byteLength(last.text),
          logSha256: this.logHash.copy().update(log.text).digest('hex'),
          events,
        },
        log.end,
      ),
    );
    if (text) this.logHash.update(text);
    this.seq = seq;
    this.onFlushed();
  }
}
