/**
 * The claim's statements (R4, R69, R9, R27), one round trip each: everything the gates decide on,
 * read at once; then, inside the transaction that holds the agent row lock (R69's per-agent
 * mutex, `lockAgent` in locks.ts), the slot check and every write of the `queued → running`
 * transition as one data-modifying statement.
 *
 * READ COMMITTED takes a statement's snapshot when the statement starts. The transition therefore
 * runs as its own statement after `lockAgent` returned: its snapshot sees every claim and finalize
 * of this agent that committed before the lock was granted, so its count of running runs is exact.
 */
import { Prisma } from './db.ts';
import { claimableQueuedRunIdsSql } from './agentSlots.ts';
import { invocationBlockFactsSql } from './budget.ts';
import { nearestPauseHoldSql } from './treeHolds.ts';
import { unresolvedBlockerIdsSql } from './issueRelations.ts';
import { uuidOrNullSql } from './uuidSql.ts';
import { leaseAcquireCtes, LEASE_HELD_SQL } from './claimLease.ts';
import { NON_INVOKABLE_AGENT_STATUSES } from '../domain/runStatus.ts';
import type { IssueLockPlan } from '../domain/claimGates.ts';
import type { InvocationBlockFacts } from '../domain/invocationBlock.ts';

interface ClaimFactsRow {
  id: string;
  company_id: string;
  agent_id: string;
  status: string;
  scheduled_retry_at: Date | null;
  started_at: Date | null;
  context_snapshot: unknown;
  wakeup_request_id: string | null;
  result_json: unknown;
  agent_found: string | null;
  agent_name: string | null;
  agent_status: string | null;
  adapter_type: string | null;
  adapter_config: unknown;
  runtime_config: unknown;
  runtime_state_json: unknown;
  issue_id: string | null;
  issue_company_id: string | null;
  issue_assignee_agent_id: string | null;
  issue_status: string | null;
  issue_checkout_run_id: string | null;
  checkout_holder_status: string | null;
  hold_id: string | null;
  hold_root_issue_id: string | null;
  unresolved_blocker_ids: string[] | null;
  company_status: string | null;
  company_pause_reason: string | null;
  budget_agent_status: string | null;
  agent_pause_reason: string | null;
  exceeded_scopes: string[] | null;
}

export interface ClaimRead {
  run: {
    id: string;
    companyId: string;
    agentId: string;
    status: string;
    scheduledRetryAt: Date | null;
    contextSnapshot: unknown;
    wakeupRequestId: string | null;
    resultJson: unknown;
  };
  agent: { id: string; name: string; status: string; adapterType: string; adapterConfig: unknown; runtimeConfig: unknown; runtimeStateJson: unknown } | null;
  issue: { id: string; companyId: string; assigneeAgentId: string | null; status: string; checkoutRunId: string | null } | null;
  checkoutHolderStatus: string | null;
  pauseHold: { holdId: string; rootIssueId: string } | null;
  unresolvedBlockerIds: string[];
  budget: InvocationBlockFacts;
}

/**
 * R4's facts in one statement: the run, its agent with its runtime state (R69 status, the quota
 * wall), the R74 budget facts, and when issue-bound the issue (R4.4c staleness, R9 checkout with
 * the checkout holder's status), the R66 pause hold and the R75 unresolved blockers.
 */
