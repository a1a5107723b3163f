/**
 * The `vigil_process_loss_detection_seconds` histogram: how long a lost agent process went
 * unnoticed, from the moment it was lost to the commit of the run's `process_lost` write.
 *
 * "The moment it was lost", per path, as the execution outcome carries it:
 * - `exit_signal` (R21, the adapter returned `processLost`): the child's exit as the adapter saw it
 *   (the result's `lostAt`);
 * - `heartbeat_timeout` (the adapter activity's worker died): the last heartbeat Temporal recorded,
 *   which says when it was sent (the run workflow reads it from the timeout failure); when the
 *   worker died before its first heartbeat reached Temporal, the run row's last write (the pid
 *   record at spawn), as for the reaper;
 * - `worker_shutdown` (the worker shut down under the agent and killed its group): when the group
 *   was ended (the failure's details);
 * - `reaper` (R19–R21, the orphan reaper found the pid dead): the run row's last write while it was
 *   running (pid record, last output flush) — an upper bound of the true detection time.
 * Where the outcome does not say (an activity of an older build) nothing is observed.
 */
import type { ExecutionOutcome } from '../domain/runOutcome.ts';
import type { ProcessLossPath } from '../metrics/vigilMetrics.ts';

export interface LossMoment {
  path: ProcessLossPath;
  /** Null when the moment is not known. */
  lostAt: Date | null;
}

function dateOf(iso: string | null | undefined): Date | null {
  const ms = iso ? Date.parse(iso) : NaN;
  return Number.isFinite(ms) ? new Date(ms) : null;
}

/**
 * Where and when the process of a run just written `process_lost` was lost. `runUpdatedAt` is the
 * run row as finalize read it, before its terminal write.
 */
export function processLossMoment(outcome: ExecutionOutcome, runUpdatedAt: Date): LossMoment {
  switch (outcome.kind) {
    case 'reaped':
      return { path: 'reaper', lostAt: runUpdatedAt };
    case 'worker_lost':
      return { path: outcome.via, lostAt: dateOf(outcome.lostAt) ?? (outcome.via === 'heartbeat_timeout' ? runUpdatedAt : null) };
    case 'adapter_result':
      return { path: 'exit_signal', lostAt: dateOf(outcome.result.lostAt) };
    default:
      return { path: 'exit_signal', lostAt: null };
  }
}
