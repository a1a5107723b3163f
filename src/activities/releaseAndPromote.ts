/**
 * §8 of RECOVERY.md: what happens to a run's issue when the run becomes terminal, inside the
 * transaction that wrote the terminal status.
 *
 * R28 releases the issue's execution lock if this run holds it; R29 promotes the oldest parked
 * (deferred) wake; otherwise R30–R34 apply immediate recovery: one continuation or dispatch run
 * for an assigned `todo`/`in_progress` issue, or — when that automatic retry was already used,
 * the issue is itself a recovery issue, or its agent cannot run — a request to escalate (R32),
 * which the caller carries out after the commit (§12, `escalation.ts`).
 */
import { randomUUID } from 'node:crypto';
import type { AgentWakeupRequest, Prisma } from '../store/db.ts';
import { asObject, boundIssueId, stringOrNull, toJson } from '../store/json.ts';
import { createSystemRun, moveExecutionLock, releaseExecutionLockAndListParked } from '../store/systemRuns.ts';
import { lockIssue } from '../store/locks.ts';
import { modelRow } from '../store/modelRows.ts';
import { activePauseHoldFor } from '../store/treeHolds.ts';
import { LIVE_RUN_STATUS_LIST } from '../store/runStatusSql.ts';
import { isInvokableAgentStatus, UNSUCCESSFUL_TERMINAL_RUN_STATUSES } from '../domain/runStatus.ts';
import { isCommentInteractionWake } from '../domain/heartbeatPolicy.ts';
import { recoveryKindFor, STRANDED_ISSUE_RECOVERY } from '../domain/recoveryKinds.ts';
import { recoveryEventTexts } from '../domain/recoveryTexts.ts';
import type { RecoveryReason } from '../domain/recoveryDecision.ts';

type Tx = Prisma.TransactionClient;
type Issue = NonNullable<Awaited<ReturnType<Tx['issue']['findUnique']>>>;

/** R32: the issue must be blocked with a recovery issue; done after the transaction commits. */
export interface EscalationRequest {
  issueId: string;
  previousStatus: 'todo' | 'in_progress';
  latestRunId: string;
  /** Which lead sentence the comment opens with (R32 immediate vs. R60 sweep). */
  path: 'immediate' | 'sweep';
  /** V8: why recovery is exhausted (default: the issue's one automatic retry was used, R32/R50c/R51c). */
  reason?: RecoveryReason;
}

export interface ReleaseOutcome {
  issueId: string | null;
  /** Runs created here (a promoted deferred wake, a recovery run) whose workflows must start. */
  followUpRunIds: string[];
  escalation: EscalationRequest | null;
  /** R33's recovery run, when one was queued (for `vigil_recovery_actions_total`). */
  recoveryAction?: 'dispatch_recovery' | 'continuation_recovery';
  /** The rule that settled the issue, and why (V8: a run's recovery decision says it). */
  why: { rule: string; reason: RecoveryReason };
  /** The issue's status when R33 queued its recovery run. */
  previousStatus?: 'todo' | 'in_progress';
}

export interface TerminalRun {
  id: string;
  companyId: string;
  agentId: string;
  status: string;
  contextSnapshot: unknown;
  processLossRetryCount: number;
}

async function lockTargetIssue(tx: Tx, run: TerminalRun): Promise<Issue | null> {
  // R28.1: the bound issue, else the issue whose execution lock is this run.
  const bound = boundIssueId(run.contextSnapshot);
  if (bound) return lockIssue(tx, bound);
  const rows = await tx.$queryRaw<Array<Record<string, unknown>>>`
    SELECT * FROM issues WHERE company_id = ${run.companyId}::uuid AND execution_run_id = ${run.id}::uuid LIMIT 1 FOR NO KEY UPDATE`;
  return rows[0] ? modelRow<Issue>(rows[0]) : null;
}

/**
 * R28–R34. `immediateRecovery: false` is the bulk-cancel path of R15 (agent pause, budget stop),
 * which releases and promotes but never queues recovery work.
 */
export async function releaseAndPromote(tx: Tx, run: TerminalRun, options: { immediateRecovery: boolean }): Promise<ReleaseOutcome> {
  const none = (issueId: string | null, rule: string, reason: RecoveryReason): ReleaseOutcome => ({ issueId, followUpRunIds: [], escalation: null, why: { rule, reason } });
  const issue = await lockTargetIssue(tx, run);
  if (!issue) return none(null, 'R28', 'no_issue'); // R28.2
  if (issue.executionRunId !== null && issue.executionRunId !== run.id) return none(issue.id, 'R28', 'lock_moved'); // R28.3
  // R28.4 (checkoutRunId stays) and the wakes R29 may promote, in one statement.
  const parked = await releaseExecutionLockAndListParked(tx, issue.id, run.id);
  const promoted = await promoteDeferredWake(tx, issue, parked);
  if (promoted) return { issueId: issue.id, followUpRunIds: [promoted], escalation: null, why: { rule: 'R29', reason: 'deferred_wake_promoted' } };
  if (!options.immediateRecovery) return none(issue.id, 'R15', 'stopped_by_board');
  return immediateRecovery(tx, run, issue);
}

