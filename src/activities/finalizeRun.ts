/**
 * R8: the one post-terminal pipeline every finished run goes through — execution end, adapter
 * failure, lost worker, or cancellation (R14) — in one transaction, so a retried activity either
 * did all of it or none of it.
 */
import type { Prisma } from '../store/db.ts';
import type { ActivityDeps } from './deps.ts';
import { terminalWriteFor, type ExecutionOutcome } from '../domain/runOutcome.ts';
import { isTerminalRunStatus, wakeStatusForRunOutcome } from '../domain/runStatus.ts';
import { decideAgentFinalize } from '../domain/agentStatus.ts';
import { classifyFailedRun } from '../domain/liveness.ts';
import { heartbeatPolicyOf } from '../domain/heartbeatPolicy.ts';
import { runTexts } from '../domain/texts.ts';
import { appendRunEvent } from '../store/runEvents.ts';
import { logActivity } from '../store/activityLog.ts';
import { asObject, boundIssueId, stringOrNull, toJson } from '../store/json.ts';
import { releaseRunLeases } from './leases.ts';
import { releaseIssueExecution } from './releaseAndPromote.ts';
import { lockAgentOfRun } from '../store/locks.ts';
import { claimableQueuedRunIds } from '../store/agentSlots.ts';

type Tx = Prisma.TransactionClient;
type Agent = NonNullable<Awaited<ReturnType<Tx['agent']['findUnique']>>>;

export interface FinalizeInput {
  runId: string;
  outcome: ExecutionOutcome;
}

export interface FinalizeResult {
  status: string;
  errorCode: string | null;
  /** The run was already terminal: nothing was written (R5: its status stands). */
  alreadyTerminal: boolean;
  /** Queued runs of the same agent that now hold a free slot (the workflow signals them). */
  nextQueuedRunIds: string[];
}

/** R8 step 5: a succeeded issue-bound run posts its summary once, authored by the agent. */
async function postSuccessComment(tx: Tx, run: { id: string; companyId: string; agentId: string }, issueId: string, resultJson: Record<string, unknown>) {
  const body = [resultJson.summary, resultJson.result, resultJson.message].map(stringOrNull).find((text) => text !== null);
  if (!body) return;
  const already = await tx.issueComment.count({ where: { issueId, createdByRunId: run.id } });
  if (already > 0) return;
  // The issue may have been deleted meanwhile: then there is nothing to comment on.
  const touched = await tx.issue.updateMany({ where: { id: issueId, companyId: run.companyId }, data: { updatedAt: new Date() } });
  if (touched.count === 0) return;
  await tx.issueComment.create({
    data: { companyId: run.companyId, issueId, authorAgentId: run.agentId, createdByRunId: run.id, body },
  });
}

/**
 * R10/R11: agent status after the run. Returns true when this was the agent's first heartbeat;
 * the telemetry hook is then called after the transaction commits, so a retried finalize
 * never reports it twice.
 */
