/**
 * `blocks` relations: "X is blocked by B" ⇔ row (issueId=B, relatedIssueId=X). R75: an issue is
 * dependency-ready only when every blocker is `done` (a cancelled blocker stays unresolved).
 */
import { Prisma, type PrismaClient } from './db.ts';
import { UnprocessableError } from '../errors.ts';

type Db = PrismaClient | Prisma.TransactionClient;

/**
 * R75: the issue's blockers that are not `done` (a cancelled blocker stays unresolved), oldest
 * relation first, as a text[] expression (NULL when none). `issueId` is a parameter or a column of
 * the enclosing query.
 */
export function unresolvedBlockerIdsSql(issueId: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(SELECT array_agg(rel.issue_id::text ORDER BY rel.created_at)
    FROM issue_relations rel JOIN issues b ON b.id = rel.issue_id
    WHERE rel.related_issue_id = ${issueId} AND rel.type = 'blocks' AND b.status <> 'done')`;
}

export async function unresolvedBlockerIds(db: Db, issueId: string): Promise<string[]> {
  const rows = await db.$queryRaw<Array<{ ids: string[] | null }>>`SELECT ${unresolvedBlockerIdsSql(Prisma.sql`${issueId}::uuid`)} AS ids`;
  return rows[0]?.ids ?? [];
}

/**
 * Replaces the whole blocker set of `issueId` (delete then insert), rejecting self-blocks,
 * other companies' issues and cycles. Call inside a transaction that holds the issue's row lock.
 */
export async function replaceBlockers(
  tx: Prisma.TransactionClient,
  input: { companyId: string; issueId: string; blockerIds: string[]; createdByAgentId?: string | null; createdByUserId?: string | null },
): Promise<void> {
  const blockerIds = [...new Set(input.blockerIds)];
  if (blockerIds.includes(input.issueId)) {
    throw new UnprocessableError('An issue cannot block itself', { blockedByIssueIds: input.issueId }, 'self_block');
  }
  if (blockerIds.length > 0) {
    const found = await tx.issue.findMany({ where: { id: { in: blockerIds }, companyId: input.companyId }, select: { id: true } });
    const missing = blockerIds.filter((id) => !found.some((row) => row.id === id));
    if (missing.length > 0) {
      throw new UnprocessableError('Blocker issues must exist in the same company', { blockedByIssueIds: missing }, 'unknown_blocker');
    }
    // A cycle exists when the issue already (transitively) blocks one of its new blockers.
    const cycle = await tx.$queryRaw<Array<{ id: string }>>`
      WITH RECURSIVE downstream(id) AS (
        SELECT related_issue_id FROM issue_relations WHERE issue_id = ${input.issueId}::uuid AND type = 'blocks'
        UNION
        SELECT r.related_issue_id FROM issue_relations r JOIN downstream d ON r.issue_id = d.id WHERE r.type = 'blocks'
      )
      SELECT id FROM downstream WHERE id = ANY(${blockerIds}::uuid[]) LIMIT 1`;
    if (cycle.length > 0) {
      throw new UnprocessableError('These blockers would form a dependency cycle', { blockedByIssueIds: [cycle[0].id] }, 'blocker_cycle');
    }
  }
  await tx.issueRelation.deleteMany({ where: { relatedIssueId: input.issueId, type: 'blocks' } });
  if (blockerIds.length > 0) {
    await tx.issueRelation.createMany({
      data: blockerIds.map((blockerId) => ({
        companyId: input.companyId,
        issueId: blockerId,
        relatedIssueId: input.issueId,
        type: 'blocks',
        createdByAgentId: input.createdByAgentId ?? null,
        createdByUserId: input.createdByUserId ?? null,
      })),
    });
  }
}
