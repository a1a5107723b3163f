/**
 * R59, the recovery issue's owner, for many sources at once (the sweep's escalation batches and
 * the after-run path's single escalation, R32): the agents every source's candidate list can
 * name are read in two statements, and each candidate's budget verdict is asked once per scope.
 */
import type { Agent, PrismaClient } from '../../store/db.ts';
import { isInvokableAgentStatus } from '../../domain/runStatus.ts';
import type { BudgetVerdicts } from './budgetVerdicts.ts';

export interface OwnerSource {
  id: string;
  companyId: string;
  projectId: string | null;
  assigneeAgentId: string | null;
  createdByAgentId: string | null;
}

/**
 * R59's candidate list, in order and deduped: the assignee's manager, the creator's manager, the
 * creator, the company's `cto` agents then its `ceo` agents (each oldest first), the assignee.
 */
export function recoveryOwnerCandidates(source: OwnerSource, agents: ReadonlyMap<string, Agent>, executives: readonly Agent[]): string[] {
  const assignee = source.assigneeAgentId ? agents.get(source.assigneeAgentId) : undefined;
  const creator = source.createdByAgentId ? agents.get(source.createdByAgentId) : undefined;
  const ofCompany = executives.filter((agent) => agent.companyId === source.companyId);
  const ids = [
    assignee?.reportsTo,
    creator?.reportsTo,
    source.createdByAgentId,
    ...ofCompany.filter((agent) => agent.role === 'cto').map((agent) => agent.id),
    ...ofCompany.filter((agent) => agent.role === 'ceo').map((agent) => agent.id),
    source.assigneeAgentId,
  ].filter((id): id is string => typeof id === 'string');
  return [...new Set(ids)];
}

/** R59: per source id, the first candidate in the same company, invokable, with no budget block; null for none (R61). */
export async function selectRecoveryOwners(prisma: PrismaClient, sources: readonly OwnerSource[], budget: BudgetVerdicts): Promise<Map<string, Agent | null>> {
  const owners = new Map<string, Agent | null>();
  if (sources.length === 0) return owners;
  const companyIds = [...new Set(sources.map((source) => source.companyId))];
  const directIds = [...new Set(sources.flatMap((source) => [source.assigneeAgentId, source.createdByAgentId]).filter((id): id is string => id !== null))];
  const [direct, executives] = await Promise.all([
    prisma.agent.findMany({ where: { id: { in: directIds } } }),
    prisma.agent.findMany({ where: { companyId: { in: companyIds }, role: { in: ['cto', 'ceo'] } }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }] }),
  ]);
  const agents = new Map<string, Agent>([...direct, ...executives].map((agent) => [agent.id, agent]));
  const managerIds = [...new Set(direct.map((agent) => agent.reportsTo).filter((id): id is string => id !== null && !agents.has(id)))];
  if (managerIds.length > 0) for (const agent of await prisma.agent.findMany({ where: { id: { in: managerIds } } })) agents.set(agent.id, agent);

  for (const source of sources) {
    let owner: Agent | null = null;
    for (const id of recoveryOwnerCandidates(source, agents, executives)) {
      const candidate = agents.get(id);
      if (!candidate || candidate.companyId !== source.companyId || !isInvokableAgentStatus(candidate.status)) continue;
      if (await budget.blocked({ companyId: source.companyId, agentId: candidate.id, issueId: source.id, projectId: source.projectId })) continue;
      owner = candidate;
      break;
    }
    owners.set(source.id, owner);
  }
  return owners;
}
