/**
 * R27: one environment lease per run, acquired at claim and released when the run ends or is reaped.
 */
import type { Prisma } from '../store/db.ts';
import { logActivity } from '../store/activityLog.ts';

type Tx = Prisma.TransactionClient;

/** The company's one local environment, created lazily (unique per company where driver = 'local'). */
async function ensureLocalEnvironment(tx: Tx, companyId: string): Promise<{ id: string }> {
  await tx.$executeRaw`
    INSERT INTO environments (company_id, name, driver, status, config)
    VALUES (${companyId}::uuid, 'Local', 'local', 'active', '{}'::jsonb)
    ON CONFLICT DO NOTHING`;
  return tx.environment.findFirstOrThrow({ where: { companyId, driver: 'local' }, select: { id: true } });
}

export async function acquireRunLease(tx: Tx, run: { id: string; companyId: string; agentId: string; issueId: string | null }) {
  const environment = await ensureLocalEnvironment(tx, run.companyId);
  const lease = await tx.environmentLease.create({
    data: {
      companyId: run.companyId,
      environmentId: environment.id,
      issueId: run.issueId,
      heartbeatRunId: run.id,
      status: 'active',
      leasePolicy: 'ephemeral',
      provider: 'local',
      metadata: { driver: 'local' },
    },
  });
  await logActivity(tx, {
    companyId: run.companyId,
    actorType: 'agent',
    actorId: run.agentId,
    action: 'environment.lease_acquired',
    entityType: 'environment_lease',
    entityId: lease.id,
    agentId: run.agentId,
    runId: run.id,
    details: { environmentId: environment.id, driver: 'local', leasePolicy: lease.leasePolicy, provider: 'local', issueId: run.issueId },
  });
  return lease;
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
