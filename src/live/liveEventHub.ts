/**
 * One per API process: follows `live_events` and fans each new row out to this process's SSE
 * connections of the row's company.
 *
 * Events come from the database, never from this process's memory: the transaction that writes a
 * run, an agent or an issue — in the worker, a sweep, or another API process — also writes the
 * live event (migration `live_events`) and notifies `vigil_live_events`, delivered on commit. A
 * dedicated connection LISTENs (reconnecting with backoff when it drops); every notification, a
 * slow fallback poll and each reconnect trigger one read of the rows after the high-water mark,
 * in id order. Reads never overlap, so every subscriber sees ids strictly increasing, each once.
 * Ids that commit out of order are held back by `advanceHighWater` (see highWaterMark.ts) until
 * they commit or are known never to: nothing that commits is ever skipped.
 *
 * With no board connected to this process the hub does not read at all (each read costs the
 * database and this process's event loop a few milliseconds, measured as ~20 ms more per run at
 * one run in flight: BENCHMARKS.md); it only notes that it is behind, and `ready()` settles it at
 * the newest row before the next board subscribes: it waits until every transaction that might
 * still commit a lower id has ended, so the board starts from a mark nothing can appear below.
 */
import pg from 'pg';
import type { PrismaClient } from '../store/db.ts';
import type { Logger } from '../logger.ts';
import { advanceHighWater, hasFinished, possibleWriters, type HighWaterState, type PendingGap } from './highWaterMark.ts';
import { pruneLiveEvents, readLiveEventsAfter, readLiveEventsHead, readTxSnapshot } from './liveEventStore.ts';
import type { LiveEvent } from './liveEventTypes.ts';
import { liveEventFrame } from './sseFrames.ts';

/** The channel the migration's triggers notify. */
export const LIVE_EVENTS_CHANNEL = 'vigil_live_events';

/** `application_name` of the LISTEN connection, so pg_stat_activity tells which process it serves. */
export const listenerApplicationName = (pid = process.pid) => `vigil live events (pid ${pid})`;

export interface LiveEventSubscriber {
  /** An event of the subscribed company, with its SSE frame (built once for all subscribers). */
  deliver(event: LiveEvent, frame: string): void;
  /** The hub is stopping. */
  close(): void;
}

export interface LiveEventHubOptions {
  prisma: PrismaClient;
  /** The LISTEN connection is a plain `pg` client of its own, outside Prisma's pool. */
  databaseUrl: string;
  logger: Logger;
  /** Rows older than this are pruned (default 24 h): how long a board may stay away and resume. */
  retentionMs?: number;
  /** How often retention runs (default 1 h; the first run is one minute after start). */
  pruneIntervalMs?: number;
  /** Fallback read when no notification came (a dropped LISTEN connection); default 5 s. */
  pollIntervalMs?: number;
  /** While a gap (or a catch-up) waits on open transactions, look again this often (default 50 ms). */
  gapRecheckMs?: number;
  /** A wait on open transactions longer than this is logged once (default 5 s); it is never cut short. */
  slowWaitWarnMs?: number;
  /** Rows per read (default 500). */
  batchSize?: number;
  now?: () => number;
}

const DEFAULTS = {
  retentionMs: 24 * 60 * 60 * 1000,
  pruneIntervalMs: 60 * 60 * 1000,
  pollIntervalMs: 5_000,
  gapRecheckMs: 50,
  slowWaitWarnMs: 5_000,
  batchSize: 500,
};
const FIRST_PRUNE_DELAY_MS = 60_000;
const RECONNECT_MIN_MS = 500;
const RECONNECT_MAX_MS = 30_000;

export class LiveEventHub {
  private readonly settings: typeof DEFAULTS;
  private readonly now: () => number;
  private state: HighWaterState = { highWater: 0, gap: null };
  private readonly subscribers = new Map<string, Set<LiveEventSubscriber>>();
  private listener: pg.Client | null = null;
  private reconnectAttempts = 0;
  private reading: Promise<void> | null = null;
  private readAgain = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private gapTimer: NodeJS.Timeout | null = null;
  private started = false;
  private stopped = false;
  /**
   * The mark is not known to be settled at the newest row: at start, and whenever rows may have
   * committed while nobody was subscribed and nothing was read.
   */
  private behind = true;
  private catchingUp: Promise<void> | null = null;
  /** Transactions a catch-up waits on (diagnostics; a pending gap has its own). */
  private catchUpWaitingOn: readonly string[] = [];
  /** Notifications received and reads of `live_events` done (diagnostics: what woke the hub, and whether it read). */
  readonly counts = { notifications: 0, reads: 0 };
  /** The gap already reported as slow, so it is logged once. */
  private reportedGapFrom: number | null = null;

