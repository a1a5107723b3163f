/**
 * Streams an adapter's output into the run's log (PostgreSQL, src/store/runLogStore.ts), `heartbeat_run_events` (event type `log`, and
 * `agent.message` for what a coding-agent CLI's parser read from its stream) and the run's
 * `lastOutput*` / `log*` columns. Chunks are batched so a chatty agent costs two statements
 * every FLUSH_MS rather than writes per line (the log's INSERT; the events with the run's columns); the log's sha256
 * is kept as it grows. Past the log's cap (VIGIL_RUN_LOG_MAX_BYTES) the log stops growing, while
 * events and `lastOutput*` go on as before.
 *
 * Each flush also counts what it stored (the run's `recorded*` columns, same statement). A worker
 * that reattaches to a run's agent (issue 13) reads its output again from the first byte, so its
 * stream parser and tails see all of it; `resume()` makes this recorder skip what an earlier
 * worker already stored, so every piece of output is recorded once.
 */
import { createHash } from 'node:crypto';
import type { PrismaClient } from '../store/db.ts';
import type { AdapterOutputChunk } from '../adapters/types.ts';
import type { AgentStreamMessage } from '../adapters/agentStream.ts';
import { tailUtf8 } from '../adapters/processOutput.ts';
import type { RunLogStore, RunLogWriter } from '../store/runLogStore.ts';
import type { RunEventInput } from '../store/runEvents.ts';
import { outputFlushedWrites, readRecordedOutput, writeAgentMessagesFlushed } from '../store/runExecutionWrites.ts';

const FLUSH_MS = 200;
/** heartbeat.run.log chunks are at most 8 KiB (API.md); events follow the same cap. */
const MAX_EVENT_CHUNK = 8 * 1024;

export class RunOutputRecorder {
  private pending: Array<AdapterOutputChunk | AgentStreamMessage> = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private seq = 0;
  private failure: unknown = null;
  private logHash = createHash('sha256');
  private log: RunLogWriter;
  /** Output (UTF-16 units per stream) and agent messages stored before this recorder: not stored again. */
  private readonly skip = { stdout: 0, stderr: 0, agentMessages: 0 };

  constructor(
    private readonly prisma: PrismaClient,
    logStore: RunLogStore,
    /** `logRef` is informational: the store keys a run's log by its id. */
    private readonly run: { id: string; companyId: string; agentId: string; logRef?: string },
    private readonly onFlushed: () => void,
  ) {
    this.log = logStore.writer(run);
  }

  /**
   * Continues the run's record where an earlier worker left it (issue 13): the log's end, cap
   * and hash, the output sequence, and the counts of what is stored, all read in one statement
   * before any output of this attachment is recorded.
   */
  async resume(logStore: RunLogStore): Promise<void> {
    const stored = await readRecordedOutput(this.prisma, this.run.id);
    this.log = logStore.writer(this.run, { bytes: stored.logBytes, text: stored.logText });
    this.logHash = createHash('sha256').update(stored.logText);
    this.seq = stored.lastOutputSeq;
    this.skip.stdout = stored.stdoutChars;
    this.skip.stderr = stored.stderrChars;
    this.skip.agentMessages = stored.agentMessages;
  }

  record(chunk: AdapterOutputChunk): void {
    const skip = this.skip[chunk.stream];
    if (skip > 0) {
      if (chunk.text.length <= skip) {
        this.skip[chunk.stream] = skip - chunk.text.length;
        return;
      }
      this.skip[chunk.stream] = 0;
      chunk = { ...chunk, text: chunk.text.slice(skip) };
    }
    this.pending.push(chunk);
    this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** A message the agent's CLI streamed (its text comes from redacted output). */
  recordAgentMessage(message: AgentStreamMessage): void {
    if (message.text.trim() === '') return;
    if (this.skip.agentMessages > 0) {
      this.skip.agentMessages--;
      return;
    }
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
    const events: RunEventInput[] = [];
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
    const recorded = {
      stdoutChars: batch.reduce((sum, item) => sum + ('stream' in item && item.stream === 'stdout' ? item.text.length : 0), 0),
      stderrChars: batch.reduce((sum, item) => sum + ('stream' in item && item.stream === 'stderr' ? item.text.length : 0), 0),
      agentMessages: batch.filter((item) => !('stream' in item)).length,
    };
    if (pieces.length === 0) {
      await writeAgentMessagesFlushed(this.prisma, this.run.id, events, recorded);
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
          recorded,
        },
        log.end,
      ),
    );
    if (text) this.logHash.update(text);
    this.seq = seq;
    this.onFlushed();
  }
}
