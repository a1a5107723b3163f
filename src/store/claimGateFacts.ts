/**
 * The facts R4's gates look at, as SQL fragments a single read can join (set-based variants of
 * `getInvocationBlock` in budget.ts, `activePauseHoldFor` in treeHolds.ts and
 * `unresolvedBlockerIds` in issueRelations.ts — same predicates, written so that the issue,
 * company, agent and project come from columns of the enclosing query instead of parameters).
 * The decisions over these facts are pure: `src/domain/invocationBlock.ts`, `src/domain/claimGates.ts`.
 */
import { Prisma } from './db.ts';
import { MAX_ISSUE_TREE_DEPTH } from '../domain/issueTree.ts';

const UUID_PATTERN = '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$';

/** A text expression (a context field) as a uuid, or NULL when it is not one — never a cast error. */
export function uuidOrNullSql(text: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(CASE WHEN (${text}) ~ ${UUID_PATTERN} THEN (${text})::uuid END)`;
}

function monthStartUtc(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

/**
 * R74: one row — the company's and the agent's status and pause reason, and the scopes whose
 * active hard-stop policy (amount > 0, billed cents) is reached: spend summed in micro-dollars,
 * an event's exact `cost_usd_micros` when it has one, else its `cost_cents` (see budget.ts).
 * Columns: company_status, company_pause_reason, agent_status, agent_pause_reason, exceeded_scopes.
 */
export function invocationBlockFactsSql(scope: { companyId: Prisma.Sql; agentId: Prisma.Sql; projectId: Prisma.Sql }, now: Date): Prisma.Sql {
  const { companyId, agentId, projectId } = scope;
  return Prisma.sql`
    SELECT c.status::text AS company_status, c.pause_reason AS company_pause_reason,
           a.status::text AS agent_status, a.pause_reason AS agent_pause_reason,
           (SELECT array_agg(DISTINCT p.scope_type::text) FROM budget_policies p
            WHERE p.company_id = ${companyId} AND p.is_active AND p.hard_stop_enabled AND p.amount > 0
              AND p.metric = 'billed_cents'
              AND ((p.scope_type = 'company' AND p.scope_id = ${companyId})
                OR (p.scope_type = 'agent' AND p.scope_id = ${agentId})
                OR (p.scope_type = 'project' AND p.scope_id = ${projectId}))
              AND (SELECT coalesce(sum(coalesce(e.cost_usd_micros, e.cost_cents::bigint * 10000)), 0) FROM cost_events e
                   WHERE e.company_id = p.company_id
                     AND (p.scope_type <> 'agent' OR e.agent_id = p.scope_id)
                     AND (p.scope_type <> 'project' OR e.project_id = p.scope_id)
                     AND (p.window_kind <> 'calendar_month_utc' OR e.occurred_at >= ${monthStartUtc(now)}))
                  >= p.amount::bigint * 10000) AS exceeded_scopes
    FROM (SELECT 1) AS one
    LEFT JOIN companies c ON c.id = ${companyId}
    LEFT JOIN agents a ON a.id = ${agentId}`;
}

/**
 * R66: the nearest active `pause` hold over the issue or one of its ancestors (through parentId),
 * zero or one row: hold_id, root_issue_id.
 */
export function activePauseHoldSql(issueId: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    WITH RECURSIVE lineage(id, parent_id, depth) AS (
      SELECT id, parent_id, 0 FROM issues WHERE id = ${issueId}
      UNION ALL
      SELECT i.id, i.parent_id, l.depth + 1 FROM issues i JOIN lineage l ON i.id = l.parent_id WHERE l.depth < ${MAX_ISSUE_TREE_DEPTH}::int
    )
    SELECT h.id AS hold_id, h.root_issue_id
    FROM lineage l
    JOIN issue_tree_holds h ON h.root_issue_id = l.id AND h.status = 'active' AND h.mode = 'pause'
    ORDER BY l.depth ASC, h.created_at ASC
    LIMIT 1`;
}

/** R75: the issue's blockers that are not `done` (a cancelled blocker stays unresolved), oldest relation first; NULL when none. */
export function unresolvedBlockerIdsSql(issueId: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(SELECT array_agg(rel.issue_id::text ORDER BY rel.created_at)
    FROM issue_relations rel JOIN issues b ON b.id = rel.issue_id
    WHERE rel.related_issue_id = ${issueId} AND rel.type = 'blocks' AND b.status <> 'done')`;
}
