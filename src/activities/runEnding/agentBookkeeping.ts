/**
 * R8 steps 10–11, the last stage of a run's ending (finalizeRun.ts owns the order): the agent's
 * runtime state and its status after the run (R10, R11). Inside finalize's transaction.
 */
import type { Prisma } from '../../store/db.ts';
import { decideAgentFinalize } from '../../domain/agentStatus.ts';
import { logActivity } from '../../store/activityLog.ts';
import { recordAgentRunState } from '../../store/runEndingWrites.ts';
import type { AgentRow, EndedRun } from './terminalWrite.ts';

type Tx = Prisma.TransactionClient;

/**
 * Returns true when this was the agent's first heartbeat; the telemetry hook is then called after
 * the transaction commits, so a retried finalize never reports it twice.
 */
export async function settleAgentAfterRun(tx: Tx, agent: AgentRow, ended: EndedRun, providerQuota: boolean): Promise<boolean> {
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
  if (!decision.update) return false;
  await tx.agent.update({ where: { id: agent.id }, data: { status: decision.status, lastHeartbeatAt: new Date() } });
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
  return decision.firstHeartbeat;
}
