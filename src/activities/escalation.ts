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
import { allocateIssueNumber, CLEARED_EXECUTION } from '../store/issues.ts';
import { lockIssue } from '../store/locks.ts';
import { replaceBlockers } from '../store/issueRelations.ts';
import { logActivity } from '../store/activityLog.ts';
import { getInvocationBlock } from '../store/budget.ts';
import { isUniqueViolation } from '../store/prismaErrors.ts';
import { enrichWakeContext, type WakeRequest } from '../store/wakeups.ts';
import { createSystemRun } from '../store/systemRuns.ts';
import { toJson } from '../store/json.ts';
import { heartbeatPolicyOf } from '../domain/heartbeatPolicy.ts';
import { wakeTexts } from '../domain/texts.ts';
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
  /** How an escalation blocked the issue: with a new or the open recovery issue, without one (R61), or in place (R62). */
  recoveryIssue?: 'created' | 'reused' | 'none' | 'in_place';
}

const SKIPPED: EscalationOutcome = { outcome: 'skipped', recoveryIssueId: null, followUpRunIds: [] };

const ESCALATION_ACTIONS = {
  created: 'escalation_recovery_issue_created',
  reused: 'escalation_recovery_issue_reused',
  none: 'escalation_without_owner',
  in_place: 'escalation_blocked_in_place',
} as const;

export async function escalateStrandedIssue(deps: ActivityDeps, request: EscalationRequest): Promise<EscalationOutcome> {
  const outcome = await escalate(deps, request);
  if (outcome.outcome === 'escalated' && outcome.recoveryIssue) {
    deps.metrics.recoveryAction(ESCALATION_ACTIONS[outcome.recoveryIssue]);
    deps.logger.info('issue escalated', { issueId: request.issueId, path: request.path, recoveryIssue: outcome.recoveryIssue, recoveryIssueId: outcome.recoveryIssueId, latestRunId: request.latestRunId });
  }
  return outcome;
}

async function escalate(deps: ActivityDeps, request: EscalationRequest): Promise<EscalationOutcome> {
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
  const owner = await selectRecoveryOwner(prisma, issue);
  try {
    return await blockWithRecoveryIssue(prisma, issue, request, runFacts, owner);
  } catch (error) {
    // R57.5: another writer created the open recovery issue between our look and our insert
    // (a path that did not hold this issue's lock); the second attempt reuses it.
    if (!isUniqueViolation(error)) throw error;
    return blockWithRecoveryIssue(prisma, issue, request, runFacts, owner);
  }
}

/**
 * R56/R57 in one transaction under the source's row lock: reuse or create the recovery issue, wake
 * its owner (a new issue only), replace the source's blockers, block it and say why. Racing
 * escalations of one source queue behind the lock and find it already blocked.
 */
async function blockWithRecoveryIssue(
  prisma: PrismaClient,
  issue: Issue,
  request: EscalationRequest,
  runFacts: RecoveryRunFacts | null,
  owner: Owner | null,
): Promise<EscalationOutcome> {
  const lead = request.path === 'sweep' ? sweepEscalationLead(request.previousStatus, runFacts) : immediateEscalationLead(request.previousStatus, runFacts);
  return prisma.$transaction(async (tx) => {
    const locked = await lockIssue(tx, issue.id);
    if (!locked || locked.status !== request.previousStatus) return SKIPPED;
    const ensured = await ensureRecoveryIssue(tx, locked, request.previousStatus, runFacts, owner);
    const recovery = ensured?.issue ?? null;
    // R56.3: unresolved blockers stay, resolved ones (done or cancelled) are dropped.
    const current = await tx.issueRelation.findMany({
      where: { relatedIssueId: issue.id, type: 'blocks', issue: { status: { notIn: ['done', 'cancelled'] } } },
      select: { issueId: true },
      orderBy: { createdAt: 'asc' },
    });
    const blockerIds = [...new Set([...current.map((row) => row.issueId), ...(recovery ? [recovery.id] : [])])];
    await replaceBlockers(tx, { companyId: issue.companyId, issueId: issue.id, blockerIds });
    await blockWithComment(tx, issue, request, runFacts, `${lead}${recoveryLines(recovery?.identifier ? { identifier: recovery.identifier } : null)}`, {
      source: 'recovery.reconcile_stranded_assigned_issue',
      recoveryIssueId: recovery?.id ?? null,
      blockerIssueIds: blockerIds,
    });
    return {
      outcome: 'escalated',
      recoveryIssueId: recovery?.id ?? null,
      followUpRunIds: ensured?.dispatchRunId ? [ensured.dispatchRunId] : [],
      recoveryIssue: ensured ? (ensured.created ? 'created' : 'reused') : 'none',
    };
  });
}

/**
 * R56.4–R56.6 / R62.1–R62.4, the part both share: `blocked` (leaving `in_progress` clears the run
 * pointers, R75), one system comment, one `issue.updated` activity entry.
 */