  constructor(private readonly options: LiveEventHubOptions) {
    this.settings = {
      retentionMs: options.retentionMs ?? DEFAULTS.retentionMs,
      pruneIntervalMs: options.pruneIntervalMs ?? DEFAULTS.pruneIntervalMs,
      pollIntervalMs: options.pollIntervalMs ?? DEFAULTS.pollIntervalMs,
      gapRecheckMs: options.gapRecheckMs ?? DEFAULTS.gapRecheckMs,
      slowWaitWarnMs: options.slowWaitWarnMs ?? DEFAULTS.slowWaitWarnMs,
      batchSize: options.batchSize ?? DEFAULTS.batchSize,
    };
    this.now = options.now ?? Date.now;
  }

  /** Listens; the first board's `ready()` settles the mark at the newest row. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.connectListener();
    this.every(this.settings.pollIntervalMs, () => this.requestRead());
    this.after(Math.min(FIRST_PRUNE_DELAY_MS, this.settings.pruneIntervalMs), () => {
      void this.prune();
      this.every(this.settings.pruneIntervalMs, () => void this.prune());
    });
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    if (this.gapTimer) clearTimeout(this.gapTimer);
    const listener = this.listener;
    this.listener = null;
    await listener?.end().catch(() => undefined);
    await this.reading;
    for (const subscriber of [...this.subscribers.values()].flatMap((set) => [...set])) subscriber.close();
    this.subscribers.clear();
  }

  /**
   * Every id at or below it has been delivered (or will never commit). A subscriber added now
   * receives exactly the ids above it; a reconnecting board replays its gap up to it from the table.
   */
  get highWater(): number {
    return this.state.highWater;
  }

  /** The gap holding events back right now, if any (diagnostics). */
  get pendingGap(): PendingGap | null {
    return this.state.gap;
  }

  /** The open transactions the hub waits on before it can deliver more, or let a board start. */
  get heldBackBy(): readonly string[] {
    return this.state.gap?.waitingOn ?? this.catchUpWaitingOn;
  }

  /**
   * Call before reading `highWater` for a new subscriber. When the hub has been idle (no
   * subscribers, so no reads) or has just started, it settles at the newest row: `highWater` moves
   * there once every transaction that might still commit an id below it has ended (usually at
   * once; as long as such a transaction stays open otherwise). With subscribers the mark is kept
   * current by the reads, and this resolves at once.
   */
  ready(): Promise<void> {
    if (this.catchingUp) return this.catchingUp;
    if (!this.behind || this.subscriberCount > 0) return Promise.resolve();
    this.catchingUp = this.settleAtNewest()
      .catch((error: unknown) => {
        this.behind = true; // the next board tries again
        throw error;
      })
      .finally(() => {
        this.catchingUp = null;
        this.catchUpWaitingOn = [];
      });
    return this.catchingUp;
  }

  /**
   * Every id at or below the newest visible one was taken before that read by a transaction that
   * then held a transaction id (highWaterMark.ts): once all of those have ended, none can appear.
   */
  private async settleAtNewest(): Promise<void> {
    await this.reading; // a read still finishing would otherwise overwrite the jump
    this.behind = false; // a notification from now on marks the hub behind again
    const head = await readLiveEventsHead(this.options.prisma);
    this.catchUpWaitingOn = possibleWriters(head.snapshot);
    const since = this.now();
    let reported = false;
    while (this.catchUpWaitingOn.length > 0 && !this.stopped) {
      await new Promise((resolve) => setTimeout(resolve, this.settings.gapRecheckMs));
      const snapshot = await readTxSnapshot(this.options.prisma);
      this.catchUpWaitingOn = this.catchUpWaitingOn.filter((xid) => !hasFinished(xid, snapshot));
      if (!reported && this.catchUpWaitingOn.length > 0 && this.now() - since >= this.settings.slowWaitWarnMs) {
        reported = true;
        this.options.logger.warn('live events: a board waits to start until open transactions end', this.waitFacts(since));
      }
    }
    if (this.subscriberCount === 0) this.state = { highWater: Math.max(this.state.highWater, head.latestId), gap: null };
  }

  /** Synchronous with reading `highWater`: nothing can be delivered in between. */
  subscribe(companyId: string, subscriber: LiveEventSubscriber): () => void {
    let set = this.subscribers.get(companyId);
    if (!set) this.subscribers.set(companyId, (set = new Set()));
    set.add(subscriber);
    // Rows that committed after the mark while nobody was subscribed were not read: read them now.
    if (this.subscriberCount === 1) {
      this.behind = false;
      this.requestRead();
    }
    return () => {
      set.delete(subscriber);
      if (set.size === 0 && this.subscribers.get(companyId) === set) this.subscribers.delete(companyId);
    };
  }

