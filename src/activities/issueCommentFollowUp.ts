/**
 * R73 (R8 step 7): the issue-comment policy, inside finalize's transaction. A succeeded run that
 * owed its issue a comment and left none gets one `missing_issue_comment` follow-up run, which
 * takes the issue's execution lock (so the release at step 8 finds the lock moved and does
 * nothing for this run). The decision is `domain/issueCommentPolicy.ts`; this file gathers its
 * facts, records the outcome on the run and creates the follow-up.
 */
import type { Prisma } from '../store/db.ts';
import { asObject, boundIssueId, stringOrNull } from '../store/json.ts';
import { createSystemRun, moveExecutionLock } from '../store/systemRuns.ts';
import { appendRunEvent } from '../store/runEvents.ts';
import { lockIssue } from '../store/locks.ts';
import { activePauseHoldFor } from '../store/treeHolds.ts';
import { isInvokableAgentStatus } from '../domain/runStatus.ts';
import { MISSING_ISSUE_COMMENT } from '../domain/recoveryKinds.ts';
import { recoveryEventTexts } from '../domain/recoveryTexts.ts';
import { commentExpectationOf, decideIssueCommentPolicy, type IssueCommentStatus } from '../domain/issueCommentPolicy.ts';

type Tx = Prisma.TransactionClient;

/** The run as finalize just wrote it (terminal status and liveness persisted). */
export interface CommentedRun {
  id: string;
  companyId: string;
  agentId: string;
  status: string;
  contextSnapshot: unknown;
  livenessState: string | null;
  /** Set during the run when its comment was an earlier run's, repeated under the same Idempotency-Key (issue 14 §3). */
  issueCommentSatisfiedByCommentId?: string | null;
}

export interface IssueCommentOutcome {
  status: IssueCommentStatus;
  /** The follow-up run to start, when one was queued. */
  followUpRunId: string | null;
}

/** A parked wake that came from a comment (its stored context or payload names one). */
function carriesComment(payload: unknown): boolean {
  const stored = asObject(asObject(payload)._paperclipWakeContext);
  return [stored.wakeCommentId, stored.commentId, asObject(payload).commentId].some((id) => stringOrNull(id) !== null);
}

async function hasDeferredCommentWake(tx: Tx, run: CommentedRun, issueId: string): Promise<boolean> {
  const parked = await tx.agentWakeupRequest.findMany({
    where: { companyId: run.companyId, agentId: run.agentId, status: 'deferred_issue_execution', payload: { path: ['issueId'], equals: issueId } },
    select: { payload: true },
  });
  return parked.some((wake) => carriesComment(wake.payload));
}

export async function applyIssueCommentPolicy(
  tx: Tx,
  run: CommentedRun,
  agent: { id: string; name: string; status: string } | null,
  now: Date,
): Promise<IssueCommentOutcome> {
  const context = asObject(run.contextSnapshot);
  const issueId = boundIssueId(context);
  const expectation = commentExpectationOf({ status: run.status, issueId, wakeReason: stringOrNull(context.wakeReason) });
  // `not_applicable` is the column's default: nothing to write.
  if (expectation === 'none' || issueId === null) return { status: 'not_applicable', followUpRunId: null };

  // Locked in the pipeline's order (agent, run, issue), so the lock cannot move before step 8.
  const issue = await lockIssue(tx, issueId);
  const comment = await tx.issueComment.findFirst({
    where: { issueId, createdByRunId: run.id },
    orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    select: { id: true },
  });
  const decision = decideIssueCommentPolicy({
    expectation,
    commentId: comment?.id ?? run.issueCommentSatisfiedByCommentId ?? null,
    livenessState: run.livenessState,
    deferredCommentWake: await hasDeferredCommentWake(tx, run, issueId),
    holdsExecutionLock: issue?.executionRunId === run.id,
    agentInvokable: agent !== null && isInvokableAgentStatus(agent.status),
    pauseHoldActive: (await activePauseHoldFor(tx, issueId)) !== null,
  });
  const event = (level: 'info' | 'warn', message: string, payload: Record<string, unknown>) =>
    appendRunEvent(tx, { companyId: run.companyId, runId: run.id, agentId: run.agentId, eventType: 'lifecycle', level, message, payload: { issueId, ...payload } });

  switch (decision.status) {
    case 'satisfied':
      await tx.heartbeatRun.update({ where: { id: run.id }, data: { issueCommentStatus: 'satisfied', issueCommentSatisfiedByCommentId: decision.commentId } });
      return { status: 'satisfied', followUpRunId: null };
    case 'retry_exhausted':
      await tx.heartbeatRun.update({ where: { id: run.id }, data: { issueCommentStatus: 'retry_exhausted' } });
      await event('warn', recoveryEventTexts.missingCommentRetryExhausted, { issueCommentStatus: 'retry_exhausted' });
      return { status: 'retry_exhausted', followUpRunId: null };
    case 'not_applicable':
      if (decision.standAside) await event('info', recoveryEventTexts.missingCommentStandAside[decision.standAside], { standAside: decision.standAside });
      return { status: 'not_applicable', followUpRunId: null };
    case 'retry_queued': {
      if (!agent) throw new Error('R73: a follow-up needs the run agent'); // decided only for an invokable agent
      const retry = { retryOfRunId: run.id, retryReason: MISSING_ISSUE_COMMENT.retryReason };
      // The run's own context goes along (task key, project, source): the follow-up resumes its session (R72).
      const followUp = await createSystemRun(tx, {
        companyId: run.companyId,
        agentId: agent.id,
        wake: { reason: MISSING_ISSUE_COMMENT.wakeReason, payload: { issueId, ...retry } },
        run: { contextSnapshot: { ...context, ...retry, wakeReason: MISSING_ISSUE_COMMENT.wakeReason }, retryOfRunId: run.id },
      });
      await moveExecutionLock(tx, { issueId, newRunId: followUp.id, agentName: agent.name, onlyFrom: run.id });
      await tx.heartbeatRun.update({ where: { id: run.id }, data: { issueCommentStatus: 'retry_queued', issueCommentRetryQueuedAt: now } });
      await event('warn', recoveryEventTexts.missingCommentFollowUpQueued(followUp.id), { issueCommentStatus: 'retry_queued', followUpRunId: followUp.id });
      return { status: 'retry_queued', followUpRunId: followUp.id };
    }
  }
}
