/** Every workflow the Vigil worker registers (the bundle entry point). */
export { heartbeatRunWorkflow } from './heartbeatRun.ts';
export { recoverySweeperWorkflow } from './recoverySweeper.ts';
// R70: the tick each agent's heartbeat Schedule starts (temporal/heartbeatSchedules.ts).
export { heartbeatTimerWorkflow } from './heartbeatTimer.ts';
// The per-tick sweeps of the Schedules Vigil used before the sweeper: registered until no
// execution an old Schedule started can still be open (docs/workflow-versioning.md).
export { reapOrphanedRunsWorkflow, reconcileStrandedWorkWorkflow } from './recoverySweeps.ts';
