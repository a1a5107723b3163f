/**
 * Issues: creation with `PREFIX-N` identifiers, updates with the R75 side effects, and the
 * detail shape boards read (`blockedBy`, `blocks`, `activeRun`).
 */
import type { Prisma, PrismaClient } from './db.ts';
import { ConflictError, NotFoundError, UnprocessableError } from '../errors.ts';
import { replaceBlockers, unresolvedBlockerIds } from './issueRelations.ts';
import { LIVE_RUN_STATUSES } from '../domain/runStatus.ts';
import { lockIssue } from './locks.ts';

type Tx = Prisma.TransactionClient;
type Db = PrismaClient | Tx;
type Issue = Awaited<ReturnType<PrismaClient['issue']['findUniqueOrThrow']>>;

export const ISSUE_STATUSES = ['backlog', 'todo', 'in_progress', 'in_review', 'blocked', 'done', 'cancelled'] as const;
export const ISSUE_PRIORITIES = ['critical', 'high', 'medium', 'low'] as const;
export type IssueStatus = (typeof ISSUE_STATUSES)[number];

export interface IssueFields {
  title?: string;
  description?: string | null;
  status?: IssueStatus;
  priority?: (typeof ISSUE_PRIORITIES)[number];
  parentId?: string | null;
  assigneeAgentId?: string | null;
  assigneeUserId?: string | null;
  blockedByIssueIds?: string[];
}

export async function findIssue(db: Db, ref: { id: string } | { identifier: string }): Promise<Issue | null> {
  return 'id' in ref ? db.issue.findUnique({ where: { id: ref.id } }) : db.issue.findUnique({ where: { identifier: ref.identifier } });
}

async function lockIssueRow(tx: Tx, issueId: string): Promise<Issue> {
  const issue = await lockIssue(tx, issueId);
  if (!issue) throw new NotFoundError('Issue');
  return issue;
}

async function assertAssignee(tx: Tx, companyId: string, fields: IssueFields) {
  if (fields.assigneeAgentId && fields.assigneeUserId) {
    throw new UnprocessableError('An issue has at most one assignee: set assigneeAgentId or assigneeUserId, not both', { fields: ['assigneeAgentId', 'assigneeUserId'] }, 'two_assignees');
  }
  if (fields.assigneeAgentId) {
    const agent = await tx.agent.findUnique({ where: { id: fields.assigneeAgentId }, select: { companyId: true } });
    if (!agent || agent.companyId !== companyId) {
      throw new UnprocessableError('assigneeAgentId must be an agent of this company', { fields: ['assigneeAgentId'] }, 'unknown_assignee');
    }
  }
}

async function assertParent(tx: Tx, companyId: string, parentId: string | null | undefined, selfId?: string) {
  if (!parentId) return;
  if (parentId === selfId) throw new UnprocessableError('An issue cannot be its own parent', { fields: ['parentId'] }, 'invalid_parent');
  const parent = await tx.issue.findUnique({ where: { id: parentId }, select: { companyId: true } });
  if (!parent || parent.companyId !== companyId) {
    throw new UnprocessableError('parentId must be an issue of this company', { fields: ['parentId'] }, 'unknown_parent');
  }
  if (selfId) {
    const loop = await tx.$queryRaw<Array<{ id: string }>>`
      WITH RECURSIVE up(id, parent_id) AS (
        SELECT id, parent_id FROM issues WHERE id = ${parentId}::uuid
        UNION SELECT i.id, i.parent_id FROM issues i JOIN up ON i.id = up.parent_id)
      SELECT id FROM up WHERE id = ${selfId}::uuid LIMIT 1`;
    if (loop.length > 0) throw new UnprocessableError('parentId would make the issue its own ancestor', { fields: ['parentId'] }, 'invalid_parent');
  }
}

/** R75: moving to in_progress needs an assignee and no unresolved blockers. */
async function assertCanStart(tx: Tx, issue: { id: string; assigneeAgentId: string | null; assigneeUserId: string | null }) {
  if (!issue.assigneeAgentId && !issue.assigneeUserId) {
    throw new UnprocessableError('An issue needs an assignee to be in_progress', { fields: ['status'] }, 'missing_assignee');
  }
  const unresolved = await unresolvedBlockerIds(tx, issue.id);
  if (unresolved.length > 0) {
    throw new ConflictError('The issue has unresolved blockers', { unresolvedBlockerIssueIds: unresolved }, 'unresolved_blockers');
  }
}

