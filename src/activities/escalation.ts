/**
 * §12 of RECOVERY.md: when automatic recovery is exhausted, block the issue and hand it to a
 * person or a manager agent through exactly one open recovery issue.
 *
 * - R56: block a source issue: its blockers become the unresolved ones plus the recovery issue.
 * - R57/R59: find the open recovery issue of the source, or create it for the first invokable
 *   owner with budget; the partial unique index `issues_active_stranded_issue_recovery_uq` makes
 *   concurrent creators converge on one row (R65).
 * - R62: a recovery issue that stalls is blocked in place — never a nested recovery issue.
 * - R64: issue text never quotes a run's error or error code.
 *
 * Every write re-checks the issue's status under its row lock, so a retried activity or racing
 * sweeps block an issue, and comment on it, once.
 */
import type { Prisma, PrismaClient } from '../store/db.ts';
import type { ActivityDeps } from './deps.ts';
import { asObject, stringOrNull } from '../store/json.ts';
import { allocateIssueNumber } from '../store/issues.ts';
import { replaceBlockers } from '../store/issueRelations.ts';
import { logActivity } from '../store/activityLog.ts';
import { getInvocationBlock } from '../store/budget.ts';
import { isUniqueViolation } from '../store/prismaErrors.ts';
import { enqueueWakeup } from '../store/wakeups.ts';
import { isInvokableAgentStatus } from '../domain/runStatus.ts';
import { STRANDED_ISSUE_RECOVERY } from '../domain/recoveryKinds.ts';
import {
  immediateEscalationLead,
  inPlaceRecoveryComment,
  recoveryIssueDescription,
  recoveryIssueTitle,
  recoveryLines,
  sweepEscalationLead,
  type RecoveryRunFacts,
} from '../domain/recoveryTexts.ts';
import type { EscalationRequest } from './releaseAndPromote.ts';

type Tx = Prisma.TransactionClient;
type Issue = Awaited<ReturnType<PrismaClient['issue']['findUniqueOrThrow']>>;

export interface EscalationOutcome {
  /** `skipped`: the issue was no longer in `previousStatus` (already escalated, or moved on). */
  outcome: 'escalated' | 'skipped';
  recoveryIssueId: string | null;
  /** The recovery issue's dispatch run, when one was created (R57.6). */
  followUpRunIds: string[];
}

const CLEARED_EXECUTION = { checkoutRunId: null, executionRunId: null, executionAgentNameKey: null, executionLockedAt: null };
const SKIPPED: EscalationOutcome = { outcome: 'skipped', recoveryIssueId: null, followUpRunIds: [] };

export async function escalateStrandedIssue(deps: ActivityDeps, request: EscalationRequest): Promise<EscalationOutcome> {
  const { prisma } = deps;
  const issue = await prisma.issue.findUnique({ where: { id: request.issueId } });
  if (!issue || issue.status !== request.previousStatus) return SKIPPED;
  const latestRun = await prisma.heartbeatRun.findUnique({ where: { id: request.latestRunId } });
  const runFacts: RecoveryRunFacts | null = latestRun
    ? {
        id: latestRun.id,
        agentId: latestRun.agentId,
        status: latestRun.status,
        retryReason: stringOrNull(asObject(latestRun.contextSnapshot).retryReason),
        error: latestRun.error,
        errorCode: latestRun.errorCode,
      }
    : null;
  if (issue.originKind === STRANDED_ISSUE_RECOVERY) return blockInPlace(prisma, issue, request, runFacts);

  const ensured = await ensureRecoveryIssue(deps, issue, request.previousStatus, runFacts);
  const recovery = ensured?.issue ?? null;
  const lead = request.path === 'sweep' ? sweepEscalationLead(request.previousStatus, runFacts) : immediateEscalationLead(request.previousStatus, runFacts);
  const escalated = await prisma.$transaction(async (tx) => {
    const locked = await lockIssue(tx, issue.id);
    if (!locked || locked.status !== request.previousStatus) return false;
    // R56.3: unresolved blockers stay, resolved ones (done or cancelled) are dropped.
    const current = await tx.issueRelation.findMany({
      where: { relatedIssueId: issue.id, type: 'blocks', issue: { status: { notIn: ['done', 'cancelled'] } } },
      select: { issueId: true },
      orderBy: { createdAt: 'asc' },
    });
    const blockerIds = [...new Set([...current.map((row) => row.issueId), ...(recovery ? [recovery.id] : [])])];
    await replaceBlockers(tx, { companyId: issue.companyId, issueId: issue.id, blockerIds });
    await tx.issue.update({ where: { id: issue.id }, data: { status: 'blocked', ...CLEARED_EXECUTION, updatedAt: new Date() } });
    await tx.issueComment.create({
      data: { companyId: issue.companyId, issueId: issue.id, body: `${lead}${recoveryLines(recovery?.identifier ? { identifier: recovery.identifier } : null)}` },
    });
    await logActivity(tx, {
      companyId: issue.companyId,
      action: 'issue.updated',
      entityType: 'issue',
      entityId: issue.id,
      details: {
        identifier: issue.identifier,
        status: 'blocked',
        previousStatus: request.previousStatus,
        source: 'recovery.reconcile_stranded_assigned_issue',
        latestRunId: runFacts?.id ?? null,
        latestRunStatus: runFacts?.status ?? null,
        latestRunErrorCode: runFacts?.errorCode ?? null,
        recoveryIssueId: recovery?.id ?? null,
        blockerIssueIds: blockerIds,
      },
    });
    return true;
  });
  return {
    outcome: escalated ? 'escalated' : 'skipped',
    recoveryIssueId: recovery?.id ?? null,
    followUpRunIds: ensured?.dispatchRunId ? [ensured.dispatchRunId] : [],
  };
}

