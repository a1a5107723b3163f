/**
 * The activities a run workflow calls, bound to the worker's dependencies. Workflows import only
 * the type `RunActivities` and reach these through `proxyActivities`.
 */
import type { ActivityDeps } from './deps.ts';
import { claimRun } from './claimRun.ts';
import { executeAdapter } from './executeAdapter.ts';
import { finalizeRun, type FinalizeInput } from './finalizeRun.ts';

export function createRunActivities(deps: ActivityDeps) {
  return {
    claimRun: (runId: string) => claimRun(deps, runId),
    executeAdapter: (runId: string) => executeAdapter(deps, runId),
    finalizeRun: (input: FinalizeInput) => finalizeRun(deps, input),
  };
}

export type RunActivities = ReturnType<typeof createRunActivities>;
export type { ClaimResult } from './claimRun.ts';
export type { FinalizeResult } from './finalizeRun.ts';
