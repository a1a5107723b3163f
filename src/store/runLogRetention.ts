/**
 * Issue 11: a run's log is deleted VIGIL_RUN_LOG_RETENTION_DAYS after the run ENDED (a run still
 * running keeps its log however old it is); rows of a run that no longer exists go too.
 *
 * Every Vigil process prunes, an hour apart (the first a minute after start), as the live-event
 * hub prunes `live_events`; two processes pruning at once only delete the same rows once. Each
 * statement deletes at most `batchRows` rows: the runs are found through the partial index on
 * each run's first row (migration `run_log_chunks`), and a run's first row is deleted last, so a
 * run cut between two batches is found again by the next one.
 */
import type { PrismaClient } from './db.ts';
import type { Logger } from '../logger.ts';
import { DEFAULT_RUN_LOG_RETENTION_DAYS, runLogRetentionCutoff } from '../domain/runLogBounds.ts';

const DEFAULT_PRUNE_INTERVAL_MS = 60 * 60 * 1000;
const FIRST_PRUNE_DELAY_MS = 60_000;
const DEFAULT_BATCH_ROWS = 5_000;

/** Deletes the log rows of runs that ended before `endedBefore`, in batches; returns how many. */
export async function pruneRunLogs(prisma: PrismaClient, endedBefore: Date, batchRows = DEFAULT_BATCH_ROWS): Promise<number> {
  let deleted = 0;
  for (;;) {
    // A run that ended before the cutoff wrote its first row before it too.
    const count = await prisma.$executeRaw`
      WITH ended AS (
        SELECT first.run_id FROM run_log_chunks AS first
        LEFT JOIN heartbeat_runs AS run ON run.id = first.run_id
        WHERE first.seq = 0 AND first.created_at < ${endedBefore}
          AND (run.id IS NULL OR run.finished_at < ${endedBefore})
        ORDER BY first.created_at
        LIMIT ${batchRows}::int
      ), doomed AS (
        SELECT run_id, seq FROM run_log_chunks
        WHERE run_id IN (SELECT run_id FROM ended)
        ORDER BY run_id, seq DESC
        LIMIT ${batchRows}::int
      )
      DELETE FROM run_log_chunks AS chunk USING doomed
      WHERE chunk.run_id = doomed.run_id AND chunk.seq = doomed.seq`;
    deleted += count;
    if (count < batchRows) return deleted;
  }
}

export interface RunLogRetentionOptions {
  prisma: PrismaClient;
  logger: Logger;
  /** Default in domain/runLogBounds.ts. */
  retentionDays?: number;
  /** How often to prune (default 1 h; the first prune is a minute after start, or sooner if this is shorter). */
  pruneIntervalMs?: number;
  now?: () => Date;
  /** Other expired rows pruned on the same tick (e.g. idempotency keys past their 24 h): each returns how many it deleted. */
  alsoPrune?: Array<{ what: string; prune(now: Date): Promise<number> }>;
}

/** The periodic prune of one Vigil process. */
export class RunLogRetention {
  private readonly retentionDays: number;
  private readonly intervalMs: number;
  private readonly now: () => Date;
  private readonly timers = new Set<NodeJS.Timeout>();
  private pruning: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(private readonly options: RunLogRetentionOptions) {
    this.retentionDays = options.retentionDays ?? DEFAULT_RUN_LOG_RETENTION_DAYS;
    this.intervalMs = options.pruneIntervalMs ?? DEFAULT_PRUNE_INTERVAL_MS;
    this.now = options.now ?? (() => new Date());
  }

  start(): void {
    const first = setTimeout(() => {
      this.timers.delete(first);
      this.pruneNow();
      const every = setInterval(() => this.pruneNow(), this.intervalMs);
      every.unref();
      this.timers.add(every);
    }, Math.min(FIRST_PRUNE_DELAY_MS, this.intervalMs));
    first.unref();
    this.timers.add(first);
  }

  /** Stops the timers and waits for a prune in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await this.pruning;
  }

  private pruneNow(): void {
    if (this.stopped) return;
    this.pruning = this.pruning.then(async () => {
      try {
        const deleted = await pruneRunLogs(this.options.prisma, runLogRetentionCutoff(this.now(), this.retentionDays));
        if (deleted > 0) this.options.logger.info('run logs: pruned the logs of old runs', { deleted, retentionDays: this.retentionDays });
      } catch (error) {
        if (!this.stopped) this.options.logger.warn('run logs: pruning failed', { error: error instanceof Error ? error.message : String(error) });
      }
      for (const other of this.options.alsoPrune ?? []) {
        try {
          const deleted = await other.prune(this.now());
          if (deleted > 0) this.options.logger.info(`${other.what}: pruned expired rows`, { deleted });
        } catch (error) {
          if (!this.stopped) this.options.logger.warn(`${other.what}: pruning failed`, { error: error instanceof Error ? error.message : String(error) });
        }
      }
    });
  }
}