export async function readClaimFacts(tx: Prisma.TransactionClient, runId: string, now: Date): Promise<ClaimRead | null> {
  const issueId = uuidOrNullSql(Prisma.sql`r.context_snapshot->>'issueId'`);
  const projectId = uuidOrNullSql(Prisma.sql`r.context_snapshot->>'projectId'`);
  // R69's per-agent mutex is taken by this same statement. Its facts are as of the statement's
  // start, as a read before the lock would be; the claim's transition, a statement of its own,
  // sees everything the lock's previous holder wrote.
  const rows = await tx.$queryRaw<ClaimFactsRow[]>`
    WITH agent_lock AS MATERIALIZED (
      SELECT id FROM agents WHERE id = (SELECT agent_id FROM heartbeat_runs WHERE id = ${runId}::uuid) FOR NO KEY UPDATE
    )
    SELECT r.id, r.company_id, r.agent_id, r.status::text AS status, r.scheduled_retry_at, r.started_at, r.context_snapshot,
           r.wakeup_request_id, r.result_json,
           a.id AS agent_found, a.name AS agent_name, a.status::text AS agent_status, a.adapter_type, a.adapter_config, a.runtime_config,
           s.state_json AS runtime_state_json,
           i.id AS issue_id, i.company_id AS issue_company_id, i.assignee_agent_id AS issue_assignee_agent_id,
           i.status::text AS issue_status, i.checkout_run_id AS issue_checkout_run_id,
           holder.status::text AS checkout_holder_status,
           hold.hold_id, hold.root_issue_id AS hold_root_issue_id,
           ${unresolvedBlockerIdsSql(Prisma.sql`i.id`)} AS unresolved_blocker_ids,
           budget.company_status, budget.company_pause_reason, budget.agent_status AS budget_agent_status,
           budget.agent_pause_reason, budget.exceeded_scopes
    FROM heartbeat_runs r
    LEFT JOIN agents a ON a.id = r.agent_id
    LEFT JOIN agent_runtime_state s ON s.agent_id = r.agent_id
    LEFT JOIN issues i ON i.id = ${issueId}
    LEFT JOIN heartbeat_runs holder ON holder.id = i.checkout_run_id
    LEFT JOIN LATERAL (${nearestPauseHoldSql(issueId)}) hold ON true
    LEFT JOIN LATERAL (${invocationBlockFactsSql({ companyId: Prisma.sql`r.company_id`, agentId: Prisma.sql`r.agent_id`, projectId }, now)}) budget ON true
    LEFT JOIN agent_lock ON agent_lock.id = r.agent_id
    WHERE r.id = ${runId}::uuid`;
  const row = rows[0];
  if (!row) return null;
  return {
    run: {
      id: row.id,
      companyId: row.company_id,
      agentId: row.agent_id,
      status: row.status,
      scheduledRetryAt: row.scheduled_retry_at,
      contextSnapshot: row.context_snapshot,
      wakeupRequestId: row.wakeup_request_id,
      resultJson: row.result_json,
    },
    agent: row.agent_found
      ? {
          id: row.agent_found,
          name: row.agent_name!,
          status: row.agent_status!,
          adapterType: row.adapter_type!,
          adapterConfig: row.adapter_config,
          runtimeConfig: row.runtime_config,
          runtimeStateJson: row.runtime_state_json,
        }
      : null,
    issue: row.issue_id
      ? { id: row.issue_id, companyId: row.issue_company_id!, assigneeAgentId: row.issue_assignee_agent_id, status: row.issue_status!, checkoutRunId: row.issue_checkout_run_id }
      : null,
    checkoutHolderStatus: row.checkout_holder_status,
    pauseHold: row.hold_id ? { holdId: row.hold_id, rootIssueId: row.hold_root_issue_id! } : null,
    unresolvedBlockerIds: row.unresolved_blocker_ids ?? [],
    budget: {
      companyStatus: row.company_status,
      companyPauseReason: row.company_pause_reason,
      agentStatus: row.budget_agent_status,
      agentPauseReason: row.agent_pause_reason,
      exceededScopes: row.exceeded_scopes ?? [],
    },
  };
}

export interface ClaimTransitionInput {
  run: { id: string; companyId: string; agentId: string; issueId: string | null };
  maxConcurrentRuns: number;
  issueLock: IssueLockPlan | null;
  now: Date;
}

