/**
 * R69: which of an agent's queued runs may run now — the first (maxConcurrentRuns − running)
 * of them by rank: issue-bound and ready with the issue in progress, then issue-bound and ready,
 * then not issue-bound, then not ready; ties by issue priority, then age. One query, used by the
 * claim (am I among them? inside its one transition statement) and by finalize and the reaper
 * (whom to tell that a slot is free).
 */
import { Prisma } from './db.ts';
import { uuidOrNullSql } from './uuidSql.ts';
import { unresolvedBlockerIdsSql } from './issueRelations.ts';

/** The query itself, for a statement that needs the slot check inside it (the claim's transition). */
export function claimableQueuedRunIdsSql(agentId: string, maxConcurrentRuns: number): Prisma.Sql {
  return Prisma.sql`
    SELECT r.id FROM heartbeat_runs r
    -- by primary key: a text comparison (i.id::text = …) reads every issue of every company
    LEFT JOIN issues i ON i.id = ${uuidOrNullSql(Prisma.sql`r.context_snapshot->>'issueId'`)}
    WHERE r.agent_id = ${agentId}::uuid AND r.status = 'queued'
    ORDER BY
      CASE
        WHEN i.id IS NULL THEN 2
        WHEN ${unresolvedBlockerIdsSql(Prisma.sql`i.id`)} IS NOT NULL THEN 3
        WHEN i.status = 'in_progress' THEN 0
        ELSE 1
      END,
      CASE i.priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END,
      r.created_at, r.id
    LIMIT (SELECT greatest(${maxConcurrentRuns}::int - count(*), 0) FROM heartbeat_runs
           WHERE agent_id = ${agentId}::uuid AND status = 'running')`;
}

export async function claimableQueuedRunIds(tx: Prisma.TransactionClient, agentId: string, maxConcurrentRuns: number): Promise<string[]> {
  const rows = await tx.$queryRaw<Array<{ id: string }>>(claimableQueuedRunIdsSql(agentId, maxConcurrentRuns));
  return rows.map((row) => row.id);
}
