/**
 * R8 steps 10–11, the last stage of a run's ending (finalizeRun.ts owns the order): the agent's
 * runtime state, and its status after the run (R10, R11), which finalize writes in its closing
 * statement. Inside finalize's transaction.
 */
import type { Prisma } from '../../store/db.ts';
import { decideAgentFinalize } from '../../domain/agentStatus.ts';
import { logActivity } from '../../store/activityLog.ts';
import { recordAgentRunState } from '../../store/runEndingWrites.ts';
import type { AgentRow, EndedRun } from './terminalWrite.ts';

type Tx = Prisma.TransactionClient;

export interface AgentSettlement {
  /** R8 step 11: the agent's new status, written by finalize's closing statement; null: unchanged. */
  statusWrite: { agentId: string; status: string } | null;
  /**
   * This was the agent's first heartbeat: the telemetry hook is called after the transaction
   * commits, so a retried finalize never reports it twice.
   */
  firstHeartbeat: boolean;
}

/** R8 steps 10–11: the runtime state is written here; the status decided here is written with the closing statement. */
export async function settleAgentAfterRun(tx: Tx, agent: AgentRow, ended: EndedRun, providerQuota: boolean): Promise<AgentSettlement> {
  const status = ended.write.status;
  // R8 step 10: the agent's runtime state (with the count step 11 decides on).
  const { otherRunningRuns } = await recordAgentRunState(tx, {
    agentId: agent.id,
    companyId: agent.companyId,
    adapterType: agent.adapterType,
    runId: ended.before.id,
    runStatus: status,
    error: ended.error,
  });
  // R8 step 11 (R10, R11).
  const decision = decideAgentFinalize({ agentStatus: agent.status, lastHeartbeatAt: agent.lastHeartbeatAt, otherRunningRuns, outcome: status, providerQuota });
  if (!decision.update || !decision.status) return { statusWrite: null, firstHeartbeat: false };
  if (decision.firstHeartbeat) {
    // R11: the role, never the adapter type.
    await logActivity(tx, {
      companyId: agent.companyId,
      action: 'telemetry.agent_first_heartbeat',
      entityType: 'agent',
      entityId: agent.id,
      agentId: agent.id,
      details: { agentRole: agent.role, agentId: agent.id },
    });
  }
  return { statusWrite: { agentId: agent.id, status: decision.status }, firstHeartbeat: decision.firstHeartbeat };
}
