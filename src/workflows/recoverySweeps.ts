/**
 * The per-tick sweeps that Vigil's Temporal Schedules started before the recovery sweeper
 * (`recoverySweeper.ts`) replaced them. Nothing starts them any more; they stay registered, and
 * unchanged, so a tick an old Schedule started just before an upgrade still finishes, and their
 * recorded histories (`test/replay/before-recovery-sweeper/`) still replay. Remove both, and that
 * folder, once no such execution is open (`temporal workflow count --query
 * "WorkflowType='reapOrphanedRunsWorkflow' AND ExecutionStatus='Running'"`, and the same for the other).
 */
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import type { RunActivities } from '../activities/index.ts';

const SWEEP_OPTIONS: ActivityOptions = {
  startToCloseTimeout: '10 minutes',
  retry: { initialInterval: '1 second', maximumInterval: '30 seconds', maximumAttempts: 3 },
};
/** Each step carries the one-line summary Temporal UI shows beside the activity type. */
const step = (summary: string) => proxyActivities<RunActivities>({ ...SWEEP_OPTIONS, summary });
const sweeps = {
  reapOrphanedRuns: step('reap orphaned runs').reapOrphanedRuns,
  promoteDueScheduledRetries: step('promote due scheduled retries').promoteDueScheduledRetries,
  startRuns: step('start follow-up runs').startRuns,
  resumeQueuedRuns: step('resume queued runs').resumeQueuedRuns,
  reconcileStrandedAssignedIssues: step('reconcile stranded issues').reconcileStrandedAssignedIssues,
};

export interface ReapSweepInput {
  /** R68: 0 at startup (every orphan counts), 5 minutes on the periodic tick. */
  staleThresholdMs: number;
  /** Only this company (tests, targeted runs); the schedule sweeps every company. */
  companyId?: string;
}

export interface ReapSweepResult {
  reaped: number;
  runIds: string[];
  promotedRetries: number;
  resumedQueuedRuns: number;
}

/** R68's chain, first half: reap orphans (R16–R26), promote due retries (R40), resume queued runs (R69). */
export async function reapOrphanedRunsWorkflow(input: ReapSweepInput): Promise<ReapSweepResult> {
  const reaped = await sweeps.reapOrphanedRuns({ staleThresholdMs: input.staleThresholdMs, companyId: input.companyId });
  const scope = { companyId: input.companyId };
  const promoted = await sweeps.promoteDueScheduledRetries(scope);
  await sweeps.startRuns([...reaped.followUpRunIds, ...promoted.runIds]);
  const resumed = await sweeps.resumeQueuedRuns(scope);
  return { reaped: reaped.reaped, runIds: reaped.runIds, promotedRetries: promoted.promoted, resumedQueuedRuns: resumed };
}

/** R68's chain, second half: the stranded-work sweep (R48–R55) with its escalations (R56–R65). */
export async function reconcileStrandedWorkWorkflow(scope: { companyId?: string } = {}) {
  const outcome = await sweeps.reconcileStrandedAssignedIssues(scope);
  await sweeps.startRuns(outcome.followUpRunIds);
  return outcome.result;
}
