/**
 * R68's scheduler loop as one long-lived Temporal workflow per Vigil instance (the recovery
 * sweeper, `workflows/recoverySweeper.ts`): its ids, the shape of its requests, status and results,
 * and the pure decisions it makes (which sweeps a pass runs, when to continue as new). Pure, so the
 * workflow, the client side (`temporal/recoverySweeperClient.ts`) and the tests all import it.
 */

/** R68's chain in its order: the orphan reaper half, then the stranded-work half. */
export const SWEEP_KINDS = ['reap', 'reconcile'] as const;
export type SweepKind = (typeof SWEEP_KINDS)[number];

/** What started a pass: the interval, a Vigil process starting (R68 "at startup, once"), or someone asking. */
export type SweepTrigger = 'periodic' | 'startup' | 'operator';

/** R68: the periodic reaper skips runs touched within the last 5 minutes; at startup none are skipped. */
export const PERIODIC_REAP_STALE_THRESHOLD_MS = 5 * 60_000;

/**
 * When the sweeper continues as new: when the server suggests it (by default at 4,096 events or
 * 4 MiB of history), or at this budget if the server's suggestion comes later, so that the replay
 * a worker does after a restart or a cache eviction stays short. A periodic pass adds 6 events (a
 * timer fired, one workflow task, the pass's marker, the next timer), so 4,096 events is ~680
 * passes: 5.7 h at the default 30 s interval, about 4 executions a day; 1.9 h at the 10 s minimum.
 * Signals, updates and on-demand passes add a few events each.
 */
export const SWEEPER_HISTORY_BUDGET = { events: 4_096, bytes: 4 * 1024 * 1024 } as const;

/**
 * A worker that does not have the sweeper cached replays its whole history within one workflow
 * task: measured at ~1.5–2 ms an event on a 2-core machine under heavy load (8 s for 4,000 events,
 * docs/decisions.md), close to the default 10 s task timeout, which would time the task out again
 * on every retry. The cost of a longer timeout is only that a worker dying mid-task delays the
 * sweeper by up to this long.
 */
export const SWEEPER_WORKFLOW_TASK_TIMEOUT = '60 seconds';

export function recoverySweeperWorkflowId(idPrefix: string): string {
  return `${idPrefix}recovery-sweeper`;
}

/** The two Temporal Schedules Vigil used before the sweeper; deleted when a sweeper is ensured. */
export function legacyRecoveryScheduleIds(idPrefix: string): Record<SweepKind, string> {
  return { reap: `${idPrefix}reap-orphaned-runs`, reconcile: `${idPrefix}reconcile-stranded-work` };
}

/** The `sweepNow` update's argument (every field optional: `temporal workflow update execute --name sweepNow`). */
export interface SweepNowRequest {
  /** Which halves of the chain; default both, always run in R68's order. */
  sweeps?: SweepKind[];
  /** R16: the reaper skips runs updated within this many ms; default the periodic 5 minutes. */
  staleThresholdMs?: number;
  /** `startup` when a Vigil process starts (counted apart); default `operator`. */
  trigger?: 'startup' | 'operator';
}

/** The `pause` / `resume` signals' argument: which halves (default both). */
export interface SweepSelection {
  sweeps?: SweepKind[];
}

/** One pass of the chain, as the sweeper is about to run it. */
export interface SweepPlan {
  trigger: SweepTrigger;
  sweeps: SweepKind[];
  staleThresholdMs: number;
}

/** What the sweeper keeps of a pass: its counters, not its id lists, so the state stays small. */
export interface SweepPassSummary {
  trigger: SweepTrigger;
  sweeps: SweepKind[];
  /** Workflow time (ISO 8601) when the pass began. */
  startedAt: string;
  durationMs: number;
  /** Every step's counters: `reaped`, `promotedRetries`, `resumedQueuedRuns` and the stranded sweep's. */
  counts: Record<string, number>;
  /** Steps whose activity still failed after its retries; R68: the chain goes on without them. */
  failedSteps: string[];
}

/** The `status` query's answer. */
export interface RecoverySweeperStatus {
  intervalMs: number;
  /** Halves whose periodic passes are paused; `sweepNow` still runs them. */
  paused: SweepKind[];
  /** When the next periodic pass is due (ISO 8601); null while both halves are paused. */
  nextDueAt: string | null;
  passes: Record<SweepTrigger, number>;
  /** This execution's place in the continue-as-new chain (1 = the first). */
  execution: number;
  lastPass: SweepPassSummary | null;
}

/** An unknown kind is refused by the update's validator; signals cannot refuse, so they drop it. */
export function sweepKindsOf(selection: SweepSelection | undefined): SweepKind[] {
  const asked = selection?.sweeps ?? SWEEP_KINDS;
  return SWEEP_KINDS.filter((kind) => asked.includes(kind));
}

/** Why a `sweepNow` request is refused, or null. */
export function sweepNowRequestProblem(request: SweepNowRequest | undefined): string | null {
  if (request === undefined || request === null) return null;
  if (typeof request !== 'object' || Array.isArray(request)) return 'sweepNow takes an object: {"sweeps"?, "staleThresholdMs"?, "trigger"?}';
  const unknownFields = Object.keys(request).filter((key) => !['sweeps', 'staleThresholdMs', 'trigger'].includes(key));
  if (unknownFields.length > 0) return `sweepNow does not know ${unknownFields.join(', ')}`;
  const { sweeps, staleThresholdMs, trigger } = request;
  if (sweeps !== undefined && (!Array.isArray(sweeps) || sweeps.some((kind) => !(SWEEP_KINDS as readonly string[]).includes(kind)))) {
    return `sweeps must be a list of ${SWEEP_KINDS.join(', ')}`;
  }
  if (staleThresholdMs !== undefined && (!Number.isInteger(staleThresholdMs) || staleThresholdMs < 0)) return 'staleThresholdMs must be a non-negative integer';
  if (trigger !== undefined && trigger !== 'startup' && trigger !== 'operator') return 'trigger must be startup or operator';
  return null;
}

/**
 * Requests waiting when a pass starts are answered by that one pass: it runs every half any of
 * them asked for and reaps with the smallest threshold asked, so each gets at least what it asked.
 * Two Vigils starting together therefore share one startup pass when their requests meet. A
 * startup pass leaves paused halves alone (it is as automatic as the interval); an operator's
 * request runs what it names, paused or not.
 */
export function planForRequests(requests: Array<SweepNowRequest | undefined>, paused: readonly SweepKind[]): SweepPlan {
  const asked = new Set(requests.flatMap((request) => sweepKindsOf(request).filter((kind) => request?.trigger !== 'startup' || !paused.includes(kind))));
  return {
    trigger: requests.some((request) => request?.trigger === 'startup') ? 'startup' : 'operator',
    sweeps: SWEEP_KINDS.filter((kind) => asked.has(kind)),
    staleThresholdMs: Math.min(...requests.map((request) => request?.staleThresholdMs ?? PERIODIC_REAP_STALE_THRESHOLD_MS)),
  };
}

/** The periodic pass: every half not paused, with R68's periodic threshold; null if all are paused. */
export function periodicPlan(paused: readonly SweepKind[]): SweepPlan | null {
  const sweeps = SWEEP_KINDS.filter((kind) => !paused.includes(kind));
  return sweeps.length === 0 ? null : { trigger: 'periodic', sweeps, staleThresholdMs: PERIODIC_REAP_STALE_THRESHOLD_MS };
}

export function historyBudgetReached(history: { historyLength: number; historySize: number }, budget: { events: number; bytes: number }): boolean {
  return history.historyLength >= budget.events || history.historySize >= budget.bytes;
}
