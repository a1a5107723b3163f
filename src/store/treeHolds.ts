/**
 * R66: an active `pause` hold covers its root issue and every descendant through `parentId`.
 * One recursive query walks the issue's ancestors (including itself) and finds the nearest hold.
 */
import type { Prisma, PrismaClient } from './db.ts';

type Db = PrismaClient | Prisma.TransactionClient;

export interface ActivePauseHold {
  holdId: string;
  rootIssueId: string;
  reason: string | null;
}

export async function activePauseHoldFor(db: Db, issueId: string): Promise<ActivePauseHold | null> {
  const rows = await db.$queryRaw<Array<{ hold_id: string; root_issue_id: string; reason: string | null }>>`
    WITH RECURSIVE lineage(id, parent_id, depth) AS (
      SELECT id, parent_id, 0 FROM issues WHERE id = ${issueId}::uuid
      UNION ALL
      SELECT i.id, i.parent_id, l.depth + 1 FROM issues i JOIN lineage l ON i.id = l.parent_id WHERE l.depth < 1024
    )
    SELECT h.id AS hold_id, h.root_issue_id, h.reason
    FROM lineage l
    JOIN issue_tree_holds h ON h.root_issue_id = l.id AND h.status = 'active' AND h.mode = 'pause'
    ORDER BY l.depth ASC, h.created_at ASC
    LIMIT 1`;
  const row = rows[0];
  return row ? { holdId: row.hold_id, rootIssueId: row.root_issue_id, reason: row.reason } : null;
}
