/** The baseline: a bare workflow with one no-op activity, on the same Temporal server. */
import { proxyActivities } from '@temporalio/workflow';

export interface BaselineActivities {
  noop(startedAtMs: number): Promise<number>;
}

const { noop } = proxyActivities<BaselineActivities>({ startToCloseTimeout: '1 minute', heartbeatTimeout: '10 seconds' });

export async function baselineWorkflow(calledAtMs: number): Promise<number> {
  return noop(calledAtMs);
}
