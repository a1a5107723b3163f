/**
 * Vigil's Prometheus metrics, one registry per Vigil instance (tests start several in one process,
 * so nothing goes to prom-client's global registry). The code that does a thing counts it: the
 * activities get this object through `ActivityDeps.metrics`; the scrape only reads the database
 * gauge and appends the Temporal worker's own metrics (`temporalScrape.ts`).
 *
 * No label carries a company id, a run id, a raw path or any other unbounded or secret value:
 * error codes outside a known set are counted as `other`, API routes by their pattern.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { PrismaClient } from '../store/db.ts';
import { LIVE_RUN_STATUS_LIST } from '../store/runStatusSql.ts';
import { LIVE_RUN_STATUSES } from '../domain/runStatus.ts';
import { loopBreakerTotals } from '../store/loopBreaker.ts';

/** Every recovery step Vigil takes on its own (RECOVERY.md), as the `kind` label. */
export type RecoveryActionKind =
  | 'process_loss_retry' // R23
  | 'transient_retry_scheduled' // R38
  | 'transient_retry_exhausted' // R39
  | 'provider_quota_retry_parked' // a usage limit: one retry at the reset (domain/providerQuota.ts)
  | 'provider_quota_retry_exhausted'
  | 'dispatch_recovery' // R33, todo issue
  | 'continuation_recovery' // R33, in_progress issue
  | 'liveness_continuation' // R46
  | 'liveness_continuation_exhausted' // R46.4
  | 'missing_issue_comment_follow_up' // R73
  | 'escalation_recovery_issue_created' // R57
  | 'escalation_recovery_issue_reused' // R57
  | 'escalation_without_owner' // R61
  | 'escalation_blocked_in_place'; // R62

/** The periodic sweeps (workflows/recoverySweeps.ts), also run on demand by the API. */
export type SweepName = 'orphan_reaper' | 'scheduled_retry_promotion' | 'queue_resume' | 'stranded_sweep';

/**
 * How a process loss was noticed, as the `path` label of the detection-time histogram:
 * - `exit_signal`: the adapter saw its child die from a signal nobody in Vigil sent (R21);
 * - `heartbeat_timeout`: the adapter activity stopped heartbeating (its worker died);
 * - `worker_shutdown`: the worker shut down under a running agent;
 * - `reaper`: the orphan reaper found the recorded pid dead (R19–R21).
 */
export type ProcessLossPath = 'exit_signal' | 'heartbeat_timeout' | 'worker_shutdown' | 'reaper';

/** A worker's state, as the `state` label of `vigil_worker_state`: polling, finishing its agents after a stop, or done. */
export const WORKER_STATES = ['running', 'draining', 'stopped'] as const;
export type WorkerState = (typeof WORKER_STATES)[number];

/** Error codes Vigil itself writes; anything else (an agent's own result-line code) is `other`. */
const KNOWN_ERROR_CODES = new Set([
  'process_lost',
  'process_detached',
  'timeout',
  'cancelled',
  'adapter_failed',
  'adapter_threw',
  'budget_paused',
  'budget_blocked',
  'paused',
  'issue_dependencies_blocked',
  'issue_not_found',
  'issue_assignee_changed',
  'issue_terminal_status',
  'issue_review_participant_changed',
  'issue_cancelled',
  'issue_reassigned',
  'codex_transient_upstream',
  'claude_transient_upstream',
]);

export function errorCodeLabel(errorCode: string | null): string {
  if (errorCode === null || errorCode === '') return 'none';
  return KNOWN_ERROR_CODES.has(errorCode) ? errorCode : 'other';
}

const SECONDS_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const DETECTION_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 20, 30, 60, 120, 300, 600, 1800];
const API_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface VigilMetrics {
  readonly registry: Registry;
  /** A run got its terminal status (R5/R8), counted once, after the write commits. */
  runFinished(status: string, errorCode: string | null): void;
  recoveryAction(kind: RecoveryActionKind): void;
  /** Seconds from the moment the process was lost to the commit of its `process_lost` write. */
  processLossDetected(path: ProcessLossPath, seconds: number): void;
  /** Runs a sweep, recording its duration and whether it threw. */
  timeSweep<T>(sweep: SweepName, body: () => Promise<T>): Promise<T>;
  sweepItems(sweep: SweepName, outcome: string, count?: number): void;
  apiRequest(method: string, route: string, status: number, seconds: number): void;
  /** Whether the scrape could append the Temporal worker's metrics (the up gauge). */
  temporalScrape(up: boolean): void;
  /** This process's worker changed state (processes without a worker never call it: no series). */
  workerState(state: WorkerState): void;
  /**
   * Issue 13: a worker left a running agent to its host's supervisor (`detached`, a deploy), or
   * came back to one that outlived its worker (`reattached`).
   */
  agentHandover(how: 'detached' | 'reattached'): void;
}