async function lockIssue(tx: Tx, issueId: string): Promise<Issue | null> {
  const rows = await tx.$queryRaw<Array<{ id: string }>>`SELECT id FROM issues WHERE id = ${issueId}::uuid FOR NO KEY UPDATE`;
  return rows.length > 0 ? tx.issue.findUnique({ where: { id: issueId } }) : null;
}

/** R62: only the status changes; relations, assignee and origin stay as they are. */
async function blockInPlace(prisma: PrismaClient, issue: Issue, request: EscalationRequest, latestRun: RecoveryRunFacts | null): Promise<EscalationOutcome> {
  const escalated = await prisma.$transaction(async (tx) => {
    const locked = await lockIssue(tx, issue.id);
    if (!locked || locked.status !== request.previousStatus) return false;
    await tx.issue.update({ where: { id: issue.id }, data: { status: 'blocked', ...CLEARED_EXECUTION, updatedAt: new Date() } });
    await tx.issueComment.create({
      data: {
        companyId: issue.companyId,
        issueId: issue.id,
        body: inPlaceRecoveryComment({ recoveryIssue: { identifier: issue.identifier ?? issue.id }, previousStatus: request.previousStatus, latestRun }),
      },
    });
    await logActivity(tx, {
      companyId: issue.companyId,
      action: 'issue.updated',
      entityType: 'issue',
      entityId: issue.id,
      details: {
        identifier: issue.identifier,
        status: 'blocked',
        previousStatus: request.previousStatus,
        source: 'recovery.reconcile_stranded_recovery_issue',
        latestRunId: latestRun?.id ?? null,
        latestRunStatus: latestRun?.status ?? null,
        latestRunErrorCode: latestRun?.errorCode ?? null,
        originKind: issue.originKind,
        originId: issue.originId,
      },
    });
    return true;
  });
  return { outcome: escalated ? 'escalated' : 'skipped', recoveryIssueId: null, followUpRunIds: [] };
}

/** R57.2: the newest open recovery issue of the source. */
function openRecoveryIssue(db: PrismaClient | Tx, source: Issue) {
  return db.issue.findFirst({
    where: {
      companyId: source.companyId,
      originKind: STRANDED_ISSUE_RECOVERY,
      originId: source.id,
      hiddenAt: null,
      status: { notIn: ['done', 'cancelled'] },
    },
    orderBy: { createdAt: 'desc' },
  });
}

