/**
 * R68's scheduler loop: one long-lived workflow per Vigil instance (`<prefix>recovery-sweeper`)
 * that runs the recovery chain — reap orphans (R16–R26), promote due retries (R40), start what
 * they produced, resume queued runs (R69), then the stranded-work sweep (R48–R65) — every
 * interval, on a durable timer. It replaces one Schedule-started workflow per tick, which filled
 * the namespace's workflow list (5,760 executions a day at 30 s); this one continues as new a few
 * times a day (`SWEEPER_HISTORY_BUDGET`).
 *
 * Operators drive it through Temporal: the signals `pause` / `resume` (one half or both), the
 * update `sweepNow` (a pass now, answered with its result; it also runs while paused, as a
 * Schedule's trigger did), the query `status`; Temporal UI shows the last pass as the workflow's
 * current details. The API's recovery routes call the same activities directly (decisions.md).
 */
import {
  ActivityFailure,
  allHandlersFinished,
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  log,
  makeContinueAsNewFunc,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { RunActivities } from '../activities/index.ts';
import type { SweepResult } from '../activities/strandedSweep.ts';
import type { ReapPassResult, RecoveryPassOutcome } from '../activities/recoveryPass.ts';
import {
  historyBudgetReached,
  periodicPlan,
  planForRequests,
  sweepKindsOf,
  sweepNowRequestProblem,
  SWEEPER_HISTORY_BUDGET,
  SWEEPER_WORKFLOW_TASK_TIMEOUT,
  SWEEP_KINDS,
  type RecoverySweeperStatus,
  type SweepKind,
  type SweepNowRequest,
  type SweepPassSummary,
  type SweepPlan,
  type SweepSelection,
  type SweepTrigger,
} from '../domain/recoverySweeper.ts';
import { recoverySweeperTexts } from '../domain/texts.ts';

/**
 * The pass is a local activity: one marker in the history (6 events a pass, with the timer and
 * its workflow task), no activity task round trip. Retried if the worker fails it as a whole
 * (a step's own error does not fail it, R68); a sweep over many issues may run minutes, during
 * which the SDK heartbeats the workflow task.
 */
const { runRecoveryPass } = proxyLocalActivities<RunActivities>({
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 3 },
  summary: 'run the recovery chain',
});

export interface RecoverySweeperSettings {
  intervalMs: number;
}

/** What continue-as-new hands to the next execution. */
export interface RecoverySweeperCarriedState {
  paused: SweepKind[];
  passes: Record<SweepTrigger, number>;
  execution: number;
  lastPass: SweepPassSummary | null;
  /** Workflow time (epoch ms) the last periodic pass ended, or the sweeper began; the next is due an interval later. */
  periodFrom: number;
}

export interface RecoverySweeperInput extends RecoverySweeperSettings {
  /** Only this company's runs and issues (tests, a targeted instance); default every company. */
  companyId?: string;
  /** Continue as new past this many events or bytes of history (default `SWEEPER_HISTORY_BUDGET`). */
  historyBudget?: { events: number; bytes: number };
  carried?: RecoverySweeperCarriedState;
}

/** The `sweepNow` update's answer: the pass that ran for it, with its id lists. */
export interface SweepPassResult extends SweepPassSummary {
  /** Null when the half was not asked for. */
  reap: ReapPassResult | null;
  reconcile: SweepResult | null;
}

export const recoverySweeperStatusQuery = defineQuery<RecoverySweeperStatus>('status');
export const pauseSweepsSignal = defineSignal<[SweepSelection?]>('pause');
export const resumeSweepsSignal = defineSignal<[SweepSelection?]>('resume');
/** Sent by every Vigil that ensures the sweeper, so a changed interval takes effect at once. */
export const configureSweeperSignal = defineSignal<[RecoverySweeperSettings]>('configure');
/** Its argument may be missing at run time (`temporal workflow update execute` without `--input`). */
export const sweepNowUpdate = defineUpdate<SweepPassResult, [SweepNowRequest]>('sweepNow');

interface PendingRequest {
  request: SweepNowRequest | undefined;
  result: SweepPassResult | null;
}

