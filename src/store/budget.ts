/**
 * R74: the budget invocation block. Observed spend is summed from `cost_events` per scope; a
 * policy blocks when it is active, hard-stops, has amount > 0 and spend >= amount.
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

async function exceededPolicy(
  db: Db,
  companyId: string,
  scopeType: 'company' | 'agent' | 'project',
  scopeId: string,
  now: Date,
): Promise<boolean> {
  const policies = await db.budgetPolicy.findMany({
    where: { companyId, scopeType, scopeId, isActive: true, hardStopEnabled: true, amount: { gt: 0 } },
  });
  for (const policy of policies) {
    const scopeFilter =
      scopeType === 'company' ? {} : scopeType === 'agent' ? { agentId: scopeId } : { projectId: scopeId };
    const windowFilter = policy.windowKind === 'calendar_month_utc' ? { occurredAt: { gte: monthStartUtc(now) } } : {};
    const spend = await db.costEvent.aggregate({
      where: { companyId, ...scopeFilter, ...windowFilter },
      _sum: { costCents: true },
    });
    if ((spend._sum.costCents ?? 0) >= policy.amount) return true;
  }
  return false;
}

export async function getInvocationBlock(
  db: Db,
  input: { companyId: string; agentId: string; issueId?: string | null; projectId?: string | null },
  now = new Date(),
): Promise<InvocationBlock | null> {
  const company = await db.company.findUnique({ where: { id: input.companyId } });
  if (company?.status === 'paused') {
    return {
      scope: 'company',
      reason: company.pauseReason === 'budget' ? budgetTexts.companyPausedForBudget : budgetTexts.companyPaused,
    };
  }
  if (await exceededPolicy(db, input.companyId, 'company', input.companyId, now)) {
    return { scope: 'company', reason: budgetTexts.companyBudgetExceeded };
  }
  const agent = await db.agent.findUnique({ where: { id: input.agentId } });
  if (agent?.status === 'paused' && agent.pauseReason === 'budget') {
    return { scope: 'agent', reason: budgetTexts.agentPausedForBudget };
  }
  if (await exceededPolicy(db, input.companyId, 'agent', input.agentId, now)) {
    return { scope: 'agent', reason: budgetTexts.agentBudgetExceeded };
  }
  if (input.projectId && (await exceededPolicy(db, input.companyId, 'project', input.projectId, now))) {
    return { scope: 'project', reason: 'Project cannot start new work because its budget hard-stop is exceeded.' };
  }
  return null;
}
