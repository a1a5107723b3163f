/**
 * §12's issue writes for many sources at once, one statement each: the open recovery issues of
 * the sources (R57.2), issue numbers for a batch (one UPDATE on the company counter), the
 * recovery issues themselves (R57.4, converging on `issues_active_stranded_issue_recovery_uq`,
 * R65), and the sources' move to `blocked` (R56.4, R62.1). Call inside a transaction that holds
 * the sources' row locks (`store/issueLockBatch.ts`).
 */
import type { Prisma } from './db.ts';
import { STRANDED_ISSUE_RECOVERY } from '../domain/recoveryKinds.ts';

type Tx = Prisma.TransactionClient;

export interface OpenRecoveryIssue {
  id: string;
  identifier: string | null;
  origin_id: string;
}

/** R57.2: per source, its newest open recovery issue (same company, not hidden, not done/cancelled). */
export async function openRecoveryIssues(tx: Tx, sources: ReadonlyArray<{ id: string; companyId: string }>): Promise<Map<string, OpenRecoveryIssue>> {
  if (sources.length === 0) return new Map();
  const rows = await tx.$queryRaw<OpenRecoveryIssue[]>`
    SELECT DISTINCT ON (i.origin_id) i.id, i.identifier, i.origin_id
    FROM issues i
    JOIN unnest(${sources.map((s) => s.id)}::text[], ${sources.map((s) => s.companyId)}::uuid[]) AS s(id, company_id)
      ON i.company_id = s.company_id AND i.origin_id = s.id
    WHERE i.origin_kind = ${STRANDED_ISSUE_RECOVERY} AND i.hidden_at IS NULL AND i.status NOT IN ('done', 'cancelled')
    ORDER BY i.origin_id, i.created_at DESC`;
  return new Map(rows.map((row) => [row.origin_id, row]));
}

export interface RecoveryIssueRow {
  companyId: string;
  title: string;
  description: string;
  priority: string;
  /** The source: parent and origin. */
  sourceId: string;
  projectId: string | null;
  goalId: string | null;
  billingCode: string | null;
  executionWorkspaceId: string | null;
  assigneeAgentId: string;
  originRunId: string | null;
  originFingerprint: string;
  issueNumber: number;
  identifier: string;
}

/**
 * R57.4: the recovery issues, `todo`, one per source. R57.5/R65: a source whose open recovery
 * issue another writer committed meanwhile conflicts on the partial unique index and is left out
 * (ON CONFLICT DO NOTHING on that index only; any other violation still throws); the answer maps
 * the inserted ones by source id, and the caller re-reads the others (R57.2).
 */
export async function insertRecoveryIssues(tx: Tx, rows: readonly RecoveryIssueRow[], now: Date): Promise<Map<string, { id: string; identifier: string }>> {
  if (rows.length === 0) return new Map();
  // The statement opens with the INSERT itself, as Prisma's single-row insert did.
  const inserted = await tx.$queryRaw<Array<{ id: string; identifier: string; origin_id: string }>>`INSERT INTO "public"."issues" (
      company_id, title, description, status, priority, parent_id, project_id, goal_id, billing_code, execution_workspace_id,
      assignee_agent_id, origin_kind, origin_id, origin_run_id, origin_fingerprint, issue_number, identifier, created_at, updated_at)
    SELECT r.company_id, r.title, r.description, 'todo', r.priority::issue_priority, r.source_id, r.project_id, r.goal_id, r.billing_code,
           r.execution_workspace_id, r.assignee_agent_id, ${STRANDED_ISSUE_RECOVERY}, r.source_id::text, r.origin_run_id, r.origin_fingerprint,
           r.issue_number, r.identifier, ${now}, ${now}
    FROM unnest(${rows.map((r) => r.companyId)}::uuid[], ${rows.map((r) => r.title)}::text[], ${rows.map((r) => r.description)}::text[],
                ${rows.map((r) => r.priority)}::text[], ${rows.map((r) => r.sourceId)}::uuid[], ${rows.map((r) => r.projectId)}::uuid[],
                ${rows.map((r) => r.goalId)}::uuid[], ${rows.map((r) => r.billingCode)}::text[], ${rows.map((r) => r.executionWorkspaceId)}::uuid[],
                ${rows.map((r) => r.assigneeAgentId)}::uuid[], ${rows.map((r) => r.originRunId)}::text[], ${rows.map((r) => r.originFingerprint)}::text[],
                ${rows.map((r) => r.issueNumber)}::int[], ${rows.map((r) => r.identifier)}::text[])
      AS r(company_id, title, description, priority, source_id, project_id, goal_id, billing_code, execution_workspace_id,
           assignee_agent_id, origin_run_id, origin_fingerprint, issue_number, identifier)
    ON CONFLICT (company_id, origin_kind, origin_id)
      WHERE origin_kind = 'stranded_issue_recovery' AND origin_id IS NOT NULL AND hidden_at IS NULL AND status NOT IN ('done', 'cancelled')
      DO NOTHING
    RETURNING id, identifier, origin_id`;
  return new Map(inserted.map((row) => [row.origin_id, { id: row.id, identifier: row.identifier }]));
}

/** R56.4/R62.1: `blocked`; leaving `todo`/`in_progress` clears checkout and execution lock (R75). */
export async function blockIssues(tx: Tx, issueIds: readonly string[], now: Date): Promise<void> {
  if (issueIds.length === 0) return;
  await tx.$executeRaw`
    UPDATE issues SET status = 'blocked', checkout_run_id = NULL, execution_run_id = NULL, execution_agent_name_key = NULL,
                      execution_locked_at = NULL, updated_at = ${now}
    WHERE id = ANY(${[...issueIds]}::uuid[])`;
}
