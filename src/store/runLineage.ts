/**
 * Issue 14 §3: the run a lineage started with — `retryOfRunId` followed back (src/domain/
 * idempotencyPrefix.ts says why). One recursive query; a chain is short (each recovery path is
 * bounded), the depth bound only guards against a cycle no code writes.
 */
import type { PrismaClient } from './db.ts';

const MAX_LINEAGE_DEPTH = 1_000;

export async function lineageRootRunId(prisma: PrismaClient, runId: string): Promise<string> {
  const rows = await prisma.$queryRaw<Array<{ id: string }>>`
    WITH RECURSIVE lineage AS (
      SELECT id, retry_of_run_id, 0 AS depth FROM heartbeat_runs WHERE id = ${runId}::uuid
      UNION ALL
      SELECT run.id, run.retry_of_run_id, lineage.depth + 1 FROM heartbeat_runs AS run
      JOIN lineage ON run.id = lineage.retry_of_run_id
      WHERE lineage.depth < ${MAX_LINEAGE_DEPTH}::int
    )
    SELECT id::text AS id FROM lineage ORDER BY depth DESC LIMIT 1`;
  return rows[0]?.id ?? runId;
}
