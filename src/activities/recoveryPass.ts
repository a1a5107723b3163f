/**
 * One pass of R68's chain, as the recovery sweeper (`workflows/recoverySweeper.ts`) runs it: the
 * orphan reaper (R16–R26), due scheduled retries (R40), the runs those produced, queued runs
 * (R69), then the stranded-work sweep (R48–R65) and the runs it queued. The steps are the same
 * functions the API's recovery routes call; each moves its own `vigil_sweep_*` metrics.
 *
 * One activity, not one per step: a pass is then one marker in the sweeper's history (6 events a
 * pass instead of 9, 2 workflow activations instead of 5), which is what a replay after a cache
 * eviction pays for and what sets how often the sweeper continues as new (domain/recoverySweeper.ts).
 * R68: a step's error is logged and the chain goes on; the failed step is named in the result.
 */
import type { ActivityDeps } from './deps.ts';
import { reapOrphanedRuns } from './reaper.ts';
import { promoteDueScheduledRetries } from './scheduledRetries.ts';
import { resumeQueuedRuns } from './resumeQueuedRuns.ts';
import { reconcileStrandedAssignedIssues, type SweepResult } from './strandedSweep.ts';
import type { SweepKind } from '../domain/recoverySweeper.ts';
import { recoverySweeperTexts } from '../domain/texts.ts';

export interface RecoveryPassInput {
  sweeps: SweepKind[];
  staleThresholdMs: number;
  /** Only this company's runs and issues; default every company. */
  companyId?: string;
}

/** The orphan-reaper half's result. */
export interface ReapPassResult {
  staleThresholdMs: number;
  reaped: number;
  runIds: string[];
  promotedRetries: number;
  resumedQueuedRuns: number;
}

export interface RecoveryPassOutcome {
  durationMs: number;
  /** Null when the half was not asked for. */
  reap: ReapPassResult | null;
  reconcile: SweepResult | null;
  /** Steps that threw, in chain order. */
  failedSteps: string[];
}

export async function runRecoveryPass(deps: ActivityDeps, input: RecoveryPassInput): Promise<RecoveryPassOutcome> {
  const started = performance.now();
  const scope = { companyId: input.companyId };
  const failedSteps: string[] = [];
  async function step<T>(name: string, run: () => Promise<T>): Promise<T | null> {
    try {
      return await run();
    } catch (error) {
      failedSteps.push(name);
      deps.logger.error(recoverySweeperTexts.stepFailed, { step: name, error: error instanceof Error ? error.message : String(error) });
      return null;
    }
  }

  let reap: ReapPassResult | null = null;
  if (input.sweeps.includes('reap')) {
    const reaped = await step('reapOrphanedRuns', () => reapOrphanedRuns(deps, { staleThresholdMs: input.staleThresholdMs, ...scope }));
    const promoted = await step('promoteDueScheduledRetries', () => promoteDueScheduledRetries(deps, new Date(), scope));
    const followUps = [...(reaped?.followUpRunIds ?? []), ...(promoted?.runIds ?? [])];
    if (followUps.length > 0) await step('startRuns', () => deps.executions.start(followUps));
    const resumed = await step('resumeQueuedRuns', () => resumeQueuedRuns(deps, scope));
    reap = {
      staleThresholdMs: input.staleThresholdMs,
      reaped: reaped?.reaped ?? 0,
      runIds: reaped?.runIds ?? [],
      promotedRetries: promoted?.promoted ?? 0,
      resumedQueuedRuns: resumed ?? 0,
    };
  }
  let reconcile: SweepResult | null = null;
  if (input.sweeps.includes('reconcile')) {
    const outcome = await step('reconcileStrandedAssignedIssues', () => reconcileStrandedAssignedIssues(deps, scope));
    if (outcome && outcome.followUpRunIds.length > 0) await step('startRuns', () => deps.executions.start(outcome.followUpRunIds));
    reconcile = outcome?.result ?? null;
  }
  return { durationMs: Math.round(performance.now() - started), reap, reconcile, failedSteps };
}