/** R57: reuse the open recovery issue, or create one (and wake its owner). */
async function ensureRecoveryIssue(
  deps: ActivityDeps,
  source: Issue,
  previousStatus: 'todo' | 'in_progress',
  latestRun: RecoveryRunFacts | null,
): Promise<{ issue: Issue; dispatchRunId: string | null } | null> {
  const { prisma } = deps;
  const existing = await openRecoveryIssue(prisma, source);
  if (existing) return { issue: existing, dispatchRunId: null };
  const owner = await selectRecoveryOwner(prisma, source);
  if (!owner) return null; // R61
  let created: Issue;
  try {
    created = await prisma.$transaction(async (tx) => {
      const { number, identifier, issuePrefix } = await allocateIssueNumber(tx, source.companyId);
      return tx.issue.create({
        data: {
          companyId: source.companyId,
          title: recoveryIssueTitle(source),
          description: recoveryIssueDescription({ issuePrefix, source, previousStatus, latestRun }),
          status: 'todo',
          priority: source.priority,
          parentId: source.id,
          projectId: source.projectId,
          goalId: source.goalId,
          billingCode: source.billingCode,
          executionWorkspaceId: source.executionWorkspaceId,
          assigneeAgentId: owner.id,
          originKind: STRANDED_ISSUE_RECOVERY,
          originId: source.id,
          originRunId: latestRun?.id ?? null,
          originFingerprint: `${STRANDED_ISSUE_RECOVERY}:${source.companyId}:${source.id}:${latestRun?.id ?? 'no-run'}`,
          issueNumber: number,
          identifier,
        },
      });
    });
  } catch (error) {
    // R57.5: another sweep won the race; its issue is the canonical one.
    if (!isUniqueViolation(error)) throw error;
    const raced = await openRecoveryIssue(prisma, source);
    if (!raced) throw error;
    return { issue: raced, dispatchRunId: null };
  }
  // R57.6: only a new recovery issue wakes its owner.
  let dispatchRunId: string | null = null;
  try {
    const woken = await enqueueWakeup(prisma, owner, {
      source: 'assignment',
      triggerDetail: 'system',
      reason: 'issue_assigned',
      requestedByActorType: 'system',
      payload: { issueId: created.id, sourceIssueId: source.id, strandedRunId: latestRun?.id ?? null },
      contextSnapshot: {
        issueId: created.id,
        taskId: created.id,
        wakeReason: 'issue_assigned',
        source: STRANDED_ISSUE_RECOVERY,
        sourceIssueId: source.id,
        strandedRunId: latestRun?.id ?? null,
      },
    });
    if (woken.kind === 'queued') dispatchRunId = woken.run.id;
  } catch (error) {
    // The recovery issue stands even when its owner cannot be woken right now (a budget block
    // raced in): the stranded sweep dispatches assigned todo work later (R50a).
    deps.logger.warn('could not wake the recovery owner', { recoveryIssueId: created.id, error: error instanceof Error ? error.message : String(error) });
  }
  return { issue: created, dispatchRunId };
}

/** R59: the first invokable candidate of the same company with budget available. */
async function selectRecoveryOwner(prisma: PrismaClient, source: Issue) {
  const [assignee, creator] = await Promise.all([
    source.assigneeAgentId ? prisma.agent.findUnique({ where: { id: source.assigneeAgentId } }) : null,
    source.createdByAgentId ? prisma.agent.findUnique({ where: { id: source.createdByAgentId } }) : null,
  ]);
  const executives = await prisma.agent.findMany({
    where: { companyId: source.companyId, role: { in: ['cto', 'ceo'] } },
    orderBy: { createdAt: 'asc' },
    select: { id: true, role: true },
  });
  const candidateIds = [
    assignee?.reportsTo,
    creator?.reportsTo,
    source.createdByAgentId,
    ...executives.filter((agent) => agent.role === 'cto').map((agent) => agent.id),
    ...executives.filter((agent) => agent.role === 'ceo').map((agent) => agent.id),
    source.assigneeAgentId,
  ].filter((id): id is string => typeof id === 'string');
  for (const id of new Set(candidateIds)) {
    const candidate = id === assignee?.id ? assignee : id === creator?.id ? creator : await prisma.agent.findUnique({ where: { id } });
    if (!candidate || candidate.companyId !== source.companyId || !isInvokableAgentStatus(candidate.status)) continue;
    const block = await getInvocationBlock(prisma, { companyId: source.companyId, agentId: candidate.id, issueId: source.id, projectId: source.projectId });
    if (!block) return candidate;
  }
  return null;
}
