/**
 * Issue 11: how much of a run's log PostgreSQL keeps, and for how long. Pure: the store
 * (src/store/runLogStore.ts) and the prune (src/store/runLogRetention.ts) carry it out.
 */

/**
 * VIGIL_RUN_LOG_MAX_BYTES' default: 8 MiB of NDJSON per run. Eight of the largest page the log
 * route serves (1 MiB), far above what a board reads by hand, and a bound on what one runaway
 * agent can add to the database (its run events still carry every chunk).
 */
export const DEFAULT_RUN_LOG_MAX_BYTES = 8 * 1024 * 1024;
/** VIGIL_RUN_LOG_MAX_BYTES' bounds, checked by src/config.ts. */
export const RUN_LOG_MAX_BYTES_RANGE = { min: 64 * 1024, max: 1024 * 1024 * 1024 } as const;

/** VIGIL_RUN_LOG_RETENTION_DAYS' default: a log is kept 30 days after its run ended. */
export const DEFAULT_RUN_LOG_RETENTION_DAYS = 30;

/** The NDJSON stream of the lines Vigil itself writes into a log (the truncation marker). */
export const VIGIL_LOG_STREAM = 'system';

export const runLogTexts = {
  truncated: (atBytes: number, maxBytes: number) =>
    `Run log truncated at ${atBytes} bytes: logs are capped at ${maxBytes} bytes (VIGIL_RUN_LOG_MAX_BYTES), so later output is not stored here. The run goes on; its events still carry its output.`,
} as const;

export interface RunLogCapFit {
  /** How many of the lines, from the first, are stored. */
  keep: number;
  /** Where the log is cut (its size before the marker line) when these lines reach the cap; else null. */
  truncatedAt: number | null;
}

/**
 * Which of a flush's lines still fit under the cap, given the bytes already stored. Whole lines
 * only, so the log stays valid NDJSON; the first line that does not fit cuts the log there.
 */
export function fitRunLogCap(storedBytes: number, lineBytes: readonly number[], maxBytes: number): RunLogCapFit {
  let end = storedBytes;
  for (let i = 0; i < lineBytes.length; i++) {
    if (end + lineBytes[i] > maxBytes) return { keep: i, truncatedAt: end };
    end += lineBytes[i];
  }
  return { keep: lineBytes.length, truncatedAt: null };
}

/** When the logs of runs that ended before it may go. */
export function runLogRetentionCutoff(now: Date, retentionDays: number): Date {
  return new Date(now.getTime() - retentionDays * 24 * 60 * 60 * 1000);
}