/** Status timestamps (R75). */
function statusTimestamps(previous: Issue | null, status: IssueStatus, now: Date): Prisma.IssueUncheckedUpdateInput {
  return {
    startedAt: status === 'in_progress' ? (previous?.startedAt ?? now) : previous?.startedAt ?? null,
    completedAt: status === 'done' ? (previous?.status === 'done' ? previous.completedAt : now) : null,
    cancelledAt: status === 'cancelled' ? (previous?.status === 'cancelled' ? previous.cancelledAt : now) : null,
  };
}

/** R75: the run pointers an issue loses when it leaves `in_progress` or changes assignee. */
export const CLEARED_EXECUTION = { checkoutRunId: null, executionRunId: null, executionAgentNameKey: null, executionLockedAt: null };

/**
 * The next `count` `PREFIX-N` numbers of a company in one UPDATE … RETURNING: the company row
 * lock it takes serializes issue numbers (past the largest number in use, should the counter lag).
 */
export async function allocateIssueNumbers(tx: Tx, companyId: string, count: number): Promise<{ first: number; issuePrefix: string }> {
  const rows = await tx.$queryRaw<Array<{ issue_prefix: string; last: number }>>`
    UPDATE companies c
    SET issue_counter = greatest(c.issue_counter, coalesce((SELECT max(issue_number) FROM issues WHERE company_id = c.id), 0)) + ${count}::int
    WHERE c.id = ${companyId}::uuid
    RETURNING c.issue_prefix, c.issue_counter AS last`;
  if (rows.length === 0) throw new NotFoundError('Company');
  return { first: Number(rows[0].last) - count + 1, issuePrefix: rows[0].issue_prefix };
}

/** The next `PREFIX-N` of a company. */
export async function allocateIssueNumber(tx: Tx, companyId: string): Promise<{ number: number; identifier: string; issuePrefix: string }> {
  const { first, issuePrefix } = await allocateIssueNumbers(tx, companyId, 1);
  return { number: first, identifier: `${issuePrefix}-${first}`, issuePrefix };
}

export async function createIssue(
  prisma: PrismaClient,
  input: { companyId: string; fields: IssueFields & { title: string }; createdByAgentId?: string | null; createdByUserId?: string | null; createdByRunId?: string | null },
): Promise<Issue> {
  return prisma.$transaction(async (tx) => {
    const { fields, companyId } = input;
    await assertAssignee(tx, companyId, fields);
    await assertParent(tx, companyId, fields.parentId);
    const { number, identifier } = await allocateIssueNumber(tx, companyId);
    const status = fields.status ?? 'backlog';
    const now = new Date();
    const issue = await tx.issue.create({
      data: {
        companyId,
        title: fields.title,
        description: fields.description ?? null,
        status,
        priority: fields.priority ?? 'medium',
        parentId: fields.parentId ?? null,
        assigneeAgentId: fields.assigneeAgentId ?? null,
        assigneeUserId: fields.assigneeUserId ?? null,
        createdByAgentId: input.createdByAgentId ?? null,
        createdByUserId: input.createdByUserId ?? null,
        issueNumber: number,
        identifier,
        ...(statusTimestamps(null, status, now) as object),
      },
    });
    if (fields.blockedByIssueIds?.length) {
      await replaceBlockers(tx, { companyId, issueId: issue.id, blockerIds: fields.blockedByIssueIds, createdByAgentId: input.createdByAgentId, createdByUserId: input.createdByUserId });
    }
    if (status === 'in_progress') await assertCanStart(tx, issue);
    return issue;
  });
}

export interface IssueUpdateResult {
  before: Issue;
  after: Issue;
  assigneeChanged: boolean;
  becameDone: boolean;
}

