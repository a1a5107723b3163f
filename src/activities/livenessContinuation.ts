/**
 * R46/R47: a run that ended `plan_only` or `empty_response` on an assigned issue gets a bounded
 * number of liveness continuations (default 2 per lineage): a wake that tells the agent to take
 * the first concrete action. Once they are used up, the issue gets one comment saying so.
 * Runs after the finalize transaction commits; every step is idempotent (the wake has an
 * idempotency key, the comment is looked up first), so a retried activity does nothing twice.
 */
import type { ActivityDeps } from './deps.ts';
import { boundIssueId } from '../store/json.ts';
import { getInvocationBlock } from '../store/budget.ts';
import { enqueueWakeup } from '../store/wakeups.ts';
import { LIVENESS_CONTINUATION_REASON, MAX_LIVENESS_CONTINUATIONS } from '../domain/recoveryKinds.ts';
import { DEFAULT_CONTINUATION_INSTRUCTION, LIVENESS_EXHAUSTED_PREFIX, livenessExhaustedComment, recoveryEventTexts } from '../domain/recoveryTexts.ts';
import { truncateReason } from '../domain/liveness.ts';
import { runLogFields } from '../runLogContext.ts';

const CONTINUABLE_AGENT_STATUSES = ['active', 'idle', 'running', 'error'];

/** Returns the continuation run to start, if one was queued. */
export async function applyLivenessContinuation(deps: ActivityDeps, runId: string): Promise<string[]> {
  const { prisma } = deps;
  const run = await prisma.heartbeatRun.findUnique({ where: { id: runId } });
  if (!run || (run.livenessState !== 'plan_only' && run.livenessState !== 'empty_response')) return [];
  const issueId = boundIssueId(run.contextSnapshot);
  if (!issueId) return [];
  // R46.1/R46.3: the skips, in the rule's order.
  const [issue, agent] = await Promise.all([prisma.issue.findUnique({ where: { id: issueId } }), prisma.agent.findUnique({ where: { id: run.agentId } })]);
  if (!issue || !agent || issue.companyId !== run.companyId || agent.companyId !== run.companyId) return [];
  if (issue.assigneeAgentId !== run.agentId) return [];
  if (issue.status !== 'todo' && issue.status !== 'in_progress') return [];
  if (issue.executionState !== null) return [];
  if (!CONTINUABLE_AGENT_STATUSES.includes(agent.status)) return [];
  if (await getInvocationBlock(prisma, { companyId: run.companyId, agentId: agent.id, issueId, projectId: issue.projectId })) return [];

  const nextAttempt = run.continuationAttempt + 1;
  if (run.continuationAttempt >= MAX_LIVENESS_CONTINUATIONS) {
    // R46.4: exhausted — say so once, on the run and on the issue.
    const suffix = recoveryEventTexts.continuationExhaustedSuffix;
    if (!(run.livenessReason ?? '').endsWith(suffix)) {
      await prisma.heartbeatRun.update({ where: { id: run.id }, data: { livenessReason: truncateReason(`${run.livenessReason ?? ''}${suffix}`) } });
    }
    const posted = await prisma.issueComment.count({ where: { issueId, createdByRunId: run.id, body: { startsWith: LIVENESS_EXHAUSTED_PREFIX } } });
    if (posted === 0) {
      await prisma.issueComment.create({
        data: {
          companyId: run.companyId,
          issueId,
          authorAgentId: agent.id,
          createdByRunId: run.id,
          body: livenessExhaustedComment({
            livenessState: run.livenessState,
            attemptsUsed: run.continuationAttempt,
            maxAttempts: MAX_LIVENESS_CONTINUATIONS,
            livenessReason: run.livenessReason,
          }),
        },
      });
      deps.metrics.recoveryAction('liveness_continuation_exhausted');
    }
    return [];
  }
  // R46.2/R46.5: one wake per (issue, source run, state, attempt).
  const idempotencyKey = `${LIVENESS_CONTINUATION_REASON}:${issueId}:${run.id}:${run.livenessState}:${nextAttempt}`;
  const duplicate = await prisma.agentWakeupRequest.count({
    where: { companyId: run.companyId, idempotencyKey, status: { in: ['queued', 'deferred_issue_execution', 'completed'] } },
  });
  if (duplicate > 0) return [];
  const instruction = run.nextAction ?? DEFAULT_CONTINUATION_INSTRUCTION;
  const result = await enqueueWakeup(prisma, agent, {
    source: 'automation',
    triggerDetail: 'system',
    reason: LIVENESS_CONTINUATION_REASON,
    idempotencyKey,
    requestedByActorType: 'system',
    requestedByActorId: 'heartbeat',
    payload: {
      issueId,
      sourceRunId: run.id,
      livenessState: run.livenessState,
      livenessReason: run.livenessReason,
      continuationAttempt: nextAttempt,
      maxContinuationAttempts: MAX_LIVENESS_CONTINUATIONS,
      instruction,
    },
    contextSnapshot: {
      issueId,
      taskId: issueId,
      taskKey: issueId,
      wakeReason: LIVENESS_CONTINUATION_REASON,
      livenessContinuationAttempt: nextAttempt,
      livenessContinuationMaxAttempts: MAX_LIVENESS_CONTINUATIONS,
      livenessContinuationSourceRunId: run.id,
      livenessContinuationState: run.livenessState,
      livenessContinuationReason: run.livenessReason,
      livenessContinuationInstruction: instruction,
    },
  });
  if (result.kind !== 'queued' && result.kind !== 'coalesced') return [];
  await prisma.heartbeatRun.update({ where: { id: result.run.id }, data: { continuationAttempt: nextAttempt } });
  deps.metrics.recoveryAction('liveness_continuation');
  deps.logger.info('liveness continuation queued', { ...runLogFields(run), continuationRunId: result.run.id, attempt: nextAttempt, livenessState: run.livenessState });
  return result.kind === 'queued' ? [result.run.id] : [];
}
