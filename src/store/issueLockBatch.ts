/**
 * Row locks on many issues at once, always taken in id order (`ORDER BY id … FOR NO KEY UPDATE`)
 * so two batches, or a batch and a single-issue writer (`store/locks.ts`), never deadlock: the
 * stranded sweep's batches re-check under these locks what their decision saw.
 */
import { Prisma } from './db.ts';
import { activeExecutionRunSql } from './wakeStatements.ts';
import { nearestPauseHoldSql } from './treeHolds.ts';
import { unresolvedBlockerIdsSql } from './issueRelations.ts';

type Tx = Prisma.TransactionClient;

/** An issue as its lock found it; missing issues are absent from the answer. */
export interface LockedIssueStatus {
  id: string;
  status: string;
}

/** R56.4/R62.1: locks the issues and reads their status, the escalation's re-check. */
export async function lockIssueStatuses(tx: Tx, issueIds: readonly string[]): Promise<Map<string, LockedIssueStatus>> {
  if (issueIds.length === 0) return new Map();
  const rows = await tx.$queryRaw<LockedIssueStatus[]>`
    SELECT id, status::text AS status FROM issues WHERE id = ANY(${[...issueIds]}::uuid[]) ORDER BY id FOR NO KEY UPDATE`;
  return new Map(rows.map((row) => [row.id, row]));
}

/** What R71.6 admits an issue-bound wake on, per issue, read under the issue's row lock. */
export interface LockedIssueWakeFacts {
  id: string;
  company_id: string;
  status: string;
  assignee_agent_id: string | null;
  assignee_user_id: string | null;
  execution_run_id: string | null;
  identifier: string | null;
  /** R71.6: the execution lock's run if live, else the oldest live run of the issue, running first. */
  active_run_id: string | null;
  active_run_status: string | null;
  active_run_agent_name: string | null;
  /** R75: blockers not `done`, oldest relation first. */
  unresolved_blocker_ids: string[] | null;
  /** R50a: a `queued` wake for the issue exists (any agent). */
  has_queued_wake: boolean;
  /** R67: an active pause hold covers the issue or an ancestor. */
  held: boolean;
}

/**
 * R71.6 for many issues: locks them in id order, then reads for each the same facts
 * `readIssueExecutionFacts` reads for one (active run, its agent's name, unresolved blockers),
 * plus the R50a queued-wake dedupe and the R67 hold. Two statements: the facts must be read with
 * a snapshot taken after the locks were granted, so that a writer the lock waited for (a racing
 * sweep's run) is seen.
 */
export async function lockIssuesWithWakeFacts(tx: Tx, issueIds: readonly string[]): Promise<Map<string, LockedIssueWakeFacts>> {
  if (issueIds.length === 0) return new Map();
  await tx.$executeRaw`SELECT id FROM issues WHERE id = ANY(${[...issueIds]}::uuid[]) ORDER BY id FOR NO KEY UPDATE`;
  const rows = await tx.$queryRaw<LockedIssueWakeFacts[]>`
    WITH locked AS (
      SELECT id, company_id, status::text AS status, assignee_agent_id, assignee_user_id, execution_run_id, identifier, parent_id
      FROM issues WHERE id = ANY(${[...issueIds]}::uuid[])
    ),
    hold_roots AS (
      SELECT root_issue_id FROM issue_tree_holds
      WHERE status = 'active' AND mode = 'pause' AND company_id IN (SELECT company_id FROM locked)
    )
    SELECT l.id, l.company_id, l.status, l.assignee_agent_id, l.assignee_user_id, l.execution_run_id, l.identifier,
           a.id AS active_run_id, a.status AS active_run_status, g.name AS active_run_agent_name,
           ${unresolvedBlockerIdsSql(Prisma.sql`l.id`)} AS unresolved_blocker_ids,
           EXISTS (SELECT 1 FROM agent_wakeup_requests w
                   WHERE w.company_id = l.company_id AND w.status = 'queued' AND w.payload->>'issueId' = l.id::text) AS has_queued_wake,
           (EXISTS (SELECT 1 FROM hold_roots) AND EXISTS (${nearestPauseHoldSql(Prisma.sql`l.id`)})) AS held
    FROM locked l
    LEFT JOIN LATERAL (${activeExecutionRunSql({ id: Prisma.sql`l.id`, companyId: Prisma.sql`l.company_id`, executionRunId: Prisma.sql`l.execution_run_id` })}) a ON true
    LEFT JOIN agents g ON g.id = a.agent_id`;
  return new Map(rows.map((row) => [row.id, row]));
}
