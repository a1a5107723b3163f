/**
 * R14 step 2 when no worker watches the run's agent (issue 13): a run cancelled while its worker
 * was down. Runs on the agent's host task queue, so the first worker back on that host ends the
 * group through the supervisor, whatever attempt of the run's agent is running.
 */
import type { ActivityDeps } from './deps.ts';
import { endSupervisedAgent } from '../adapters/supervisor/client.ts';
import { MAX_AGENT_STARTS_PER_RUN, supervisionKey } from '../adapters/superviseProcess.ts';
import { runWorkflowId } from '../domain/runWorkflowId.ts';


export interface TerminateAgentInput {
  runId: string;
  graceSec: number;
}

export async function terminateAgent(deps: ActivityDeps, input: TerminateAgentInput): Promise<{ ended: boolean }> {
  let ended = false;
  for (let attempt = 1; attempt <= MAX_AGENT_STARTS_PER_RUN; attempt++) {
    const outcome = await endSupervisedAgent(deps.agents.supervisorDir, supervisionKey(input.runId, attempt), Math.max(1, input.graceSec) * 1000);
    ended ||= outcome === 'ended';
  }
  deps.logger.info('cancelled run: its unwatched agent was ended on its host', { runId: input.runId, workflowId: runWorkflowId(input.runId), ended });
  return { ended };
}
