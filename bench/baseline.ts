/**
 * The baselines: bare workflows with one activity each, on the same Temporal server as Vigil.
 * - `baselineWorkflow`: the activity does nothing (what Temporal alone costs);
 * - `spawnBaselineWorkflow`: the activity spawns the no-op process Vigil's bench agents run
 *   (what the child process adds; bench/baselineActivities.ts).
 */
import { proxyActivities } from '@temporalio/workflow';

export interface BaselineActivities {
  noop(startedAtMs: number): Promise<number>;
  spawnNoop(startedAtMs: number): Promise<number>;
}

const { noop, spawnNoop } = proxyActivities<BaselineActivities>({ startToCloseTimeout: '1 minute', heartbeatTimeout: '10 seconds' });

export async function baselineWorkflow(calledAtMs: number): Promise<number> {
  return noop(calledAtMs);
}

export async function spawnBaselineWorkflow(calledAtMs: number): Promise<number> {
  return spawnNoop(calledAtMs);
}
