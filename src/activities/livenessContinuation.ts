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
import { wakeSkipDecision, withDecisionReference, type RecoveryDecisionDraft, type RecoveryDecisionKind, type RecoveryEvidence, type RecoveryReason } from '../domain/recoveryDecision.ts';
import { newDecisionId, recordDecisionOnce } from '../store/recoveryDecisions.ts';
import type { HeartbeatRun } from '../store/db.ts';

const CONTINUABLE_AGENT_STATUSES = ['active', 'idle', 'running', 'error'];

export interface ContinuationOutcome {
  /** The continuation run to start, if one was queued. */
  followUpRunIds: string[];
  /** V8: the R46 decision for the run, one line (recorded once per source run). */
  decisionLine: string | null;
}

export async function applyLivenessContinuation(deps: ActivityDeps, runId: string): Promise<ContinuationOutcome> {
  const { prisma } = deps;
  const run = await prisma.heartbeatRun.findUnique({ where: { id: runId } });
  const nothing: ContinuationOutcome = { followUpRunIds: [], decisionLine: null };
  if (!run || (run.livenessState !== 'plan_only' && run.livenessState !== 'empty_response')) return nothing;
  const issueId = boundIssueId(run.contextSnapshot);
  if (!issueId) return nothing;
  const decide = (decision: RecoveryDecisionKind, reason: RecoveryReason, evidence: RecoveryEvidence = {}, createdRunId: string | null = null) =>
    recordContinuationDecision(deps, run, issueId, { decision, reason, evidence, createdRunId });
  const skip = async (reason: RecoveryReason): Promise<ContinuationOutcome> => ({ followUpRunIds: [], decisionLine: (await decide('none', reason)).line });
  // R46.1/R46.3: the skips, in the rule's order.
  const [issue, agent] = await Promise.all([prisma.issue.findUnique({ where: { id: issueId } }), prisma.agent.findUnique({ where: { id: run.agentId } })]);
  if (!issue || !agent || issue.companyId !== run.companyId || agent.companyId !== run.companyId) return skip('no_issue');
  if (issue.assigneeAgentId !== run.agentId) return skip('not_assigned_to_agent');
  if (issue.status !== 'todo' && issue.status !== 'in_progress') return skip('issue_not_open');
  if (issue.executionState !== null) return skip('issue_in_execution_stage');
  if (!CONTINUABLE_AGENT_STATUSES.includes(agent.status)) return skip('agent_not_invokable');
  if (await getInvocationBlock(prisma, { companyId: run.companyId, agentId: agent.id, issueId, projectId: issue.projectId })) return skip('budget_blocked');

  const nextAttempt = run.continuationAttempt + 1;
  if (run.continuationAttempt >= MAX_LIVENESS_CONTINUATIONS) {
    // The decision first: the comment names it, and a retried activity finds the same one.
    const decided = await decide('none', 'continuations_exhausted', { attempt: run.continuationAttempt, maxAttempts: MAX_LIVENESS_CONTINUATIONS });
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
          body: withDecisionReference(
            livenessExhaustedComment({
              livenessState: run.livenessState,
              attemptsUsed: run.continuationAttempt,
              maxAttempts: MAX_LIVENESS_CONTINUATIONS,
              livenessReason: run.livenessReason,
            }),
            decided.id,
          ),
        },
      });
      deps.metrics.recoveryAction('liveness_continuation_exhausted');
    }
    return { followUpRunIds: [], decisionLine: decided.line };
  }
  // R46.2/R46.5: one wake per (issue, source run, state, attempt).
  const idempotencyKey = `${LIVENESS_CONTINUATION_REASON}:${issueId}:${run.id}:${run.livenessState}:${nextAttempt}`;
  const continuation = (createdRunId: string | null) => decide('continuation', 'no_progress', { attempt: nextAttempt, maxAttempts: MAX_LIVENESS_CONTINUATIONS }, createdRunId);
  const duplicate = await prisma.agentWakeupRequest.findFirst({
    where: { companyId: run.companyId, idempotencyKey, status: { in: ['queued', 'deferred_issue_execution', 'completed'] } },
    select: { runId: true },
  });
  // An earlier attempt of this activity queued it: its decision stands (recorded now if that attempt died first).
  if (duplicate) return { followUpRunIds: [], decisionLine: (await continuation(duplicate.runId)).line };
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
  if (result.kind === 'skipped') return { followUpRunIds: [], decisionLine: (await decide('none', wakeSkipDecision(result.reason).reason)).line };
  if (result.kind === 'deferred') return { followUpRunIds: [], decisionLine: (await continuation(null)).line };
  await prisma.heartbeatRun.update({ where: { id: result.run.id }, data: { continuationAttempt: nextAttempt } });
  deps.metrics.recoveryAction('liveness_continuation');
  deps.logger.info('liveness continuation queued', { ...runLogFields(run), continuationRunId: result.run.id, attempt: nextAttempt, livenessState: run.livenessState });
  const decided = await continuation(result.run.id);
  return { followUpRunIds: result.kind === 'queued' ? [result.run.id] : [], decisionLine: decided.line };
}

/**
 * V8: R46's one decision for a source run (dedupe key `R46:<runId>`): a retried activity finds the
 * decision its first attempt recorded and answers with it.
 */
async function recordContinuationDecision(
  deps: ActivityDeps,
  run: HeartbeatRun,
  issueId: string,
  what: Pick<RecoveryDecisionDraft, 'decision' | 'reason' | 'evidence' | 'createdRunId'>,
): Promise<{ id: string; line: string }> {
  const draft: RecoveryDecisionDraft = {
    id: newDecisionId(),
    companyId: run.companyId,
    issueId,
    runId: run.id,
    agentId: run.agentId,
    source: 'run_ending',
    rule: 'R46',
    ...what,
    evidence: { runStatus: run.status, livenessState: run.livenessState, lastUsefulActionAt: run.lastUsefulActionAt?.toISOString() ?? null, ...what.evidence },
    createdIssueId: null,
  };
  return recordDecisionOnce(deps.prisma, draft, `R46:${run.id}`);
}
