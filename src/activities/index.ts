/**
 * The activities Vigil's workflows call, bound to the worker's dependencies. Workflows import
 * only the types and reach these through `proxyActivities` / `proxyLocalActivities`.
 */
import type { ActivityDeps } from './deps.ts';
import { claimRun } from './claimRun.ts';
import { executeAdapter, type ExecuteOptions } from './executeAdapter.ts';
import { terminateAgent, type TerminateAgentInput } from './terminateAgent.ts';
import { afterRunFinalized, finalizeRun, type AftercareInput, type FinalizeInput } from './finalizeRun.ts';
import { promoteDueScheduledRetries, promoteScheduledRetry } from './scheduledRetries.ts';
import { reapOrphanedRuns, type ReapOptions } from './reaper.ts';
import { reconcileStrandedAssignedIssues } from './strandedSweep.ts';
import { resumeQueuedRuns } from './resumeQueuedRuns.ts';
import { runRecoveryPass, type RecoveryPassInput } from './recoveryPass.ts';
import { enqueueTimerWake } from './timerWake.ts';
import type { TimerTickInput } from '../domain/timerTick.ts';

export function createRunActivities(deps: ActivityDeps) {
  return {
    // One run (workflows/heartbeatRun.ts).
    claimRun: (runId: string) => claimRun(deps, runId),
    executeAdapter: (runId: string, options?: ExecuteOptions) => executeAdapter(deps, runId, options),
    terminateAgent: (input: TerminateAgentInput) => terminateAgent(deps, input),
    finalizeRun: (input: FinalizeInput) => finalizeRun(deps, input),
    afterRunFinalized: (input: AftercareInput) => afterRunFinalized(deps, input),
    promoteScheduledRetry: (runId: string) => promoteScheduledRetry(deps, runId),
    startRuns: (runIds: string[]) => deps.executions.start(runIds),
    // R68's chain, one pass of the recovery sweeper (workflows/recoverySweeper.ts).
    runRecoveryPass: (input: RecoveryPassInput) => runRecoveryPass(deps, input),
    // R70: one agent's timer tick (workflows/heartbeatTimer.ts).
    enqueueTimerWake: (input: TimerTickInput) => enqueueTimerWake(deps, input),
    // Its steps, as the Schedule-started sweeps of earlier Vigils call them (workflows/recoverySweeps.ts).
    reapOrphanedRuns: (options: ReapOptions) => reapOrphanedRuns(deps, options),
    promoteDueScheduledRetries: (scope: { companyId?: string }) => promoteDueScheduledRetries(deps, new Date(), scope),
    resumeQueuedRuns: (scope: { companyId?: string }) => resumeQueuedRuns(deps, scope),
    reconcileStrandedAssignedIssues: (scope: { companyId?: string }) => reconcileStrandedAssignedIssues(deps, scope),
  };
}

export type RunActivities = ReturnType<typeof createRunActivities>;
export type { ClaimResult } from './claimRun.ts';
export type { FinalizeResult } from './finalizeRun.ts';
