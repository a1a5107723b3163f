/**
 * The periodic recovery sweeps (R68), each started by a Temporal Schedule with overlap policy
 * SKIP (`temporal/schedules.ts`), so a slow sweep is never run twice at once by the scheduler.
 * Both are also safe to run concurrently with themselves (R65): the API's recovery routes call
 * the same activity code directly.
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
