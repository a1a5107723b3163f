/**
 * R74: the budget invocation block. Observed spend is summed from `cost_events` per scope; a
 * policy blocks when it is active, hard-stops, has amount > 0 and spend >= amount. One query
 * gathers everything the rule looks at (`invocationBlockFactsSql`, also joined into the claim's one
 * read); the rule's order is the pure `invocationBlockOf` (domain/invocationBlock.ts).
 *
 * Spend is summed in micro-dollars: an event's exact `cost_usd_micros` when it has one (a run's
 * reported usage), else its `cost_cents`. Summing each event's rounded cents would let many
 * sub-cent runs (0.4 ¢ each rounds to 0) spend past a hard stop unseen.
 */
import { Prisma, type PrismaClient } from './db.ts';
import { invocationBlockOf, type InvocationBlockFacts, type InvocationBlockVerdict } from '../domain/invocationBlock.ts';

type Db = PrismaClient | Prisma.TransactionClient;

/** R74's verdict: which scope blocks, why, and whether a budget (not a manual pause) is the cause. */
export type InvocationBlock = InvocationBlockVerdict;

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

interface BudgetFactsRow {
  company_status: string | null;
  company_pause_reason: string | null;
  agent_status: string | null;
  agent_pause_reason: string | null;
  exceeded_scopes: string[] | null;
}

/** The facts of one `invocationBlockFactsSql` row, for `invocationBlockOf` (domain/invocationBlock.ts). */
export function invocationBlockFactsOf(row: BudgetFactsRow | undefined): InvocationBlockFacts {
  return {
    companyStatus: row?.company_status ?? null,
    companyPauseReason: row?.company_pause_reason ?? null,
    agentStatus: row?.agent_status ?? null,
    agentPauseReason: row?.agent_pause_reason ?? null,
    exceededScopes: row?.exceeded_scopes ?? [],
  };
}

export async function getInvocationBlock(
  db: Db,
  input: { companyId: string; agentId: string; issueId?: string | null; projectId?: string | null },
  now = new Date(),
): Promise<InvocationBlock | null> {
  const scope = { companyId: Prisma.sql`${input.companyId}::uuid`, agentId: Prisma.sql`${input.agentId}::uuid`, projectId: Prisma.sql`${input.projectId ?? null}::uuid` };
  const [row] = await db.$queryRaw<BudgetFactsRow[]>`${invocationBlockFactsSql(scope, now)}`;
  return invocationBlockOf(invocationBlockFactsOf(row));
}
