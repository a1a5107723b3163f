/**
 * R74: the budget invocation block. Observed spend is summed from `cost_events` per scope; a
 * policy blocks when it is active, hard-stops, has amount > 0 and spend >= amount. One query
 * gathers everything the rule looks at; the rule's order is applied in TypeScript.
 *
 * Spend is summed in micro-dollars: an event's exact `cost_usd_micros` when it has one (a run's
 * reported usage), else its `cost_cents`. Summing each event's rounded cents would let many
 * sub-cent runs (0.4 ¢ each rounds to 0) spend past a hard stop unseen.
 */
import type { Prisma, PrismaClient } from './db.ts';
import { budgetTexts } from '../domain/texts.ts';

type Db = PrismaClient | Prisma.TransactionClient;

export interface InvocationBlock {
  scope: 'company' | 'agent' | 'project';
  reason: string;
  /** The block comes from a budget (a hard stop reached or exceeded), not a manual pause. */
  budget: boolean;
}

function monthStartUtc(now: Date): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1));
}

interface BudgetFacts {
  company_status: string | null;
  company_pause_reason: string | null;
  agent_status: string | null;
  agent_pause_reason: string | null;
  exceeded_scopes: string[] | null;
}

export async function getInvocationBlock(
  db: Db,
  input: { companyId: string; agentId: string; issueId?: string | null; projectId?: string | null },
  now = new Date(),
): Promise<InvocationBlock | null> {
  const projectId = input.projectId ?? null;
  const [facts] = await db.$queryRaw<BudgetFacts[]>`
    WITH policies AS (
      SELECT p.scope_type::text AS scope_type, p.amount,
        -- spent, in micro-dollars (1 cent = 10 000)
        (SELECT coalesce(sum(coalesce(e.cost_usd_micros, e.cost_cents::bigint * 10000)), 0) FROM cost_events e
          WHERE e.company_id = p.company_id
            AND (p.scope_type <> 'agent' OR e.agent_id = p.scope_id)
            AND (p.scope_type <> 'project' OR e.project_id = p.scope_id)
            AND (p.window_kind <> 'calendar_month_utc' OR e.occurred_at >= ${monthStartUtc(now)})) AS spent
      FROM budget_policies p
      WHERE p.company_id = ${input.companyId}::uuid AND p.is_active AND p.hard_stop_enabled AND p.amount > 0
        AND p.metric = 'billed_cents'
        AND ((p.scope_type = 'company' AND p.scope_id = ${input.companyId}::uuid)
          OR (p.scope_type = 'agent' AND p.scope_id = ${input.agentId}::uuid)
          OR (p.scope_type = 'project' AND p.scope_id = ${projectId}::uuid))
    )
    SELECT c.status::text AS company_status, c.pause_reason AS company_pause_reason,
           a.status::text AS agent_status, a.pause_reason AS agent_pause_reason,
           (SELECT array_agg(DISTINCT scope_type) FROM policies WHERE spent >= amount::bigint * 10000) AS exceeded_scopes
    FROM (SELECT 1) AS one
    LEFT JOIN companies c ON c.id = ${input.companyId}::uuid
    LEFT JOIN agents a ON a.id = ${input.agentId}::uuid`;
  const exceeded = new Set(facts?.exceeded_scopes ?? []);
  if (facts?.company_status === 'paused') {
    const budget = facts.company_pause_reason === 'budget';
    return { scope: 'company', reason: budget ? budgetTexts.companyPausedForBudget : budgetTexts.companyPaused, budget };
  }
  if (exceeded.has('company')) return { scope: 'company', reason: budgetTexts.companyBudgetExceeded, budget: true };
  if (facts?.agent_status === 'paused' && facts.agent_pause_reason === 'budget') {
    return { scope: 'agent', reason: budgetTexts.agentPausedForBudget, budget: true };
  }
  if (exceeded.has('agent')) return { scope: 'agent', reason: budgetTexts.agentBudgetExceeded, budget: true };
  if (exceeded.has('project')) return { scope: 'project', reason: budgetTexts.projectBudgetExceeded, budget: true };
  return null;
}