/** R30–R33. */
async function immediateRecovery(tx: Tx, run: TerminalRun, issue: Issue): Promise<ReleaseOutcome> {
  const none = (rule: string, reason: RecoveryReason): ReleaseOutcome => ({ issueId: issue.id, followUpRunIds: [], escalation: null, why: { rule, reason } });
  // R30: an agent-assigned todo/in_progress issue of this run's agent, and a run that did not succeed.
  if (issue.status !== 'todo' && issue.status !== 'in_progress') return none('R30', 'issue_not_open');
  if (issue.assigneeUserId !== null || issue.assigneeAgentId !== run.agentId) return none('R30', 'not_assigned_to_agent');
  if (!(UNSUCCESSFUL_TERMINAL_RUN_STATUSES as readonly string[]).includes(run.status)) return none('R30', 'run_succeeded');
  // R31: another live execution path, or a pause hold, and recovery stands down.
  const otherLive = await tx.$queryRaw<Array<{ id: string }>>`
    SELECT id FROM heartbeat_runs
    WHERE company_id = ${issue.companyId}::uuid AND context_snapshot->>'issueId' = ${issue.id}
      AND status IN ${LIVE_RUN_STATUS_LIST} AND id <> ${run.id}::uuid
    LIMIT 1`;
  if (otherLive.length > 0) return none('R31', 'other_live_run');
  if (await activePauseHoldFor(tx, issue.id)) return none('R31', 'pause_hold');

  const previousStatus = issue.status;
  const kind = recoveryKindFor(previousStatus);
  const context = asObject(run.contextSnapshot);
  const agent = await tx.agent.findUnique({ where: { id: run.agentId } });
  // R32: block instead of retrying.
  const retryAlreadyUsed = stringOrNull(context.retryReason) === kind.retryReason;
  if (issue.originKind === STRANDED_ISSUE_RECOVERY || !agent || agent.companyId !== issue.companyId || !isInvokableAgentStatus(agent.status) || retryAlreadyUsed) {
    // The escalation records its decision when it is carried out (escalation.ts).
    const why: ReleaseOutcome['why'] = { rule: 'R32', reason: retryAlreadyUsed ? 'retry_already_used' : issue.originKind === STRANDED_ISSUE_RECOVERY ? 'recovery_issue_stalled' : 'agent_not_invokable' };
    return { ...none(why.rule, why.reason), escalation: { issueId: issue.id, previousStatus, latestRunId: run.id, path: 'immediate', reason: why.reason } };
  }
  // R33: exactly one recovery run, with a fresh snapshot. Vigil carries the lineage's
  // process-loss retry count along, so a continuation that is itself lost is not retried again
  // for process loss (one process-loss retry per lineage, R22) but escalates (R32).
  const recoveryRun = await createSystemRun(tx, {
    companyId: issue.companyId,
    agentId: agent.id,
    wake: { reason: kind.wakeReason, payload: { issueId: issue.id, retryOfRunId: run.id } },
    run: {
      contextSnapshot: {
        issueId: issue.id,
        taskId: issue.id,
        wakeReason: kind.wakeReason,
        retryReason: kind.retryReason,
        source: kind.source,
        retryOfRunId: run.id,
      },
      retryOfRunId: run.id,
      processLossRetryCount: run.processLossRetryCount,
    },
  });
  await moveExecutionLock(tx, { issueId: issue.id, newRunId: recoveryRun.id, agentName: agent.name });
  const recoveryAction = kind.retryReason === 'assignment_recovery' ? 'dispatch_recovery' : 'continuation_recovery';
  return { issueId: issue.id, followUpRunIds: [recoveryRun.id], escalation: null, recoveryAction, why: { rule: 'R33', reason: 'run_unsuccessful' }, previousStatus };
}

/**
 * R29: the oldest parked wake for the issue becomes a queued run (wakes whose agent cannot run,
 * or that a pause hold suppresses, are closed on the way).
 */
async function promoteDeferredWake(tx: Tx, issue: Issue, parked: AgentWakeupRequest[]): Promise<string | null> {
  if (parked.length === 0) return null;
  const hold = await activePauseHoldFor(tx, issue.id);
  const now = new Date();
  for (const wake of parked) {
    const agent = await tx.agent.findUnique({ where: { id: wake.agentId } });
    if (!agent || agent.companyId !== issue.companyId || !isInvokableAgentStatus(agent.status)) {
      await tx.agentWakeupRequest.update({ where: { id: wake.id }, data: { status: 'failed', error: recoveryEventTexts.deferredNotInvokable, finishedAt: now } });
      continue;
    }
    const payload = asObject(wake.payload);
    const context = asObject(payload._paperclipWakeContext);
    if (hold && !(context.treeHoldInteraction === true && isCommentInteractionWake(stringOrNull(context.wakeReason)))) {
      await tx.agentWakeupRequest.update({ where: { id: wake.id }, data: { status: 'cancelled', error: recoveryEventTexts.deferredSuppressedByHold, finishedAt: now } });
      continue;
    }
    const hasComment = stringOrNull(context.wakeCommentId) !== null || stringOrNull(context.commentId) !== null;
    const reopens = hasComment && (wake.requestedByActorType === 'user' || wake.reason === 'issue_reopened_via_comment');
    if (reopens && (issue.status === 'done' || issue.status === 'cancelled')) {
      await tx.issue.update({ where: { id: issue.id }, data: { status: 'todo', completedAt: null, cancelledAt: null } });
    }
    const runId = randomUUID();
    await tx.heartbeatRun.create({
      data: {
        id: runId,
        companyId: issue.companyId,
        agentId: agent.id,
        invocationSource: wake.source,
        triggerDetail: wake.triggerDetail,
        status: 'queued',
        wakeupRequestId: wake.id,
        contextSnapshot: toJson({ ...context, issueId: issue.id }),
      },
    });
    await tx.agentWakeupRequest.update({ where: { id: wake.id }, data: { status: 'queued', reason: 'issue_execution_promoted', runId } });
    await moveExecutionLock(tx, { issueId: issue.id, newRunId: runId, agentName: agent.name, onlyAssignee: agent.id });
    return runId;
  }
  return null;
}
