/**
 * R71's statements on the hot path, one round trip each: the gates read before the issue's
 * transaction, the facts an issue-bound wake is admitted on (read under the issue's row lock) and
 * the queued run it creates with its wake.
 */
import { Prisma, type HeartbeatRun, type PrismaClient } from './db.ts';
import { invocationBlockFactsOf, invocationBlockFactsSql, type InvocationBlock } from './budget.ts';
import { nearestPauseHoldSql, type ActivePauseHold } from './treeHolds.ts';
import { uuidOrNullSql } from './uuidSql.ts';
import { invocationBlockOf } from '../domain/invocationBlock.ts';
import { unresolvedBlockerIdsSql } from './issueRelations.ts';
import { LIVE_RUN_STATUS_LIST } from './runStatusSql.ts';
import { insertQueuedRunRows, type QueuedRunBatchInput } from './wakeBatch.ts';

type Tx = Prisma.TransactionClient;

export interface WakeGateFacts {
  /** R74 (null: no block, or not asked). */
  budgetBlock: InvocationBlock | null;
  /** R67's nearest active pause hold over the issue (null: none, or not issue-bound). */
  pauseHold: ActivePauseHold | null;
}

/**
 * R71's gates before the issue transaction, in one statement: the budget block (R74, unless the
 * caller applied it already) and the pause hold over the issue (R67, for an issue-bound wake).
 */
export async function readWakeGateFacts(
  db: PrismaClient,
  scope: { companyId: string; agentId: string; projectId: string | null; issueId: string | null; withBudget: boolean },
): Promise<WakeGateFacts> {
  if (!scope.withBudget && scope.issueId === null) return { budgetBlock: null, pauseHold: null };
  const budget = scope.withBudget
    ? invocationBlockFactsSql({ companyId: Prisma.sql`${scope.companyId}::uuid`, agentId: Prisma.sql`${scope.agentId}::uuid`, projectId: Prisma.sql`${scope.projectId}::uuid` }, new Date())
    : Prisma.sql`SELECT NULL::text AS company_status, NULL::text AS company_pause_reason, NULL::text AS agent_status, NULL::text AS agent_pause_reason, NULL::text[] AS exceeded_scopes`;
  const hold = scope.issueId !== null ? nearestPauseHoldSql(uuidOrNullSql(Prisma.sql`${scope.issueId}`)) : Prisma.sql`SELECT NULL::uuid AS hold_id, NULL::uuid AS root_issue_id, NULL::text AS reason LIMIT 0`;
  const rows = await db.$queryRaw<
    Array<{ company_status: string | null; company_pause_reason: string | null; agent_status: string | null; agent_pause_reason: string | null; exceeded_scopes: string[] | null; hold_id: string | null; root_issue_id: string | null; reason: string | null }>
  >`SELECT b.*, h.hold_id, h.root_issue_id, h.reason FROM (${budget}) b LEFT JOIN LATERAL (${hold}) h ON true`;
  const row = rows[0];
  return {
    budgetBlock: scope.withBudget ? invocationBlockOf(invocationBlockFactsOf(row)) : null,
    pauseHold: row?.hold_id ? { holdId: row.hold_id, rootIssueId: row.root_issue_id!, reason: row.reason } : null,
  };
}

export interface IssueExecutionFacts {
  /** The run executing the issue: its execution lock if live, else its oldest live run, running first (R71.6). */
  activeRun: { id: string; status: string; agentId: string; agentName: string | null; contextSnapshot: unknown } | null;
  /** R75: blockers not `done`, oldest relation first. */
  unresolvedBlockerIds: string[];
}

/**
 * R71.6: the run executing an issue — its execution lock if that run is live, else its oldest live
 * run, running first — zero or one row (id, status, agent_id, context_snapshot). The arguments are
 * parameters or columns of the enclosing query (the sweep's batch reads many issues at once).
 */
export function activeExecutionRunSql(issue: { id: Prisma.Sql; companyId: Prisma.Sql; executionRunId: Prisma.Sql }): Prisma.Sql {
  return Prisma.sql`
    SELECT r.id, r.status::text AS status, r.agent_id, r.context_snapshot FROM heartbeat_runs r
    WHERE r.status IN ${LIVE_RUN_STATUS_LIST}
      AND (r.id = ${issue.executionRunId} OR (r.company_id = ${issue.companyId} AND r.context_snapshot->>'issueId' = (${issue.id})::text))
    ORDER BY (r.id IS NOT DISTINCT FROM ${issue.executionRunId}) DESC, (r.status = 'running') DESC, r.created_at ASC
    LIMIT 1`;
}

/** R71.6: the active execution run, its agent's name and the unresolved blockers, in one statement. */
export async function readIssueExecutionFacts(tx: Tx, issue: { id: string; companyId: string; executionRunId: string | null }): Promise<IssueExecutionFacts> {
  const rows = await tx.$queryRaw<
    Array<{ id: string | null; status: string | null; agent_id: string | null; agent_name: string | null; context_snapshot: unknown; unresolved: string[] | null }>
  >`
    SELECT a.id, a.status, a.agent_id, g.name AS agent_name, a.context_snapshot,
           ${unresolvedBlockerIdsSql(Prisma.sql`${issue.id}::uuid`)} AS unresolved
    FROM (SELECT 1) one
    LEFT JOIN LATERAL (${activeExecutionRunSql({
      id: Prisma.sql`${issue.id}::uuid`,
      companyId: Prisma.sql`${issue.companyId}::uuid`,
      executionRunId: Prisma.sql`${issue.executionRunId}::uuid`,
    })}) a ON true
    LEFT JOIN agents g ON g.id = a.agent_id`;
  const row = rows[0];
  return {
    activeRun: row.id
      ? { id: row.id, status: row.status!, agentId: row.agent_id!, agentName: row.agent_name, contextSnapshot: row.context_snapshot }
      : null,
    unresolvedBlockerIds: row.unresolved ?? [],
  };
}

/** R71 "create a run" for one wake (the batch statement with one row): the wake and its run; the run as written. */
export async function insertQueuedRun(tx: Tx, runId: string, input: QueuedRunBatchInput, now: Date): Promise<{ run: HeartbeatRun; wakeId: string }> {
  const [run] = await insertQueuedRunRows(tx, [input], [runId], now);
  return { run, wakeId: run.wakeupRequestId! };
}
