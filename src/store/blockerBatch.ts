/**
 * R56.3/R56.4 for many escalated sources at once: their unresolved blockers, and the replacement
 * of each source's whole blocker set (delete, then insert), one statement each. "X is blocked by
 * B" ⇔ row (issueId=B, relatedIssueId=X), as in `store/issueRelations.ts`. Call inside the
 * transaction that holds the sources' row locks.
 */
import type { Prisma } from './db.ts';
import { UnprocessableError } from '../errors.ts';

type Tx = Prisma.TransactionClient;

/** R56.3: per source, its blockers that are not `done`/`cancelled`, oldest relation first. */
export async function openBlockersOf(tx: Tx, sourceIds: readonly string[]): Promise<Map<string, string[]>> {
  const blockers = new Map<string, string[]>();
  if (sourceIds.length === 0) return blockers;
  const rows = await tx.$queryRaw<Array<{ related_issue_id: string; issue_id: string }>>`
    SELECT r.related_issue_id, r.issue_id FROM issue_relations r JOIN issues b ON b.id = r.issue_id
    WHERE r.related_issue_id = ANY(${[...sourceIds]}::uuid[]) AND r.type = 'blocks' AND b.status NOT IN ('done', 'cancelled')
    ORDER BY r.created_at, r.id`;
  for (const row of rows) {
    const list = blockers.get(row.related_issue_id);
    if (list) list.push(row.issue_id);
    else blockers.set(row.related_issue_id, [row.issue_id]);
  }
  return blockers;
}

export interface BlockerSet {
  companyId: string;
  issueId: string;
  blockerIds: readonly string[];
}

/**
 * R56.4 (R75): a new blocker must not be blocked, transitively, by the issue it would block. Only
 * blockers that are not already blocking the issue can close a cycle; the caller passes those.
 */
export async function assertNoBlockerCycles(tx: Tx, edges: ReadonlyArray<{ issueId: string; blockerId: string }>): Promise<void> {
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

/** R56.4: each issue's `blocks` relations become exactly its set (an empty set removes them all, R61). */
export async function replaceBlockerSets(tx: Tx, sets: readonly BlockerSet[]): Promise<void> {
  if (sets.length === 0) return;
  await tx.$executeRaw`DELETE FROM issue_relations WHERE related_issue_id = ANY(${sets.map((s) => s.issueId)}::uuid[]) AND type = 'blocks'`;
  const edges = sets.flatMap((set) => [...new Set(set.blockerIds)].map((blockerId) => ({ companyId: set.companyId, blockerId, issueId: set.issueId })));
  if (edges.length === 0) return;
  await tx.$executeRaw`
    INSERT INTO issue_relations (company_id, issue_id, related_issue_id, type)
    SELECT e.company_id, e.blocker_id, e.issue_id, 'blocks'
    FROM unnest(${edges.map((e) => e.companyId)}::uuid[], ${edges.map((e) => e.blockerId)}::uuid[], ${edges.map((e) => e.issueId)}::uuid[])
      WITH ORDINALITY AS e(company_id, blocker_id, issue_id, n)
    ORDER BY e.n`;
}