export async function recoverySweeperWorkflow(input: RecoverySweeperInput): Promise<never> {
  const budget = input.historyBudget ?? SWEEPER_HISTORY_BUDGET;
  const scope = { companyId: input.companyId };
  let intervalMs = input.intervalMs;
  const state: RecoverySweeperCarriedState = input.carried ?? { paused: [], passes: { periodic: 0, startup: 0, operator: 0 }, execution: 0, lastPass: null, periodFrom: Date.now() };
  state.execution += 1;
  const pending: PendingRequest[] = [];
  /** Set by every signal so the loop re-reads its state; the loop clears it before it waits. */
  let changed = false;

  const status = (): RecoverySweeperStatus => ({
    intervalMs,
    paused: [...state.paused],
    nextDueAt: periodicPlan(state.paused) ? new Date(state.periodFrom + intervalMs).toISOString() : null,
    passes: { ...state.passes },
    execution: state.execution,
    lastPass: state.lastPass,
  });
  const publish = (memoChanged: boolean) => {
    setCurrentDetails(recoverySweeperTexts.currentDetails(status()));
    // The memo is what `describe` (and a Vigil moving the sweeper to a new task queue) can read without a worker.
    if (memoChanged) upsertMemo({ paused: state.paused, intervalMs });
  };

  const handlerTexts = recoverySweeperTexts.handlers;
  setHandler(recoverySweeperStatusQuery, status, { description: handlerTexts.status });
  setHandler(pauseSweepsSignal, (selection) => {
    state.paused = SWEEP_KINDS.filter((kind) => state.paused.includes(kind) || sweepKindsOf(selection).includes(kind));
    changed = true;
    publish(true);
  }, { description: handlerTexts.pause });
  setHandler(resumeSweepsSignal, (selection) => {
    state.paused = state.paused.filter((kind) => !sweepKindsOf(selection).includes(kind));
    changed = true;
    publish(true);
  }, { description: handlerTexts.resume });
  setHandler(configureSweeperSignal, (settings) => {
    if (!Number.isInteger(settings?.intervalMs) || settings.intervalMs <= 0 || settings.intervalMs === intervalMs) return;
    intervalMs = settings.intervalMs;
    changed = true;
    publish(true);
  }, { description: handlerTexts.configure });
  setHandler(
    sweepNowUpdate,
    async (request: SweepNowRequest | undefined) => {
      const waiting: PendingRequest = { request, result: null };
      pending.push(waiting);
      await condition(() => waiting.result !== null);
      return waiting.result!;
    },
    {
      description: handlerTexts.sweepNow,
      validator: (request: SweepNowRequest | undefined) => {
        const problem = sweepNowRequestProblem(request);
        if (problem) throw new Error(problem);
      },
    },
  );
  publish(true);

  for (;;) {
    if (pending.length > 0) {
      const answered = pending.splice(0);
      const result = await runPass(planForRequests(answered.map((waiting) => waiting.request), state.paused), scope);
      for (const waiting of answered) waiting.result = result;
      record(result);
      continue;
    }
    const info = workflowInfo();
    if (info.continueAsNewSuggested || historyBudgetReached(info, budget)) {
      // Let every answered update return before this execution closes; a request that arrives
      // meanwhile is served first (the loop comes back here).
      await condition(allHandlersFinished);
      if (pending.length > 0) continue;
      const { carried: _previous, ...settings } = input;
      const next = makeContinueAsNewFunc<typeof recoverySweeperWorkflow>({ workflowTaskTimeout: SWEEPER_WORKFLOW_TASK_TIMEOUT });
      await next({ ...settings, intervalMs, carried: state });
    }
    const plan = periodicPlan(state.paused);
    const dueInMs = state.periodFrom + intervalMs - Date.now();
    if (plan && dueInMs <= 0) {
      record(await runPass(plan, scope));
      state.periodFrom = Date.now();
      publish(false);
      continue;
    }
    changed = false;
    const woken = () => changed || pending.length > 0;
    // Paused: no timer at all, so nothing happens in the history until a signal or update comes.
    if (plan) await condition(woken, dueInMs);
    else await condition(woken);
  }

  function record(result: SweepPassResult) {
    const { reap: _reap, reconcile: _reconcile, ...summary } = result;
    state.lastPass = summary;
    state.passes[result.trigger] += 1;
    publish(false);
  }
}

/** One pass of R68's chain (nothing, if every half it would run is paused); even a pass that failed as a whole is answered and recorded. */
async function runPass(plan: SweepPlan, scope: { companyId?: string }): Promise<SweepPassResult> {
  const startedAt = Date.now();
  const outcome = plan.sweeps.length === 0 ? { durationMs: 0, reap: null, reconcile: null, failedSteps: [] } : await runChain(plan, scope);
  return {
    trigger: plan.trigger,
    sweeps: plan.sweeps,
    startedAt: new Date(startedAt).toISOString(),
    durationMs: outcome.durationMs,
    counts: { ...countsOf(outcome.reap), ...countsOf(outcome.reconcile) },
    failedSteps: outcome.failedSteps,
    reap: outcome.reap,
    reconcile: outcome.reconcile,
  };
}

async function runChain(plan: SweepPlan, scope: { companyId?: string }): Promise<RecoveryPassOutcome> {
  const startedAt = Date.now();
  try {
    return await runRecoveryPass({ sweeps: plan.sweeps, staleThresholdMs: plan.staleThresholdMs, ...scope });
  } catch (error) {
    if (!(error instanceof ActivityFailure)) throw error;
    log.warn(recoverySweeperTexts.passFailed, { trigger: plan.trigger, error: error.cause?.message ?? error.message });
    return { durationMs: Date.now() - startedAt, reap: null, reconcile: null, failedSteps: ['runRecoveryPass'] };
  }
}

function countsOf(result: object | null): Record<string, number> {
  if (!result) return {};
  return Object.fromEntries(Object.entries(result).filter((entry): entry is [string, number] => typeof entry[1] === 'number' && entry[0] !== 'staleThresholdMs'));
}
