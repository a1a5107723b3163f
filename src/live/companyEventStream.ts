/**
 * One board's SSE connection to its company's live channel.
 *
 * Resuming (`Last-Event-ID: n`) without duplicates or gaps: in one synchronous step the stream
 * notes the hub's high-water mark h and subscribes, holding live events back. It then replays the
 * company's rows in (n, h] from the table — every id up to h is settled, see highWaterMark.ts —
 * and releases the held live events, which are all above h. Each stream also remembers the last
 * id it sent and never sends one at or below it, so a board that was ahead of this process (it
 * was served by a faster one before) gets no repeats either.
 *
 * A board that stops reading is not buffered for: once its unsent bytes pass `maxBufferedBytes`
 * the connection is dropped, and the board reconnects with the last id it actually received.
 */
import type { PrismaClient } from '../store/db.ts';
import type { Logger } from '../logger.ts';
import type { LiveEventHub, LiveEventSubscriber } from './liveEventHub.ts';
import type { LiveEvent } from './liveEventTypes.ts';
import { oldestLiveEventId, readCompanyLiveEvents } from './liveEventStore.ts';
import { commentFrame, liveEventFrame, retryFrame, unnumberedFrame } from './sseFrames.ts';

export const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache, no-transform',
  Connection: 'keep-alive',
  // nginx and friends would otherwise buffer the stream.
  'X-Accel-Buffering': 'no',
} as const;

export interface CompanyEventStreamSettings {
  /** Unsent bytes (socket buffer included) above which a slow board is dropped. */
  maxBufferedBytes: number;
  /** A comment every so often keeps idle proxies from closing the stream. */
  keepAliveMs: number;
  /** The `retry:` hint: how long a board waits before reconnecting. */
  retryMs: number;
  /** Rows per replay query. */
  replayPageSize: number;
}

export const DEFAULT_STREAM_SETTINGS: CompanyEventStreamSettings = {
  maxBufferedBytes: 2 * 1024 * 1024,
  keepAliveMs: 15_000,
  retryMs: 2_000,
  replayPageSize: 200,
};

/** The part of an http.ServerResponse the stream uses (a fake in unit tests). */
export interface SseResponse {
  writeHead(status: number, headers: Record<string, string>): unknown;
  flushHeaders(): void;
  write(chunk: string): boolean;
  readonly writableLength: number;
  /** A write returned false and 'drain' has not fired yet. */
  readonly writableNeedDrain: boolean;
  end(): unknown;
  destroy(): unknown;
  once(event: 'drain' | 'close', listener: () => void): unknown;
  removeListener(event: 'drain' | 'close', listener: () => void): unknown;
}

export interface ServeCompanyEventsInput {
  hub: LiveEventHub;
  prisma: PrismaClient;
  logger: Logger;
  res: SseResponse;
  companyId: string;
  /** From `Last-Event-ID`; null for a fresh connection (live events from now on). */
  lastEventId: number | null;
  settings?: Partial<CompanyEventStreamSettings>;
}

/** Streams until the board disconnects or the hub stops; resolves once the replay is done. */
export async function serveCompanyEvents(input: ServeCompanyEventsInput): Promise<CompanyEventStream> {
  const settings = { ...DEFAULT_STREAM_SETTINGS, ...input.settings };
  const { hub, res, companyId } = input;
  await hub.ready();
  res.writeHead(200, { ...SSE_HEADERS });
  res.flushHeaders();

  // One synchronous step: everything above `upTo` reaches the stream live, nothing at or below.
  const upTo = hub.highWater;
  const replayFrom = input.lastEventId;
  const stream = new CompanyEventStream(res, settings, replayFrom ?? upTo, replayFrom !== null && replayFrom < upTo, input.logger);
  stream.attach(hub.subscribe(companyId, stream));
  stream.writeRaw(retryFrame(settings.retryMs));

  if (replayFrom !== null && replayFrom < upTo) {
    try {
      await replay(stream, input.prisma, companyId, replayFrom, upTo, settings.replayPageSize);
      stream.releaseHeld();
    } catch (error) {
      input.logger.warn('live events: replay failed; closing the stream', { error: error instanceof Error ? error.message : String(error) });
      stream.close();
    }
  }
  return stream;
}

