/**
 * R66: an active `pause` hold covers its root issue and every descendant through `parentId`.
 * One recursive query walks the issue's ancestors (including itself) and finds the nearest hold;
 * it is written once, `nearestPauseHoldSql`, for every reader.
 */
import { Prisma, type PrismaClient } from './db.ts';
import { LIVE_RUN_STATUS_LIST } from './runStatusSql.ts';
import { MAX_ISSUE_TREE_DEPTH } from '../domain/issueTree.ts';

type Db = PrismaClient | Prisma.TransactionClient;

export interface ActivePauseHold {
  holdId: string;
  rootIssueId: string;
  reason: string | null;
}

/**
 * R66's one walk: the nearest active `pause` hold over an issue or one of its ancestors (through
 * parentId, at most MAX_ISSUE_TREE_DEPTH up), zero or one row (hold_id, root_issue_id, reason).
 * `issueId` is a parameter or a column of the enclosing query (the claim's read, the sweep's scan).
 */
export function nearestPauseHoldSql(issueId: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    WITH RECURSIVE lineage(id, parent_id, depth) AS (
      SELECT id, parent_id, 0 FROM issues WHERE id = ${issueId}
      UNION ALL
      SELECT i.id, i.parent_id, l.depth + 1 FROM issues i JOIN lineage l ON i.id = l.parent_id WHERE l.depth < ${MAX_ISSUE_TREE_DEPTH}::int
    )
    SELECT h.id AS hold_id, h.root_issue_id, h.reason
    FROM lineage l
    JOIN issue_tree_holds h ON h.root_issue_id = l.id AND h.status = 'active' AND h.mode = 'pause'
    ORDER BY l.depth ASC, h.created_at ASC
    LIMIT 1`;
}

export async function activePauseHoldFor(db: Db, issueId: string): Promise<ActivePauseHold | null> {
  const rows = await db.$queryRaw<Array<{ hold_id: string; root_issue_id: string; reason: string | null }>>`${nearestPauseHoldSql(Prisma.sql`${issueId}::uuid`)}`;
  const row = rows[0];
  return row ? { holdId: row.hold_id, rootIssueId: row.root_issue_id, reason: row.reason } : null;
}

/**
 * A pause hold on an issue's subtree, with a snapshot of the subtree as it was (members are for
 * boards and previews; gating always walks the live tree, R66).
 */
export async function createPauseHold(
  prisma: PrismaClient,
  input: { companyId: string; rootIssueId: string; reason: string | null; createdByActorType: 'user' | 'agent'; createdByUserId: string | null; createdByAgentId: string | null; createdByRunId: string | null },
) {
  return prisma.$transaction(async (tx) => {
    const hold = await tx.issueTreeHold.create({
      data: {
        companyId: input.companyId,
        rootIssueId: input.rootIssueId,
        mode: 'pause',
        status: 'active',
        reason: input.reason,
        releasePolicy: { strategy: 'manual' },
        createdByActorType: input.createdByActorType,
        createdByUserId: input.createdByUserId,
        createdByAgentId: input.createdByAgentId,
        createdByRunId: input.createdByRunId,
      },
    });
    await tx.$executeRaw`
      WITH RECURSIVE subtree(id, depth) AS (
        SELECT id, 0 FROM issues WHERE id = ${input.rootIssueId}::uuid
        UNION ALL
        SELECT i.id, s.depth + 1 FROM issues i JOIN subtree s ON i.parent_id = s.id WHERE s.depth < ${MAX_ISSUE_TREE_DEPTH}::int
      )
      INSERT INTO issue_tree_hold_members (company_id, hold_id, issue_id, parent_issue_id, depth, issue_identifier,
                                           issue_title, issue_status, assignee_agent_id, assignee_user_id,
                                           active_run_id, active_run_status)
      SELECT i.company_id, ${hold.id}::uuid, i.id, i.parent_id, s.depth, i.identifier, i.title, i.status,
             i.assignee_agent_id, i.assignee_user_id, r.id, r.status
      FROM subtree s JOIN issues i ON i.id = s.id
      LEFT JOIN heartbeat_runs r ON r.id = i.execution_run_id AND r.status IN ${LIVE_RUN_STATUS_LIST}`;
    return hold;
  });
}

/** Releasing an already released hold returns it unchanged. */
export async function releaseHold(
  prisma: PrismaClient,
  holdId: string,
  release: { reason: string | null; actorType: 'user' | 'agent'; userId: string | null; agentId: string | null; runId: string | null },
) {
  await prisma.issueTreeHold.updateMany({
    where: { id: holdId, status: 'active' },
    data: {
      status: 'released',
      releasedAt: new Date(),
      releaseReason: release.reason,
      releasedByActorType: release.actorType,
      releasedByUserId: release.userId,
      releasedByAgentId: release.agentId,
      releasedByRunId: release.runId,
    },
  });
  return prisma.issueTreeHold.findUniqueOrThrow({ where: { id: holdId }, include: { members: { orderBy: { depth: 'asc' } } } });
}
