/**
 * R27's ending of leases: every `active` lease of the given runs becomes `released` (the run
 * succeeded or was cancelled) or `failed` (it failed or timed out), each with its
 * `environment.lease_released` activity row — in finalize's closing statement, or alone for a
 * batch (the orphan reaper).
 */
import { Prisma } from './db.ts';

type Tx = Prisma.TransactionClient;

export type LeaseEnd = 'released' | 'failed';

/** R27: which end a run's leases get. */
export function leaseEndFor(runStatus: string): LeaseEnd {
  return runStatus === 'failed' || runStatus === 'timed_out' ? 'failed' : 'released';
}

/**
 * R27's ending as two CTEs (`lease_ended`, `lease_released_activity`) for a statement that ends
 * leases together with other writes (finalize's closing statement): every active lease of the runs
 * ends, each with its `environment.lease_released` activity row attributed to the run's agent.
 */
export function leaseEndCtes(runIds: readonly string[], end: LeaseEnd, now: Date): Prisma.Sql {
  return Prisma.sql`
    lease_ended AS (
      UPDATE environment_leases
      SET status = ${end}::environment_lease_status, released_at = ${now}, last_used_at = ${now}, cleanup_status = 'success', updated_at = ${now}
      WHERE heartbeat_run_id = ANY(${[...runIds]}::uuid[]) AND status = 'active'
      RETURNING id, company_id, heartbeat_run_id, environment_id, lease_policy, provider, execution_workspace_id, issue_id, failure_reason
    ), lease_released_activity AS (
      INSERT INTO activity_log (company_id, actor_type, actor_id, action, entity_type, entity_id, agent_id, run_id, details, created_at)
      SELECT e.company_id, 'agent', r.agent_id::text, 'environment.lease_released', 'environment_lease', e.id::text, r.agent_id, e.heartbeat_run_id,
             jsonb_build_object('environmentId', e.environment_id, 'driver', 'local', 'leasePolicy', e.lease_policy, 'provider', e.provider,
                                'executionWorkspaceId', e.execution_workspace_id, 'issueId', e.issue_id, 'status', ${end}::text,
                                'cleanupStatus', 'success', 'failureReason', e.failure_reason),
             ${now}
      FROM lease_ended e JOIN heartbeat_runs r ON r.id = e.heartbeat_run_id
      ORDER BY e.heartbeat_run_id, e.id
    )`;
}

/** Ends the runs' active leases (one statement); returns how many ended. */
export async function endRunLeases(tx: Tx, runIds: readonly string[], end: LeaseEnd, now: Date): Promise<number> {
  if (runIds.length === 0) return 0;
  const [row] = await tx.$queryRaw<Array<{ ended: number }>>`WITH ${leaseEndCtes(runIds, end, now)} SELECT count(*)::int AS ended FROM lease_ended`;
  return row.ended;
}
