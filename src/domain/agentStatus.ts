/**
 * R10/R11: what an agent's status becomes after one of its runs finishes.
 */
import type { RunStatus } from './runStatus.ts';

export type FinalizeOutcome = Extract<RunStatus, 'succeeded' | 'failed' | 'cancelled' | 'timed_out'>;

export interface AgentFinalizeDecision {
  /** False for paused/terminated agents: nothing is written and no telemetry fires. */
  update: boolean;
  status?: 'running' | 'idle' | 'error';
  /** R11: the agent had never heartbeated, so "agent first heartbeat" telemetry fires. */
  firstHeartbeat: boolean;
}

export function decideAgentFinalize(input: {
  agentStatus: string;
  lastHeartbeatAt: Date | null;
  otherRunningRuns: number;
  outcome: FinalizeOutcome;
  /** The run failed on its provider's usage limit: a wait, not a broken agent. */
  providerQuota?: boolean;
}): AgentFinalizeDecision {
  if (input.agentStatus === 'paused' || input.agentStatus === 'terminated') {
    return { update: false, firstHeartbeat: false };
  }
  let status: AgentFinalizeDecision['status'];
  if (input.otherRunningRuns > 0) status = 'running';
  else if (input.outcome === 'succeeded' || input.outcome === 'cancelled' || input.providerQuota) status = 'idle';
  else status = 'error';
  return { update: true, status, firstHeartbeat: input.lastHeartbeatAt === null };
}
