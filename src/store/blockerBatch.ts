/**
 * R56.3/R56.4 for many escalated sources at once: their unresolved blockers, and the replacement
 * of each source's whole blocker set (delete, then insert), one statement each. "X is blocked by
 * B" ⇔ row (issueId=B, relatedIssueId=X), as in `store/issueRelations.ts`. Call inside the
 * transaction that holds the sources' row locks.
 */
import type { Prisma } from './db.ts';

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