export async function updateIssue(
  prisma: PrismaClient,
  issueId: string,
  fields: IssueFields,
  actor: { agentId: string | null; userId: string | null },
): Promise<IssueUpdateResult> {
  return prisma.$transaction(async (tx) => {
    const before = await lockIssueRow(tx, issueId);
    const next = {
      assigneeAgentId: fields.assigneeAgentId !== undefined ? fields.assigneeAgentId : before.assigneeAgentId,
      assigneeUserId: fields.assigneeUserId !== undefined ? fields.assigneeUserId : before.assigneeUserId,
    };
    // Setting one kind of assignee replaces the other.
    if (fields.assigneeAgentId) next.assigneeUserId = fields.assigneeUserId ?? null;
    if (fields.assigneeUserId) next.assigneeAgentId = fields.assigneeAgentId ?? null;
    await assertAssignee(tx, before.companyId, { ...fields, ...next });
    await assertParent(tx, before.companyId, fields.parentId, before.id);
    if (fields.blockedByIssueIds !== undefined) {
      await replaceBlockers(tx, { companyId: before.companyId, issueId, blockerIds: fields.blockedByIssueIds, createdByAgentId: actor.agentId, createdByUserId: actor.userId });
    }
    const status = fields.status ?? before.status;
    const assigneeChanged = next.assigneeAgentId !== before.assigneeAgentId || next.assigneeUserId !== before.assigneeUserId;
    if (status === 'in_progress' && (fields.status !== undefined || assigneeChanged)) {
      await assertCanStart(tx, { id: before.id, ...next });
    }
    const now = new Date();
    const data: Prisma.IssueUncheckedUpdateInput = {
      ...(fields.title !== undefined ? { title: fields.title } : {}),
      ...(fields.description !== undefined ? { description: fields.description } : {}),
      ...(fields.priority !== undefined ? { priority: fields.priority } : {}),
      ...(fields.parentId !== undefined ? { parentId: fields.parentId } : {}),
      assigneeAgentId: next.assigneeAgentId,
      assigneeUserId: next.assigneeUserId,
      status,
      ...(fields.status !== undefined ? statusTimestamps(before, status, now) : {}),
      // R75: leaving in_progress, or changing the assignee, clears checkout and execution lock.
      ...((fields.status !== undefined && status !== 'in_progress') || assigneeChanged ? CLEARED_EXECUTION : {}),
      updatedAt: now,
    };
    const after = await tx.issue.update({ where: { id: issueId }, data });
    return { before, after, assigneeChanged, becameDone: before.status !== 'done' && after.status === 'done' };
  });
}

/** R75: dependents woken when a blocker becomes done (agent-assigned, open, now fully unblocked). */
export async function dependentsReadyAfter(prisma: PrismaClient, blockerId: string) {
  return prisma.$queryRaw<Array<{ id: string; assignee_agent_id: string }>>`
    SELECT i.id, i.assignee_agent_id FROM issue_relations r JOIN issues i ON i.id = r.related_issue_id
    WHERE r.issue_id = ${blockerId}::uuid AND r.type = 'blocks'
      AND i.assignee_agent_id IS NOT NULL AND i.status NOT IN ('backlog', 'done', 'cancelled')
      AND NOT EXISTS (SELECT 1 FROM issue_relations r2 JOIN issues b ON b.id = r2.issue_id
                      WHERE r2.related_issue_id = i.id AND r2.type = 'blocks' AND b.status <> 'done')`;
}

const RELATION_SUMMARY = { id: true, identifier: true, title: true, status: true, priority: true, assigneeAgentId: true, assigneeUserId: true } as const;

const ACTIVE_RUN_FIELDS = { id: true, status: true, agentId: true, invocationSource: true, triggerDetail: true, startedAt: true, finishedAt: true, createdAt: true } as const;

/** `activeRun`: the queued/running run referenced by `executionRunId`, or null. */
export async function activeRunsFor(db: Db, issues: Array<{ executionRunId: string | null }>) {
  const ids = issues.map((i) => i.executionRunId).filter((id): id is string => id !== null);
  if (ids.length === 0) return new Map<string, unknown>();
  const runs = await db.heartbeatRun.findMany({ where: { id: { in: ids }, status: { in: [...LIVE_RUN_STATUSES] } }, select: ACTIVE_RUN_FIELDS });
  return new Map(runs.map((run) => [run.id, run]));
}

export async function issueDetail(db: Db, issue: Issue) {
  const [blockedBy, blocks, activeRuns] = await Promise.all([
    db.issueRelation.findMany({ where: { relatedIssueId: issue.id, type: 'blocks' }, select: { issue: { select: RELATION_SUMMARY } }, orderBy: { createdAt: 'asc' } }),
    db.issueRelation.findMany({ where: { issueId: issue.id, type: 'blocks' }, select: { relatedIssue: { select: RELATION_SUMMARY } }, orderBy: { createdAt: 'asc' } }),
    activeRunsFor(db, [issue]),
  ]);
  return {
    ...issue,
    blockedBy: blockedBy.map((row) => row.issue),
    blocks: blocks.map((row) => row.relatedIssue),
    activeRun: issue.executionRunId ? (activeRuns.get(issue.executionRunId) ?? null) : null,
  };
}
