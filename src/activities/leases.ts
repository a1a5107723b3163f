/**
 * R27: one environment lease per run, acquired at claim and released when the run ends or is reaped.
 */
import { Prisma, type PrismaClient } from '../store/db.ts';
import { leaseAcquireCtes, LEASE_HELD_SQL } from '../store/claimLease.ts';
import { logActivity } from '../store/activityLog.ts';

type Tx = Prisma.TransactionClient;
type Db = PrismaClient | Tx;

/** R27: the lease statement alone (a retried claim; the rare race the claim's transition lost). */
async function acquireLeaseOnce(db: Db, run: { id: string; companyId: string; agentId: string; issueId: string | null }): Promise<boolean> {
  const rows = await db.$queryRaw<Array<{ done: boolean }>>`
    WITH ${leaseAcquireCtes(run, Prisma.sql`TRUE`)}
    SELECT ${LEASE_HELD_SQL} AS done`;
  return rows[0]?.done ?? false;
}

export async function acquireRunLease(db: Db, run: { id: string; companyId: string; agentId: string; issueId: string | null }): Promise<void> {
  for (let attempt = 0; attempt < 3; attempt++) {
    if (await acquireLeaseOnce(db, run)) return;
  }
  throw new Error(`Could not acquire an environment lease for run ${run.id}`);
}

/** R27: active leases of a run become `failed` when the run failed or timed out, else `released`. */
export async function releaseRunLeases(tx: Tx, run: { id: string; companyId: string; agentId: string; status: string }) {
  const target = run.status === 'failed' || run.status === 'timed_out' ? 'failed' : 'released';
  const leases = await tx.environmentLease.findMany({ where: { heartbeatRunId: run.id, status: 'active' } });
  const now = new Date();
  for (const lease of leases) {
    const updated = await tx.environmentLease.updateMany({
      where: { id: lease.id, status: 'active' },
      data: { status: target, releasedAt: now, lastUsedAt: now, cleanupStatus: 'success' },
    });
    if (updated.count === 0) continue;
    await logActivity(tx, {
      companyId: run.companyId,
      actorType: 'agent',
      actorId: run.agentId,
      action: 'environment.lease_released',
      entityType: 'environment_lease',
      entityId: lease.id,
      agentId: run.agentId,
      runId: run.id,
      details: {
        environmentId: lease.environmentId,
        driver: 'local',
        leasePolicy: lease.leasePolicy,
        provider: lease.provider,
        executionWorkspaceId: lease.executionWorkspaceId,
        issueId: lease.issueId,
        status: target,
        cleanupStatus: 'success',
        failureReason: lease.failureReason,
      },
    });
  }
  return leases.length;
}
