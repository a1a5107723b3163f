/**
 * R27: one environment lease per run, acquired at claim and released when the run ends or is reaped.
 */
import type { Prisma, PrismaClient } from '../store/db.ts';
import { runTexts } from '../domain/texts.ts';
import { logActivity } from '../store/activityLog.ts';

type Tx = Prisma.TransactionClient;
type Db = PrismaClient | Tx;

/**
 * R27 (acquire) and the "run started" event, as one atomic statement: the company's one local
 * environment (created lazily, unique per company where driver = 'local'), one lease for the run
 * unless it has one already (a retried claim), the `environment.lease_acquired` activity, and the
 * lifecycle event. Returns false when the statement lost a race creating the environment (the
 * competing insert is not visible to it); the caller simply runs it again.
 */
async function acquireLeaseOnce(db: Db, run: { id: string; companyId: string; agentId: string; issueId: string | null }): Promise<boolean> {
  const rows = await db.$queryRaw<Array<{ done: boolean }>>`
    WITH created AS (
      INSERT INTO environments (company_id, name, driver, status, config)
      VALUES (${run.companyId}::uuid, 'Local', 'local', 'active', '{}'::jsonb)
      ON CONFLICT DO NOTHING RETURNING id),
    environment AS (
      SELECT id FROM created
      UNION ALL SELECT id FROM environments WHERE company_id = ${run.companyId}::uuid AND driver = 'local'
      LIMIT 1),
    already AS (SELECT 1 FROM environment_leases WHERE heartbeat_run_id = ${run.id}::uuid),
    lease AS (
      INSERT INTO environment_leases (company_id, environment_id, issue_id, heartbeat_run_id, status, lease_policy, provider, metadata)
      SELECT ${run.companyId}::uuid, environment.id, ${run.issueId}::uuid, ${run.id}::uuid, 'active', 'ephemeral', 'local', '{"driver":"local"}'::jsonb
      FROM environment WHERE NOT EXISTS (SELECT 1 FROM already)
      RETURNING id, environment_id),
    logged AS (
      INSERT INTO activity_log (company_id, actor_type, actor_id, action, entity_type, entity_id, agent_id, run_id, details)
      SELECT ${run.companyId}::uuid, 'agent', ${run.agentId}, 'environment.lease_acquired', 'environment_lease', lease.id::text,
             ${run.agentId}::uuid, ${run.id}::uuid,
             jsonb_build_object('environmentId', lease.environment_id, 'driver', 'local', 'leasePolicy', 'ephemeral',
                                'provider', 'local', 'issueId', ${run.issueId}::text)
      FROM lease),
    started AS (
      INSERT INTO heartbeat_run_events (company_id, run_id, agent_id, seq, event_type, stream, level, message)
      SELECT ${run.companyId}::uuid, ${run.id}::uuid, ${run.agentId}::uuid,
             coalesce((SELECT max(seq) FROM heartbeat_run_events WHERE run_id = ${run.id}::uuid), 0) + 1,
             'lifecycle', 'system', 'info', ${runTexts.runStarted}
      FROM lease)
    SELECT EXISTS (SELECT 1 FROM lease) OR EXISTS (SELECT 1 FROM already) AS done`;
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