export function createVigilMetrics(options: { prisma?: PrismaClient; defaultMetrics?: boolean } = {}): VigilMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });

  const runsFinished = new Counter({
    name: 'vigil_runs_finished_total',
    help: 'Runs that reached a terminal status, by status and error code (codes outside Vigil\'s own set are "other")',
    labelNames: ['status', 'error_code'] as const,
    registers,
  });
  const prisma = options.prisma;
  new Gauge({
    name: 'vigil_runs_current',
    help: 'Live runs in the database by status, read at scrape time (every Vigil process sees the same numbers)',
    labelNames: ['status'] as const,
    registers,
    async collect() {
      if (!prisma) return;
      const rows = await prisma.$queryRaw<Array<{ status: string; count: bigint }>>`
        SELECT status, count(*) AS count FROM heartbeat_runs
        WHERE status IN ${LIVE_RUN_STATUS_LIST} GROUP BY status`;
      const counts = new Map(rows.map((row) => [row.status, Number(row.count)]));
      // Live statuses only: terminal ones only grow.
      for (const status of LIVE_RUN_STATUSES) this.set({ status }, counts.get(status) ?? 0);
    },
  });
  // Issue 14 V2/V4: the loop breaker's events, read at scrape time from the breakers' counters
  // (written in the wake's own transaction, so every Vigil process reports the same totals).
  new Counter({
    name: 'vigil_loop_breaker_total',
    help: 'Loop breaker events over all issues and agents: tripped (one comment each), skipped (automatic wakes skipped as loop_detected), reset (by a board), cleared (by progress or the window)',
    labelNames: ['event'] as const,
    registers,
    async collect() {
      if (!prisma) return;
      const totals = await loopBreakerTotals(prisma);
      this.reset();
      for (const [event, value] of Object.entries(totals)) this.inc({ event }, value);
    },
  });
  const recoveryActions = new Counter({
    name: 'vigil_recovery_actions_total',
    help: 'Automatic recovery steps taken, by kind (retries, continuations, escalations)',
    labelNames: ['kind'] as const,
    registers,
  });
  const agentHandovers = new Counter({
    name: 'vigil_agent_handovers_total',
    help: "Running agents a worker left to its host's supervisor (detached) or came back to after their worker died or detached (reattached)",
    labelNames: ['how'] as const,
    registers,
  });
  const detection = new Histogram({
    name: 'vigil_process_loss_detection_seconds',
    help: 'From the moment an agent process was lost (its exit, the last heartbeat Temporal recorded, the run\'s last write for the reaper) to the commit of the process_lost write',
    labelNames: ['path'] as const,
    buckets: DETECTION_BUCKETS,
    registers,
  });
  const sweepDuration = new Histogram({
    name: 'vigil_sweep_duration_seconds',
    help: 'Duration of one recovery sweep',
    labelNames: ['sweep'] as const,
    buckets: SECONDS_BUCKETS,
    registers,
  });
  const sweepRuns = new Counter({
    name: 'vigil_sweep_runs_total',
    help: 'Recovery sweeps run, by result (ok or error)',
    labelNames: ['sweep', 'result'] as const,
    registers,
  });
  const sweepItems = new Counter({
    name: 'vigil_sweep_items_total',
    help: 'What the recovery sweeps did, by sweep and outcome (runs reaped, retries promoted, issues dispatched, ...)',
    labelNames: ['sweep', 'outcome'] as const,
    registers,
  });
  const apiDuration = new Histogram({
    name: 'vigil_api_request_duration_seconds',
    help: 'API request latency by method, route pattern and status class',
    labelNames: ['method', 'route', 'status_class'] as const,
    buckets: API_BUCKETS,
    registers,
  });
  const temporalUp = new Gauge({
    name: 'vigil_temporal_worker_metrics_up',
    help: '1 when the Temporal worker\'s own metrics (temporal_*) were appended to this scrape',
    registers,
  });

  const workerState = new Gauge({
    name: 'vigil_worker_state',
    help: 'This process\'s worker: 1 on its current state (running, draining, stopped), 0 on the others',
    labelNames: ['state'] as const,
    registers,
  });

  return {
    registry,
    runFinished: (status, errorCode) => runsFinished.inc({ status, error_code: errorCodeLabel(errorCode) }),
    recoveryAction: (kind) => recoveryActions.inc({ kind }),
    agentHandover: (how) => agentHandovers.inc({ how }),
    processLossDetected: (path, seconds) => detection.observe({ path }, Math.max(0, seconds)),
    timeSweep: async (sweep, body) => {
      const stop = sweepDuration.startTimer({ sweep });
      try {
        const result = await body();
        sweepRuns.inc({ sweep, result: 'ok' });
        return result;
      } catch (error) {
        sweepRuns.inc({ sweep, result: 'error' });
        throw error;
      } finally {
        stop();
      }
    },
    sweepItems: (sweep, outcome, count = 1) => {
      if (count > 0) sweepItems.inc({ sweep, outcome }, count);
    },
    apiRequest: (method, route, status, seconds) =>
      apiDuration.observe({ method, route, status_class: `${Math.floor(status / 100)}xx` }, seconds),
    temporalScrape: (up) => temporalUp.set(up ? 1 : 0),
    workerState: (state) => {
      for (const each of WORKER_STATES) workerState.set({ state: each }, each === state ? 1 : 0);
    },
  };
}
