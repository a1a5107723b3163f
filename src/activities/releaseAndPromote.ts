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
  // R28.3/4: clear the lock only where this run holds it (a scheduled retry may have taken it).
  const boundIssue = boundIssueId(run.contextSnapshot);
  const released = await tx.issue.updateManyAndReturn({
    where: boundIssue ? { id: boundIssue, executionRunId: run.id } : { companyId: run.companyId, executionRunId: run.id },
    data: { executionRunId: null, executionAgentNameKey: null, executionLockedAt: null },
    select: { id: true },
  });
  return { issueId: boundIssue ?? released[0]?.id ?? null, released: released.length > 0 };
}