async function finalizeAgent(tx: Tx, agent: Agent, outcome: 'succeeded' | 'failed' | 'cancelled' | 'timed_out'): Promise<boolean> {
  const agentId = agent.id;
  const otherRunningRuns = await tx.heartbeatRun.count({ where: { agentId, status: 'running' } });
  const decision = decideAgentFinalize({ agentStatus: agent.status, lastHeartbeatAt: agent.lastHeartbeatAt, otherRunningRuns, outcome });
  if (!decision.update) return false;
  await tx.agent.update({ where: { id: agentId }, data: { status: decision.status, lastHeartbeatAt: new Date() } });
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

/** The queued runs that now hold a free slot of the agent (R69): their workflows are told so. */
function nextQueuedRunIds(tx: Tx, agent: Agent | null): Promise<string[]> {
  return agent ? claimableQueuedRunIds(tx, agent.id, heartbeatPolicyOf(agent.runtimeConfig).maxConcurrentRuns) : Promise.resolve([]);
}

export async function finalizeRun(deps: ActivityDeps, input: FinalizeInput): Promise<FinalizeResult> {
  const { result, firstHeartbeatOf } = await finalizeInTransaction(deps, input);
  if (firstHeartbeatOf) await deps.telemetry.agentFirstHeartbeat(firstHeartbeatOf);
  return result;
}

async function finalizeInTransaction(
  deps: ActivityDeps,
  input: FinalizeInput,
): Promise<{ result: FinalizeResult; firstHeartbeatOf: { agentRole: string; agentId: string; companyId: string } | null }> {
  return deps.prisma.$transaction(async (tx) => {
    await lockAgentOfRun(tx, input.runId);
    await tx.$queryRaw`SELECT id FROM heartbeat_runs WHERE id = ${input.runId}::uuid FOR NO KEY UPDATE`;
    const run = await tx.heartbeatRun.findUniqueOrThrow({ where: { id: input.runId } });
    const agent = await tx.agent.findUnique({ where: { id: run.agentId } });
    if (isTerminalRunStatus(run.status)) {
      // Someone else finished it (a light claim gate, a direct cancel): its status stands, but
      // leases must still end and waiting runs may take the slot.
      await releaseRunLeases(tx, run);
      const result = { status: run.status, errorCode: run.errorCode, alreadyTerminal: true, nextQueuedRunIds: await nextQueuedRunIds(tx, agent) };
      return { result, firstHeartbeatOf: null };
    }
    const write = terminalWriteFor(
      {
        adapterType: agent?.adapterType ?? 'process',
        adapterConfig: asObject(agent?.adapterConfig),
        priorResultJson: run.resultJson ? asObject(run.resultJson) : null,
        processPid: run.processPid,
        processGroupId: run.processGroupId,
      },
      input.outcome,
    );
    const now = new Date();
    // R8 step 1 (R5): the terminal write.
    const updated = await tx.heartbeatRun.update({
      where: { id: run.id },
      data: {
        status: write.status,
        finishedAt: now,
        error: write.error,
        errorCode: write.errorCode,
        exitCode: write.exitCode,
        signal: write.signal,
        resultJson: toJson(write.resultJson),
        stdoutExcerpt: write.stdoutExcerpt ?? run.stdoutExcerpt,
        stderrExcerpt: write.stderrExcerpt ?? run.stderrExcerpt,
        // R8 step 2 (R42): liveness is classified on every path except cancellation (R14).
        ...(input.outcome.kind === 'cancelled' ? {} : classifyFailedRun(write.status, write.errorCode)),
      },
    });
    // R8 step 3: wake status and the lifecycle event.
    if (run.wakeupRequestId) {
      await tx.agentWakeupRequest.update({
        where: { id: run.wakeupRequestId },
        data: { status: wakeStatusForRunOutcome(write.status), finishedAt: now, error: write.error },
      });
    }
    await appendRunEvent(tx, {
      companyId: run.companyId,
      runId: run.id,
      agentId: run.agentId,
      eventType: 'lifecycle',
      level: write.status === 'succeeded' ? 'info' : write.status === 'cancelled' ? 'warn' : 'error',
      message: runTexts.runFinished(write.status),
      payload: { status: write.status, errorCode: write.errorCode, exitCode: write.exitCode, signal: write.signal },
    });
    // R8 step 5.
    const issueId = boundIssueId(run.contextSnapshot);
    if (write.status === 'succeeded' && issueId) await postSuccessComment(tx, run, issueId, write.resultJson);
    // R8 step 8 (R28).
    await releaseIssueExecution(tx, updated);
    // R8 step 10: the agent's runtime state.
    if (agent) {
      await tx.agentRuntimeState.upsert({
        where: { agentId: agent.id },
        create: { agentId: agent.id, companyId: agent.companyId, adapterType: agent.adapterType, lastRunId: run.id, lastRunStatus: write.status, lastError: write.error },
        update: { lastRunId: run.id, lastRunStatus: write.status, lastError: write.error },
      });
    }
    // R8 step 11 (R10, R11).
    const firstHeartbeat = agent ? await finalizeAgent(tx, agent, write.status) : false;
    // R8 finally: leases (R27).
    await releaseRunLeases(tx, updated);
    const result = { status: write.status, errorCode: write.errorCode, alreadyTerminal: false, nextQueuedRunIds: await nextQueuedRunIds(tx, agent) };
    return { result, firstHeartbeatOf: firstHeartbeat && agent ? { agentRole: agent.role, agentId: agent.id, companyId: agent.companyId } : null };
  });
}
