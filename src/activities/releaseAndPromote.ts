/**
 * R28: when a run becomes terminal, release the issue's execution lock if this run holds it.
 * (Deferred-wake promotion R29 and immediate recovery R30–R34 build on this step.)
 */
import type { Prisma } from '../store/db.ts';
import { boundIssueId } from '../store/json.ts';

type Tx = Prisma.TransactionClient;

export interface ReleaseResult {
  issueId: string | null;
  /** The lock belonged to this run and was cleared. */
  released: boolean;
}

export async function releaseIssueExecution(
  tx: Tx,
  run: { id: string; companyId: string; contextSnapshot: unknown },
): Promise<ReleaseResult> {
  // R28.1: the target is the bound issue, else the issue whose lock points at this run.
  let issueId = boundIssueId(run.contextSnapshot);
  if (!issueId) {
    const holder = await tx.issue.findFirst({ where: { companyId: run.companyId, executionRunId: run.id }, select: { id: true } });
    issueId = holder?.id ?? null;
  }
  if (!issueId) return { issueId: null, released: false };
  const locked = await tx.$queryRaw<Array<{ execution_run_id: string | null }>>`
    SELECT execution_run_id FROM issues WHERE id = ${issueId}::uuid FOR UPDATE`;
  if (locked.length === 0) return { issueId: null, released: false };
  // R28.3: another run owns the lock (for example a scheduled retry swapped it): leave it.
  if (locked[0].execution_run_id !== run.id) return { issueId, released: false };
  await tx.issue.update({
    where: { id: issueId },
    data: { executionRunId: null, executionAgentNameKey: null, executionLockedAt: null },
  });
  return { issueId, released: true };
}