export interface ClaimTransitionResult {
  /** R69: the run is among the agent's claimable queued runs. */
  slotFree: boolean;
  /** R69: the agent is still invokable (it may have been paused since the gates read it). */
  agentInvokable: boolean;
  /** R4.5: the run moved `queued → running` (false: it was no longer queued). */
  moved: boolean;
  /** R27: the run holds its lease (false only if the environment insert lost a race). */
  leased: boolean;
}

/**
 * R69's slot check and R4.5's transition in one statement, to run right after `lockAgent` in the
 * same transaction: the run `queued → running` (startedAt kept), the agent `running`, the wake
 * `claimed`, the bound issue's lazy lock with R9's checkout, and R27's lease with the start event.
 * Every write depends on the run having moved, so a refused claim (no slot, agent paused, run
 * no longer queued) writes nothing.
 */
export async function claimQueuedRun(tx: Prisma.TransactionClient, input: ClaimTransitionInput): Promise<ClaimTransitionResult> {
  const { run, issueLock, now } = input;
  const checkOut = issueLock?.checkOut ?? false;
  const rows = await tx.$queryRaw<ClaimTransitionResult[]>`
    WITH slot AS (
      -- R69: among the first (maxConcurrentRuns − running) queued runs by rank
      SELECT ${run.id}::uuid IN (${claimableQueuedRunIdsSql(run.agentId, input.maxConcurrentRuns)}) AS free
    ),
    invokable AS (
      -- R69: re-checked under the agent lock
      SELECT EXISTS (SELECT 1 FROM agents WHERE id = ${run.agentId}::uuid AND status::text <> ALL(${[...NON_INVOKABLE_AGENT_STATUSES]}::text[])) AS ok
    ),
    moved AS (
      -- R4.5: guarded on the status still being queued; startedAt kept if already set
      UPDATE heartbeat_runs SET status = 'running', started_at = coalesce(started_at, ${now}), updated_at = ${now}
      WHERE id = ${run.id}::uuid AND status = 'queued' AND (SELECT free FROM slot) AND (SELECT ok FROM invokable)
      RETURNING id, wakeup_request_id
    ),
    busy AS (
      -- R69: the agent is running
      UPDATE agents SET status = 'running', updated_at = ${now}
      WHERE id = ${run.agentId}::uuid AND EXISTS (SELECT 1 FROM moved)
      RETURNING id
    ),
    wake AS (
      -- R4.5: the wake becomes claimed
      UPDATE agent_wakeup_requests w SET status = 'claimed', claimed_at = ${now}, updated_at = ${now}
      FROM moved WHERE w.id = moved.wakeup_request_id
      RETURNING w.id
    ),
    locked AS (
      -- R4.5: lazy lock, only for the assignee, only if free or ours; R9: checkout as the domain decided
      UPDATE issues SET execution_run_id = ${run.id}::uuid, execution_agent_name_key = ${issueLock?.executionAgentNameKey ?? null},
             execution_locked_at = ${now}, updated_at = ${now},
             status = CASE WHEN ${checkOut}::boolean THEN 'in_progress'::issue_status ELSE status END,
             checkout_run_id = CASE WHEN ${checkOut}::boolean THEN ${run.id}::uuid ELSE checkout_run_id END,
             started_at = CASE WHEN ${checkOut}::boolean THEN coalesce(started_at, ${now}) ELSE started_at END
      WHERE id = ${issueLock?.issueId ?? null}::uuid AND assignee_agent_id = ${run.agentId}::uuid
        AND (execution_run_id IS NULL OR execution_run_id = ${run.id}::uuid) AND EXISTS (SELECT 1 FROM moved)
      RETURNING id
    ),
    -- R27: the lease and the start event, once the run moved
    ${leaseAcquireCtes(run, Prisma.sql`EXISTS (SELECT 1 FROM moved)`)}
    SELECT (SELECT free FROM slot) AS "slotFree", (SELECT ok FROM invokable) AS "agentInvokable",
           EXISTS (SELECT 1 FROM moved) AS moved, ${LEASE_HELD_SQL} AS leased`;
  return rows[0];
}
