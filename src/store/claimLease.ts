/**
 * R27's acquire as common table expressions, so the claim's transition (claimStatements.ts) and a
 * retried claim's lease statement (`acquireRunLease` in src/activities/leases.ts) share one text.
 */
import { Prisma } from './db.ts';
import { runTexts } from '../domain/texts.ts';

/**
 * R27 (acquire) and the "run started" event, as common table expressions (no leading WITH) for
 * one atomic statement: the company's one local environment (created lazily, unique per company
 * where driver = 'local'), one lease for the run unless it has one already (a retried claim),
 * the `environment.lease_acquired` activity, and the lifecycle event — all only when `when` holds
 * (the claim's transition passes "the run moved to running"). The CTE names start with `lease`.
 * `LEASE_HELD_SQL` says whether the run has its lease after the statement; it is false when the
 * statement lost a race creating the environment (the competing insert is not visible to it).
 */
export function leaseAcquireCtes(run: { id: string; companyId: string; agentId: string; issueId: string | null }, when: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`
    lease_environment_created AS (
      INSERT INTO environments (company_id, name, driver, status, config)
      SELECT ${run.companyId}::uuid, 'Local', 'local', 'active', '{}'::jsonb WHERE ${when}
      ON CONFLICT DO NOTHING RETURNING id),
    lease_environment AS (
      SELECT id FROM lease_environment_created
      UNION ALL SELECT id FROM environments WHERE company_id = ${run.companyId}::uuid AND driver = 'local'
      LIMIT 1),
    lease_existing AS (SELECT 1 FROM environment_leases WHERE heartbeat_run_id = ${run.id}::uuid),
    lease AS (
      INSERT INTO environment_leases (company_id, environment_id, issue_id, heartbeat_run_id, status, lease_policy, provider, metadata)
      SELECT ${run.companyId}::uuid, lease_environment.id, ${run.issueId}::uuid, ${run.id}::uuid, 'active', 'ephemeral', 'local', '{"driver":"local"}'::jsonb
      FROM lease_environment WHERE ${when} AND NOT EXISTS (SELECT 1 FROM lease_existing)
      RETURNING id, environment_id),
    lease_logged AS (
      INSERT INTO activity_log (company_id, actor_type, actor_id, action, entity_type, entity_id, agent_id, run_id, details)
      SELECT ${run.companyId}::uuid, 'agent', ${run.agentId}, 'environment.lease_acquired', 'environment_lease', lease.id::text,
             ${run.agentId}::uuid, ${run.id}::uuid,
             jsonb_build_object('environmentId', lease.environment_id, 'driver', 'local', 'leasePolicy', 'ephemeral',
                                'provider', 'local', 'issueId', ${run.issueId}::text)
      FROM lease),
    lease_started AS (
      INSERT INTO heartbeat_run_events (company_id, run_id, agent_id, seq, event_type, stream, level, message)
      SELECT ${run.companyId}::uuid, ${run.id}::uuid, ${run.agentId}::uuid,
             coalesce((SELECT max(seq) FROM heartbeat_run_events WHERE run_id = ${run.id}::uuid), 0) + 1,
             'lifecycle', 'system', 'info', ${runTexts.runStarted}
      FROM lease)`;
}

/** After `leaseAcquireCtes`: the run holds its lease (acquired now, or already). */
export const LEASE_HELD_SQL = Prisma.sql`(EXISTS (SELECT 1 FROM lease) OR EXISTS (SELECT 1 FROM lease_existing))`;

