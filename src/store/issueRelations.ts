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
 * R56.4 (R75): a new blocker must not be blocked, transitively, by the issue it would block — for
 * one issue's new blockers or a batch's. Only blockers that are not already blocking the issue can
 * close a cycle; callers may pass just those.
 */
export async function assertNoBlockerCycles(tx: Prisma.TransactionClient, edges: ReadonlyArray<{ issueId: string; blockerId: string }>): Promise<void> {
  if (edges.length === 0) return;
  const cycles = await tx.$queryRaw<Array<{ blocker_id: string }>>`
    WITH RECURSIVE downstream(source_id, id) AS (
      SELECT r.issue_id, r.related_issue_id FROM issue_relations r
      WHERE r.issue_id = ANY(${edges.map((e) => e.issueId)}::uuid[]) AND r.type = 'blocks'
      UNION
      SELECT d.source_id, r.related_issue_id FROM issue_relations r JOIN downstream d ON r.issue_id = d.id WHERE r.type = 'blocks'
    )
    SELECT e.blocker_id::text FROM unnest(${edges.map((e) => e.issueId)}::uuid[], ${edges.map((e) => e.blockerId)}::uuid[]) AS e(issue_id, blocker_id)
    JOIN downstream d ON d.source_id = e.issue_id AND d.id = e.blocker_id
    LIMIT 1`;
  if (cycles.length > 0) {
    throw new UnprocessableError('These blockers would form a dependency cycle', { blockedByIssueIds: [cycles[0].blocker_id] }, 'blocker_cycle');
  }
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
    await assertNoBlockerCycles(tx, blockerIds.map((blockerId) => ({ issueId: input.issueId, blockerId })));
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
