/**
 * R74: the budget invocation block. Observed spend is summed from `cost_events` per scope; a
 * policy blocks when it is active, hard-stops, has amount > 0 and spend >= amount. One query
 * gathers everything the rule looks at; the rule's order is applied in TypeScript.
 */
import type { Prisma, PrismaClient } from './db.ts';
import { budgetTexts } from '../domain/texts.ts';

type Db = PrismaClient | Prisma.TransactionClient;

export interface InvocationBlock {
  scope: 'company' | 'agent' | 'project';
  reason: string;
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
        (SELECT coalesce(sum(e.cost_cents), 0) FROM cost_events e
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
           (SELECT array_agg(DISTINCT scope_type) FROM policies WHERE spent >= amount) AS exceeded_scopes
    FROM (SELECT 1) AS one
    LEFT JOIN companies c ON c.id = ${input.companyId}::uuid
    LEFT JOIN agents a ON a.id = ${input.agentId}::uuid`;
  const exceeded = new Set(facts?.exceeded_scopes ?? []);
  if (facts?.company_status === 'paused') {
    return { scope: 'company', reason: facts.company_pause_reason === 'budget' ? budgetTexts.companyPausedForBudget : budgetTexts.companyPaused };
  }
  if (exceeded.has('company')) return { scope: 'company', reason: budgetTexts.companyBudgetExceeded };
  if (facts?.agent_status === 'paused' && facts.agent_pause_reason === 'budget') {
    return { scope: 'agent', reason: budgetTexts.agentPausedForBudget };
  }
  if (exceeded.has('agent')) return { scope: 'agent', reason: budgetTexts.agentBudgetExceeded };
  if (exceeded.has('project')) return { scope: 'project', reason: budgetTexts.projectBudgetExceeded };
  return null;
}
