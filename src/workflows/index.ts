/** Every workflow the Vigil worker registers (the bundle entry point). */
export { heartbeatRunWorkflow } from './heartbeatRun.ts';
export { reapOrphanedRunsWorkflow, reconcileStrandedWorkWorkflow } from './recoverySweeps.ts';
