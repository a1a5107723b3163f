/**
 * R74 verdicts asked once per scope: a budget block depends on (company, agent, project), never on
 * the issue, so a sweep (or a batch of escalations) asks each scope once and shares the answer —
 * the stranded sweep's pre-check (R50a/R50d/R51d) and the recovery owner choice (R59).
 */
import type { PrismaClient } from '../../store/db.ts';
import { getInvocationBlock } from '../../store/budget.ts';

export interface BudgetScope {
  companyId: string;
  agentId: string;
  projectId: string | null;
  issueId: string;
}

export class BudgetVerdicts {
  private readonly verdicts = new Map<string, Promise<boolean>>();

  constructor(private readonly prisma: PrismaClient) {}

  /** R74: whether an invocation block exists for the scope. */
  blocked(scope: BudgetScope): Promise<boolean> {
    const key = `${scope.companyId}:${scope.agentId}:${scope.projectId ?? ''}`;
    let verdict = this.verdicts.get(key);
    if (!verdict) {
      verdict = getInvocationBlock(this.prisma, scope).then((block) => block !== null);
      this.verdicts.set(key, verdict);
    }
    return verdict;
  }
}
