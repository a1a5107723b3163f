/**
 * R27: one environment lease per run, acquired at claim (here) and ended when the run ends or is
 * reaped (store/leaseRelease.ts, in finalize's closing statement or the reaper's batch).
 */
import { Prisma, type PrismaClient } from '../store/db.ts';
import { leaseAcquireCtes, LEASE_HELD_SQL } from '../store/claimLease.ts';

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
