/**
 * R74: the budget invocation block as a pure decision over the facts one query gathers
 * (`invocationBlockFactsSql` in src/store/budget.ts, alone or inside the claim's read). The rule's
 * order: a paused company, the company's hard stop, an agent paused for budget, the agent's hard
 * stop, the project's hard stop.
 */
import { budgetTexts } from './texts.ts';

export interface InvocationBlockFacts {
  companyStatus: string | null;
  companyPauseReason: string | null;
  agentStatus: string | null;
  agentPauseReason: string | null;
  /** Scopes (`company`, `agent`, `project`) whose active hard-stop policy is reached or exceeded. */
  exceededScopes: readonly string[];
}

export interface InvocationBlockVerdict {
  scope: 'company' | 'agent' | 'project';
  reason: string;
  /** The block comes from a budget (a hard stop reached or exceeded), not a manual pause. */
  budget: boolean;
}

export function invocationBlockOf(facts: InvocationBlockFacts): InvocationBlockVerdict | null {
  const exceeded = new Set(facts.exceededScopes);
  if (facts.companyStatus === 'paused') {
    const budget = facts.companyPauseReason === 'budget';
    return { scope: 'company', reason: budget ? budgetTexts.companyPausedForBudget : budgetTexts.companyPaused, budget };
  }
  if (exceeded.has('company')) return { scope: 'company', reason: budgetTexts.companyBudgetExceeded, budget: true };
  if (facts.agentStatus === 'paused' && facts.agentPauseReason === 'budget') {
    return { scope: 'agent', reason: budgetTexts.agentPausedForBudget, budget: true };
  }
  if (exceeded.has('agent')) return { scope: 'agent', reason: budgetTexts.agentBudgetExceeded, budget: true };
  if (exceeded.has('project')) return { scope: 'project', reason: budgetTexts.projectBudgetExceeded, budget: true };
  return null;
}