  get subscriberCount(): number {
    let count = 0;
    for (const set of this.subscribers.values()) count += set.size;
    return count;
  }

  /** Reads new rows now, or right after the read in progress; only notes it is behind when idle. */
  requestRead(): void {
    if (this.stopped || !this.started) return;
    if (this.subscriberCount === 0 && !this.reading) {
      this.behind = true;
      return;
    }
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.readNewEvents().finally(() => {
      this.reading = null;
      if (this.readAgain) {
        this.readAgain = false;
        this.requestRead();
      }
    });
  }

  private async readNewEvents(): Promise<void> {
    this.counts.reads++;
    try {
      let withWriters = false;
      for (;;) {
        const { snapshot, events } = await readLiveEventsAfter(this.options.prisma, this.state.highWater, this.settings.batchSize, { withWriters });
        const advance = advanceHighWater(this.state, events.map((event) => event.id), snapshot, this.now());
        this.state = advance.state;
        for (const event of events.slice(0, advance.deliverable)) this.publish(event);
        withWriters = advance.needsWriters;
        if (withWriters) continue; // a new gap: read again, with who may still fill it
        const gap = advance.state.gap;
        if (gap) {
          if (this.reportedGapFrom !== gap.from && this.now() - gap.openedAt >= this.settings.slowWaitWarnMs) {
            this.reportedGapFrom = gap.from;
            this.options.logger.warn('live events: held back behind an id whose transaction is still open', { gapFrom: gap.from, ...this.waitFacts(gap.openedAt) });
          }
          this.recheckGapSoon();
          return;
        }
        if (events.length < this.settings.batchSize || this.stopped) return;
      }
    } catch (error) {
      // The next notification or poll tries again from the same high-water mark.
      if (!this.stopped) this.options.logger.warn('live events: read failed', { error: errorText(error) });
    }
  }

  private waitFacts(since: number) {
    return { waitingOn: this.heldBackBy.slice(0, 10), transactions: this.heldBackBy.length, waitedMs: this.now() - since };
  }

  private publish(event: LiveEvent): void {
    const set = this.subscribers.get(event.companyId);
    if (!set || set.size === 0) return;
    const frame = liveEventFrame(event);
    for (const subscriber of [...set]) {
      try {
        subscriber.deliver(event, frame);
      } catch (error) {
        this.options.logger.warn('live events: a subscriber failed', { error: errorText(error) });
      }
    }
  }

  private recheckGapSoon(): void {
    if (this.gapTimer || this.stopped) return;
    this.gapTimer = setTimeout(() => {
      this.gapTimer = null;
      this.requestRead();
    }, this.settings.gapRecheckMs);
    this.gapTimer.unref();
  }

  private async connectListener(): Promise<void> {
    if (this.stopped) return;
    const client = new pg.Client({ connectionString: this.options.databaseUrl, keepAlive: true, application_name: listenerApplicationName() });
    let dropped = false;
    const drop = (error?: unknown) => {
      if (dropped) return;
      dropped = true;
      if (this.listener === client) this.listener = null;
      client.end().catch(() => undefined);
      if (this.stopped) return;
      this.options.logger.warn('live events: LISTEN connection lost; reconnecting', { error: error ? errorText(error) : 'connection ended' });
      const delay = Math.min(RECONNECT_MAX_MS, RECONNECT_MIN_MS * 2 ** this.reconnectAttempts++);
      this.after(delay, () => void this.connectListener());
    };
    client.on('notification', () => {
      this.counts.notifications++;
      this.requestRead();
    });
    client.on('error', drop);
    client.on('end', () => drop());
    try {
      await client.connect();
      await client.query(`LISTEN ${LIVE_EVENTS_CHANNEL}`);
    } catch (error) {
      drop(error);
      return;
    }
    if (this.stopped) {
      await client.end().catch(() => undefined);
      return;
    }
    this.listener = client;
    this.reconnectAttempts = 0;
    // Whatever committed while nobody listened.
    this.requestRead();
  }

  private async prune(): Promise<void> {
    try {
      const deleted = await pruneLiveEvents(this.options.prisma, new Date(this.now() - this.settings.retentionMs));
      if (deleted > 0) this.options.logger.info('live events: pruned old rows', { deleted, retentionMs: this.settings.retentionMs });
    } catch (error) {
      if (!this.stopped) this.options.logger.warn('live events: pruning failed', { error: errorText(error) });
    }
  }

  private every(ms: number, run: () => void): void {
    const timer = setInterval(run, ms);
    timer.unref();
    this.timers.add(timer);
  }

  private after(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
