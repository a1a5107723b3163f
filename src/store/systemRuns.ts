/**
 * Runs the system creates on its own (T2/T3 of R1): the process-loss retry (R23), the immediate
 * recovery run (R33), the bounded transient retry (R38) and deferred-wake promotion (R29). Each is
 * one `automation`/`system` wake linked to one new run, written inside the caller's transaction
 * so the wake, the run and the issue's execution lock move together. The lock helpers below are
 * the one place an issue's execution lock is taken over or given up by a run.
 */
import { randomUUID } from 'node:crypto';
import type { AgentWakeupRequest, Prisma } from './db.ts';
import { modelRows } from './modelRows.ts';
import { agentNameKey } from '../domain/heartbeatPolicy.ts';
import { toJson, type JsonObject } from './json.ts';

type Tx = Prisma.TransactionClient;

export interface SystemRunInput {
  companyId: string;
  agentId: string;
  wake: {
    source?: 'automation' | 'assignment';
    reason: string;
    payload: JsonObject;
  };
  run: {
    status?: 'queued' | 'scheduled_retry';
    contextSnapshot: JsonObject;
    retryOfRunId: string | null;
    processLossRetryCount?: number;
    continuationAttempt?: number;
    scheduledRetryAt?: Date;
    scheduledRetryAttempt?: number;
    scheduledRetryReason?: string;
  };
}

export async function createSystemRun(tx: Tx, input: SystemRunInput) {
  const runId = randomUUID();
  const source = input.wake.source ?? 'automation';
  const wake = await tx.agentWakeupRequest.create({
    data: {
      companyId: input.companyId,
      agentId: input.agentId,
      source,
      triggerDetail: 'system',
      reason: input.wake.reason,
      payload: toJson(input.wake.payload),
      status: 'queued',
      requestedByActorType: 'system',
      runId,
    },
  });
  return tx.heartbeatRun.create({
    data: {
      id: runId,
      companyId: input.companyId,
      agentId: input.agentId,
      invocationSource: source,
      triggerDetail: 'system',
      status: input.run.status ?? 'queued',
      wakeupRequestId: wake.id,
      contextSnapshot: toJson(input.run.contextSnapshot),
      retryOfRunId: input.run.retryOfRunId,
      processLossRetryCount: input.run.processLossRetryCount ?? 0,
      continuationAttempt: input.run.continuationAttempt ?? 0,
      scheduledRetryAt: input.run.scheduledRetryAt ?? null,
      scheduledRetryAttempt: input.run.scheduledRetryAttempt ?? 0,
      scheduledRetryReason: input.run.scheduledRetryReason ?? null,
    },
  });
}

/**
 * Moves an issue's execution lock to `newRunId`. With `onlyFrom`, only when the lock is still held
 * by that run (R23, R38); returns whether the lock moved.
 */
export async function moveExecutionLock(
  tx: Tx,
  input: { issueId: string; newRunId: string; agentName: string; onlyFrom?: string; onlyAssignee?: string },
): Promise<boolean> {
  const moved = await tx.issue.updateMany({
    where: {
      id: input.issueId,
      ...(input.onlyFrom !== undefined ? { executionRunId: input.onlyFrom } : {}),
      ...(input.onlyAssignee !== undefined ? { assigneeAgentId: input.onlyAssignee } : {}),
    },
    data: { executionRunId: input.newRunId, executionAgentNameKey: agentNameKey(input.agentName), executionLockedAt: new Date() },
  });
  return moved.count > 0;
}

/** Clears an issue's execution lock if `runId` still holds it (R28.4; R4 gates; R40 drops). */
export async function releaseExecutionLock(tx: Tx, issueId: string, runId: string): Promise<boolean> {
  const released = await tx.issue.updateMany({
    where: { id: issueId, executionRunId: runId },
    data: { executionRunId: null, executionAgentNameKey: null, executionLockedAt: null },
  });
  return released.count > 0;
}

/**
 * R28.4 + R29's look-up in one statement: clears the issue's execution lock if `runId` holds it,
 * and returns the issue's parked (`deferred_issue_execution`) wakes, oldest first.
 */
export async function releaseExecutionLockAndListParked(tx: Tx, issueId: string, runId: string): Promise<AgentWakeupRequest[]> {
  const rows = await tx.$queryRaw<Array<Record<string, unknown>>>`
    WITH released AS (
      UPDATE issues SET execution_run_id = NULL, execution_agent_name_key = NULL, execution_locked_at = NULL, updated_at = ${new Date()}
      WHERE id = ${issueId}::uuid AND execution_run_id = ${runId}::uuid
    )
    SELECT * FROM agent_wakeup_requests
    WHERE status = 'deferred_issue_execution' AND payload->>'issueId' = ${issueId}
    ORDER BY requested_at ASC`;
  return modelRows<AgentWakeupRequest>(rows);
}