async function blockWithComment(
  tx: Tx,
  issue: Issue,
  request: EscalationRequest,
  latestRun: RecoveryRunFacts | null,
  body: string,
  details: Record<string, unknown>,
): Promise<void> {
  await tx.issue.update({ where: { id: issue.id }, data: { status: 'blocked', ...CLEARED_EXECUTION, updatedAt: new Date() } });
  await tx.issueComment.create({ data: { companyId: issue.companyId, issueId: issue.id, body } });
  await logActivity(tx, {
    companyId: issue.companyId,
    action: 'issue.updated',
    entityType: 'issue',
    entityId: issue.id,
    details: {
      identifier: issue.identifier,
      status: 'blocked',
      previousStatus: request.previousStatus,
      latestRunId: latestRun?.id ?? null,
      latestRunStatus: latestRun?.status ?? null,
      latestRunErrorCode: latestRun?.errorCode ?? null,
      ...details,
    },
  });
}

/** R62: only the status changes; relations, assignee and origin stay as they are. */
async function blockInPlace(prisma: PrismaClient, issue: Issue, request: EscalationRequest, latestRun: RecoveryRunFacts | null): Promise<EscalationOutcome> {
  const escalated = await prisma.$transaction(async (tx) => {
    const locked = await lockIssue(tx, issue.id);
    if (!locked || locked.status !== request.previousStatus) return false;
    const comment = inPlaceRecoveryComment({ recoveryIssue: { identifier: issue.identifier ?? issue.id }, previousStatus: request.previousStatus, latestRun });
    await blockWithComment(tx, issue, request, latestRun, comment, {
      source: 'recovery.reconcile_stranded_recovery_issue',
      originKind: issue.originKind,
      originId: issue.originId,
    });
    return true;
  });
  return { outcome: escalated ? 'escalated' : 'skipped', recoveryIssueId: null, followUpRunIds: [], recoveryIssue: 'in_place' };
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

/**
 * R57: reuse the open recovery issue, or create one and wake its owner in the same transaction,
 * so no other sweep ever sees a recovery issue without its dispatch run.
 */
async function ensureRecoveryIssue(
  tx: Tx,
  source: Issue,
  previousStatus: 'todo' | 'in_progress',
  latestRun: RecoveryRunFacts | null,
  owner: Owner | null,
): Promise<{ issue: Issue; dispatchRunId: string | null; created: boolean } | null> {
  const existing = await openRecoveryIssue(tx, source);
  if (existing) return { issue: existing, dispatchRunId: null, created: false };
  if (!owner) return null; // R61
  const { number, identifier, issuePrefix } = await allocateIssueNumber(tx, source.companyId);
  const created = await tx.issue.create({
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
  return { issue: created, dispatchRunId: await wakeRecoveryOwner(tx, created, source, latestRun, owner), created: true };
}

/**
 * R57.6: the owner's `issue_assigned` wake. It is what R71 would do for a brand-new `todo` issue
 * with no run and no blockers, written here in the creating transaction; the owner was just
 * chosen as invokable with budget (R59), and its heartbeat policy is honoured.
 */
async function wakeRecoveryOwner(tx: Tx, recovery: Issue, source: Issue, latestRun: RecoveryRunFacts | null, owner: Owner): Promise<string | null> {
  const request: WakeRequest = {
    source: 'assignment',
    triggerDetail: 'system',
    reason: 'issue_assigned',
    requestedByActorType: 'system',
    payload: { issueId: recovery.id, sourceIssueId: source.id, strandedRunId: latestRun?.id ?? null },
    contextSnapshot: {
      issueId: recovery.id,
      taskId: recovery.id,
      wakeReason: 'issue_assigned',
      source: STRANDED_ISSUE_RECOVERY,
      sourceIssueId: source.id,
      strandedRunId: latestRun?.id ?? null,
    },
  };
  if (!heartbeatPolicyOf(owner.runtimeConfig).wakeOnDemand) {
    await tx.agentWakeupRequest.create({
      data: {
        companyId: recovery.companyId, agentId: owner.id, source: 'assignment', triggerDetail: 'system', reason: 'heartbeat.wakeOnDemand.disabled',
        payload: toJson(request.payload ?? {}), status: 'skipped', requestedByActorType: 'system', error: wakeTexts.onDemandDisabled, finishedAt: new Date(),
      },
    });
    return null;
  }
  const run = await createSystemRun(tx, {
    companyId: recovery.companyId,
    agentId: owner.id,
    wake: { source: 'assignment', reason: 'issue_assigned', payload: request.payload ?? {} },
    run: { contextSnapshot: enrichWakeContext(request), retryOfRunId: null },
  });
  return run.id;
}

/** R59: the first invokable candidate of the same company with budget available. */
type Owner = NonNullable<Awaited<ReturnType<PrismaClient['agent']['findUnique']>>>;

async function selectRecoveryOwner(prisma: PrismaClient, source: Issue): Promise<Owner | null> {
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