async function replay(stream: CompanyEventStream, prisma: PrismaClient, companyId: string, afterId: number, upTo: number, pageSize: number) {
  const oldest = await oldestLiveEventId(prisma);
  if (oldest === null || oldest > afterId + 1) {
    // Retention may have pruned events after the board's last id: it should refetch from REST.
    stream.writeRaw(unnumberedFrame('live.resync', { reason: 'events after Last-Event-ID may have been pruned', oldestRetainedId: oldest }));
  }
  let after = afterId;
  while (!stream.closed) {
    const page = await readCompanyLiveEvents(prisma, companyId, after, upTo, pageSize);
    for (const event of page) stream.sendReplayed(event);
    if (page.length < pageSize) return;
    after = page[page.length - 1].id;
    await stream.drained();
  }
}

export class CompanyEventStream implements LiveEventSubscriber {
  private held: Array<{ event: LiveEvent; frame: string }> | null;
  private heldBytes = 0;
  private unsubscribe: (() => void) | null = null;
  private readonly keepAlive: NodeJS.Timeout;
  private readonly onClose = () => this.dispose();
  closed = false;
  /** Why the stream was dropped, when it was (a slow board). */
  dropReason: string | null = null;

  constructor(
    private readonly res: SseResponse,
    private readonly settings: CompanyEventStreamSettings,
    private lastSentId: number,
    holdLive: boolean,
    private readonly logger: Logger,
  ) {
    this.held = holdLive ? [] : null;
    this.keepAlive = setInterval(() => this.writeRaw(commentFrame('keep-alive')), settings.keepAliveMs);
    this.keepAlive.unref();
    res.once('close', this.onClose);
  }

  attach(unsubscribe: () => void): void {
    if (this.closed) unsubscribe();
    else this.unsubscribe = unsubscribe;
  }

  /** From the hub: ids strictly increasing. */
  deliver(event: LiveEvent, frame: string): void {
    if (this.closed || event.id <= this.lastSentId) return;
    if (this.held) {
      this.held.push({ event, frame });
      this.heldBytes += frame.length;
      if (this.heldBytes > this.settings.maxBufferedBytes) this.drop('live events piled up during the replay');
      return;
    }
    this.send(event.id, frame);
  }

  sendReplayed(event: LiveEvent): void {
    if (this.closed || event.id <= this.lastSentId) return;
    // The replay waits for the socket to drain between pages: its own volume is not a slow board.
    this.res.write(liveEventFrame(event));
    this.lastSentId = event.id;
  }

  /** After the replay: the live events that arrived meanwhile, all above the replayed range. */
  releaseHeld(): void {
    const held = this.held ?? [];
    this.held = null;
    this.heldBytes = 0;
    for (const { event, frame } of held) {
      if (this.closed) return;
      if (event.id > this.lastSentId) this.send(event.id, frame);
    }
  }

  writeRaw(frame: string): void {
    if (this.closed) return;
    this.res.write(frame);
    if (this.res.writableLength > this.settings.maxBufferedBytes) this.drop('the board stopped reading');
  }

  /** Resolves when the socket has taken what was written (or the stream closed). */
  drained(): Promise<void> {
    if (this.closed || !this.res.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.res.removeListener('drain', done);
        this.res.removeListener('close', done);
        resolve();
      };
      this.res.once('drain', done);
      this.res.once('close', done);
    });
  }

  /** The hub is stopping: end the stream cleanly (the board will reconnect elsewhere). */
  close(): void {
    if (this.closed) return;
    this.dispose();
    this.res.end();
  }

  private send(id: number, frame: string): void {
    this.res.write(frame);
    this.lastSentId = id;
    if (this.res.writableLength > this.settings.maxBufferedBytes) this.drop('the board stopped reading');
  }

  private drop(reason: string): void {
    if (this.closed) return;
    this.dropReason = reason;
    this.logger.info('live events: dropped a slow board connection; it will resume with Last-Event-ID', {
      reason,
      lastSentId: this.lastSentId,
      maxBufferedBytes: this.settings.maxBufferedBytes,
    });
    this.dispose();
    this.res.destroy();
  }

  private dispose(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.keepAlive);
    this.res.removeListener('close', this.onClose);
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.held = null;
  }
}
