/**
 * §11 of RECOVERY.md, the stranded-work sweep (`reconcileStrandedAssignedIssues`): agent-assigned
 * `todo`/`in_progress` issues with no live execution path get one automatic dispatch or
 * continuation, and are escalated (§12) once that was used; unassigned blockers go back to the
 * agent that created them (R55).
 *
 * One query classifies every candidate (live path, pause hold, latest run, queued wake) over
 * indexed columns, so a healthy instance costs one round trip however many issues it has; only
 * issues that need an action cost more. Actions run a few at a time, each in its own short
 * transaction; the counters and `issueIds` keep candidate order (R52).
 */
import type { ActivityDeps } from './deps.ts';
import { getInvocationBlock } from '../store/budget.ts';
import { enqueueWakeup, type EnqueueResult } from '../store/wakeups.ts';
import { logActivity } from '../store/activityLog.ts';
import { CLEARED_EXECUTION } from '../store/issues.ts';
import { LIVE_RUN_STATUS_LIST } from '../store/runStatusSql.ts';
import { decideStrandedAction, type StrandedCandidateFacts, type StrandedDecision } from '../domain/strandedWork.ts';
import { isInvokableAgentStatus } from '../domain/runStatus.ts';
import { MAX_ISSUE_TREE_DEPTH } from '../domain/issueTree.ts';
import { orphanBlockerComment } from '../domain/recoveryTexts.ts';
import { escalateStrandedIssue } from './escalation.ts';
import { mapBounded } from '../platform/concurrency.ts';

export interface SweepResult {
  assignmentDispatched: number;
  dispatchRequeued: number;
  continuationRequeued: number;
  productiveContinuationObserved: number;
  successfulContinuationObserved: number;
  orphanBlockersAssigned: number;
  escalated: number;
  skipped: number;
  /** Issues that received an action, in processing order (sweep issues, then orphan blockers). */
  issueIds: string[];
}

export interface SweepOutcome {
  result: SweepResult;
  /** Runs the sweep queued; their workflows are started by the caller. */
  followUpRunIds: string[];
}

interface CandidateRow {
  id: string;
  company_id: string;
  status: 'todo' | 'in_progress';
  assignee_agent_id: string;
  project_id: string | null;
  checkout_run_id: string | null;
  execution_run_id: string | null;
  origin_kind: string;
  agent_status: string | null;
  has_live_path: boolean;
  held: boolean;
  latest_run_id: string | null;
  latest_run_status: string | null;
  latest_retry_reason: string | null;
  latest_liveness_state: string | null;
  has_queued_wake: boolean;
}

type Counter = Exclude<keyof SweepResult, 'issueIds'>;
type AgentRow = NonNullable<Awaited<ReturnType<ActivityDeps['prisma']['agent']['findUnique']>>>;

/** What one sweep reads once and shares between candidates: agent rows and budget verdicts. */
interface SweepContext {
  agents: Map<string, AgentRow>;
  /** R74 verdicts by company/agent/project: a block is per scope, not per issue. */
  budgetBlocked: Map<string, Promise<boolean>>;
}
type ActionOutcome = { counters: Counter[]; acted: boolean; followUps: string[] };

const CONCURRENCY = 6;

/** R48/R49: every candidate with the facts its decision needs, in one statement. */
function loadCandidates(deps: ActivityDeps, companyId: string | null) {
  return deps.prisma.$queryRaw<CandidateRow[]>`
    WITH live_issues AS (
      SELECT DISTINCT context_snapshot->>'issueId' AS issue_id FROM heartbeat_runs
      WHERE status IN ${LIVE_RUN_STATUS_LIST}
        AND (${companyId}::uuid IS NULL OR company_id = ${companyId}::uuid)
      UNION
      SELECT DISTINCT payload->>'issueId' FROM agent_wakeup_requests
      WHERE status = 'deferred_issue_execution' AND (${companyId}::uuid IS NULL OR company_id = ${companyId}::uuid)
    ),
    hold_roots AS (
      SELECT root_issue_id FROM issue_tree_holds
      WHERE status = 'active' AND mode = 'pause' AND (${companyId}::uuid IS NULL OR company_id = ${companyId}::uuid)
    ),
    candidates AS (
      SELECT i.* FROM issues i
      WHERE i.status IN ('todo', 'in_progress') AND i.assignee_agent_id IS NOT NULL AND i.assignee_user_id IS NULL
        AND (${companyId}::uuid IS NULL OR i.company_id = ${companyId}::uuid)
    )
    SELECT c.id, c.company_id, c.status::text AS status, c.assignee_agent_id, c.project_id, c.checkout_run_id,
           c.execution_run_id, c.origin_kind,
           CASE WHEN a.company_id = c.company_id THEN a.status::text END AS agent_status,
           (c.id::text IN (SELECT issue_id FROM live_issues WHERE issue_id IS NOT NULL)) AS has_live_path,
           (EXISTS (SELECT 1 FROM hold_roots) AND EXISTS (
              WITH RECURSIVE lineage(id, parent_id, depth) AS (
                SELECT c.id, c.parent_id, 0
                UNION ALL
                SELECT p.id, p.parent_id, l.depth + 1 FROM issues p JOIN lineage l ON p.id = l.parent_id WHERE l.depth < ${MAX_ISSUE_TREE_DEPTH}::int)
              SELECT 1 FROM lineage JOIN hold_roots h ON h.root_issue_id = lineage.id)) AS held,
           lr.id AS latest_run_id, lr.status::text AS latest_run_status,
           lr.context_snapshot->>'retryReason' AS latest_retry_reason, lr.liveness_state::text AS latest_liveness_state,
           EXISTS (SELECT 1 FROM agent_wakeup_requests w
                   WHERE w.company_id = c.company_id AND w.status = 'queued' AND w.payload->>'issueId' = c.id::text) AS has_queued_wake
    FROM candidates c
    LEFT JOIN agents a ON a.id = c.assignee_agent_id
    LEFT JOIN LATERAL (
      SELECT r.id, r.status, r.context_snapshot, r.liveness_state FROM heartbeat_runs r
      WHERE r.company_id = c.company_id AND r.context_snapshot->>'issueId' = c.id::text
      ORDER BY r.created_at DESC, r.id DESC LIMIT 1
    ) lr ON true
    ORDER BY c.created_at, c.id`;
}

function factsOf(row: CandidateRow): StrandedCandidateFacts {
  return {
    status: row.status,
    agentStatus: row.agent_status,
    hasLiveExecutionPath: row.has_live_path,
    heldByPause: row.held,
    isRecoveryIssue: row.origin_kind === 'stranded_issue_recovery',
    latestRun: row.latest_run_id
      ? { id: row.latest_run_id, status: row.latest_run_status ?? '', retryReason: row.latest_retry_reason, livenessState: row.latest_liveness_state }
      : null,
    hasQueuedWake: row.has_queued_wake,
    hasRunLinkage: row.checkout_run_id !== null || row.execution_run_id !== null,
    checkoutRunId: row.checkout_run_id,
  };
}

/** The run an enqueue produced, if it produced or joined one (R71). */
function runOf(result: EnqueueResult): { id: string; isNew: boolean } | null {
  if (result.kind === 'queued') return { id: result.run.id, isNew: true };
  if (result.kind === 'coalesced') return { id: result.run.id, isNew: false };
  return null;
}

export function reconcileStrandedAssignedIssues(deps: ActivityDeps, scope: { companyId?: string } = {}): Promise<SweepOutcome> {
  return deps.metrics.timeSweep('stranded_sweep', async () => {
    const outcome = await reconcile(deps, scope);
    // One outcome label per counter of the sweep's result (snake_case, as metric labels go).
    for (const [counter, value] of Object.entries(outcome.result)) {
      if (typeof value === 'number') deps.metrics.sweepItems('stranded_sweep', counter.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`), value);
    }
    return outcome;
  });
}

async function reconcile(deps: ActivityDeps, scope: { companyId?: string }): Promise<SweepOutcome> {
  const result: SweepResult = {
    assignmentDispatched: 0,
    dispatchRequeued: 0,
    continuationRequeued: 0,
    productiveContinuationObserved: 0,
    successfulContinuationObserved: 0,
    orphanBlockersAssigned: 0,
    escalated: 0,
    skipped: 0,
    issueIds: [],
  };
  const followUpRunIds: string[] = [];
  const record = (issueId: string, outcome: ActionOutcome) => {
    for (const counter of outcome.counters) result[counter] += 1;
    if (outcome.acted) result.issueIds.push(issueId);
    followUpRunIds.push(...outcome.followUps);
  };

  const rows = await loadCandidates(deps, scope.companyId ?? null);
  const decided = rows.map((row) => ({ row, decision: decideStrandedAction(factsOf(row)) }));
  const actionable = decided.filter((d) => d.decision.kind !== 'skip' && d.decision.kind !== 'observe');
  const outcomes = new Map<string, ActionOutcome>();
  const agentIds = [...new Set(actionable.map((d) => d.row.assignee_agent_id))];
  const context: SweepContext = {
    agents: new Map((agentIds.length > 0 ? await deps.prisma.agent.findMany({ where: { id: { in: agentIds } } }) : []).map((agent) => [agent.id, agent])),
    budgetBlocked: new Map(),
  };
  const acted = await mapBounded(actionable, CONCURRENCY, (d) => actOn(deps, context, d.row, d.decision));
  actionable.forEach((d, i) => outcomes.set(d.row.id, acted[i]));
  for (const { row, decision } of decided) {
    if (decision.kind === 'skip') record(row.id, { counters: ['skipped'], acted: false, followUps: [] });
    else if (decision.kind === 'observe') {
      const counter = decision.productive ? 'productiveContinuationObserved' : 'successfulContinuationObserved';
      record(row.id, { counters: [counter, 'skipped'], acted: false, followUps: [] });
    } else record(row.id, outcomes.get(row.id)!);
  }

  for (const blocker of await reassignOrphanBlockers(deps, scope.companyId ?? null)) record(blocker.issueId, blocker.outcome);
  return { result, followUpRunIds };
}

const SKIPPED_OUTCOME: ActionOutcome = { counters: ['skipped'], acted: false, followUps: [] };

/** One candidate's action. Errors are contained: the candidate counts as skipped (R55 note). */
async function actOn(deps: ActivityDeps, context: SweepContext, row: CandidateRow, decision: StrandedDecision): Promise<ActionOutcome> {
  try {
    return await act(deps, context, row, decision);
  } catch (error) {
    deps.logger.warn('stranded-work sweep skipped an issue after an error', { issueId: row.id, error: error instanceof Error ? error.message : String(error) });
    return SKIPPED_OUTCOME;
  }
}

/** R74 for the candidate's scope, asked once per sweep (budget does not depend on the issue itself). */
function budgetBlocked(deps: ActivityDeps, context: SweepContext, row: CandidateRow): Promise<boolean> {
  const key = `${row.company_id}:${row.assignee_agent_id}:${row.project_id ?? ''}`;
  let verdict = context.budgetBlocked.get(key);
  if (!verdict) {
    verdict = getInvocationBlock(deps.prisma, { companyId: row.company_id, agentId: row.assignee_agent_id, issueId: row.id, projectId: row.project_id }).then((block) => block !== null);
    context.budgetBlocked.set(key, verdict);
  }
  return verdict;
}

async function act(deps: ActivityDeps, context: SweepContext, row: CandidateRow, decision: StrandedDecision): Promise<ActionOutcome> {
  switch (decision.kind) {
    case 'escalate':
    case 'escalate_in_place': {
      const escalated = await escalateStrandedIssue(deps, { issueId: row.id, previousStatus: row.status, latestRunId: decision.latestRunId, path: 'sweep' });
      // A racing sweep may have blocked the issue after this one created (and dispatched) its
      // recovery issue: skipped, but that dispatch run must still be started (R57.6, R65).
      return escalated.outcome === 'escalated'
        ? { counters: ['escalated'], acted: true, followUps: escalated.followUpRunIds }
        : { ...SKIPPED_OUTCOME, followUps: escalated.followUpRunIds };
    }
    case 'dispatch':
    case 'requeue': {
      // R50a/R50d/R51d: a budget block skips the issue without writing a skipped wake.
      const agent = context.agents.get(row.assignee_agent_id);
      if (!agent || (await budgetBlocked(deps, context, row))) return SKIPPED_OUTCOME;
      const enqueued = decision.kind === 'dispatch' ? await dispatchInitial(deps, agent, row) : await requeueRecovery(deps, agent, row, decision);
      if (!enqueued) return SKIPPED_OUTCOME;
      const counter: Counter =
        decision.kind === 'dispatch' ? 'assignmentDispatched' : decision.recovery.retryReason === 'assignment_recovery' ? 'dispatchRequeued' : 'continuationRequeued';
      return { counters: [counter], acted: true, followUps: enqueued.isNew ? [enqueued.id] : [] };
    }
    default:
      return SKIPPED_OUTCOME;
  }
}

/** R54: the first dispatch of an assigned todo issue that never ran. */
async function dispatchInitial(deps: ActivityDeps, agent: AgentRow, row: CandidateRow) {
  const result = await enqueueWakeup(deps.prisma, agent, {
    source: 'assignment',
    triggerDetail: 'system',
    reason: 'issue_assigned',
    requestedByActorType: 'system',
    payload: { issueId: row.id, mutation: 'assigned_todo_liveness_dispatch' },
    contextSnapshot: { issueId: row.id, taskId: row.id, wakeReason: 'issue_assigned', source: 'issue.assigned_todo_liveness_dispatch' },
  }, { budgetChecked: true });
  return runOf(result);
}

/** R53: the one automatic re-dispatch (todo) or continuation (in_progress). */
async function requeueRecovery(deps: ActivityDeps, agent: AgentRow, row: CandidateRow, decision: Extract<StrandedDecision, { kind: 'requeue' }>) {
  const { recovery, retryOfRunId } = decision;
  const result = await enqueueWakeup(deps.prisma, agent, {
    source: 'automation',
    triggerDetail: 'system',
    reason: recovery.wakeReason,
    requestedByActorType: 'system',
    requestedByActorId: null,
    payload: { issueId: row.id, ...(retryOfRunId ? { retryOfRunId } : {}) },
    contextSnapshot: {
      issueId: row.id,
      taskId: row.id,
      wakeReason: recovery.wakeReason,
      retryReason: recovery.retryReason,
      source: recovery.source,
      ...(retryOfRunId ? { retryOfRunId } : {}),
    },
    retryOfRunId,
  }, { budgetChecked: true });
  return runOf(result);
}

interface OrphanBlockerRow {
  id: string;
  company_id: string;
  created_by_agent_id: string;
  blocked_identifiers: string[] | null;
}

/** R55: open blockers nobody is assigned to go back to the agent that created them. */
async function reassignOrphanBlockers(deps: ActivityDeps, companyId: string | null): Promise<Array<{ issueId: string; outcome: ActionOutcome }>> {
  const { prisma } = deps;
  const blockers = await prisma.$queryRaw<OrphanBlockerRow[]>`
    SELECT b.id, b.company_id, b.created_by_agent_id,
           (array_agg(DISTINCT x.identifier) FILTER (WHERE x.identifier IS NOT NULL)) AS blocked_identifiers
    FROM issue_relations r
    JOIN issues b ON b.id = r.issue_id
    JOIN issues x ON x.id = r.related_issue_id AND x.company_id = b.company_id
    WHERE r.type = 'blocks' AND b.status IN ('todo', 'blocked')
      AND b.assignee_agent_id IS NULL AND b.assignee_user_id IS NULL AND b.created_by_agent_id IS NOT NULL
      AND x.status NOT IN ('done', 'cancelled')
      AND (${companyId}::uuid IS NULL OR b.company_id = ${companyId}::uuid)
    GROUP BY b.id, b.company_id, b.created_by_agent_id, b.created_at
    ORDER BY b.created_at, b.id`;
  const results: Array<{ issueId: string; outcome: ActionOutcome }> = [];
  for (const blocker of blockers) {
    let outcome: ActionOutcome = SKIPPED_OUTCOME;
    try {
      outcome = await reassignOrphanBlocker(deps, blocker);
    } catch (error) {
      deps.logger.warn('could not reassign an orphan blocker', { issueId: blocker.id, error: error instanceof Error ? error.message : String(error) });
    }
    results.push({ issueId: blocker.id, outcome });
  }
  return results;
}

async function reassignOrphanBlocker(deps: ActivityDeps, blocker: OrphanBlockerRow): Promise<ActionOutcome> {
  const { prisma } = deps;
  const creator = await prisma.agent.findUnique({ where: { id: blocker.created_by_agent_id } });
  if (!creator || creator.companyId !== blocker.company_id || !isInvokableAgentStatus(creator.status)) return SKIPPED_OUTCOME;
  const assigned = await prisma.$transaction(async (tx) => {
    // Guarded: someone may have assigned it meanwhile. Reassignment clears checkout and lock (R75).
    const updated = await tx.issue.updateManyAndReturn({
      where: { id: blocker.id, assigneeAgentId: null, assigneeUserId: null },
      data: { assigneeAgentId: creator.id, assigneeUserId: null, ...CLEARED_EXECUTION, updatedAt: new Date() },
      select: { identifier: true },
    });
    if (updated.length === 0) return false;
    await tx.issueComment.create({ data: { companyId: blocker.company_id, issueId: blocker.id, body: orphanBlockerComment(blocker.blocked_identifiers ?? []) } });
    await logActivity(tx, {
      companyId: blocker.company_id,
      action: 'issue.updated',
      entityType: 'issue',
      entityId: blocker.id,
      details: { identifier: updated[0].identifier, assigneeAgentId: creator.id, source: 'recovery.reconcile_unassigned_blocking_issue' },
    });
    return true;
  });
  if (!assigned) return SKIPPED_OUTCOME;
  // The assignment stands even when the wake is skipped.
  const woken = await enqueueWakeup(prisma, creator, {
    source: 'automation',
    triggerDetail: 'system',
    reason: 'issue_assigned',
    requestedByActorType: 'system',
    payload: { issueId: blocker.id, mutation: 'unassigned_blocker_recovery' },
    contextSnapshot: { issueId: blocker.id, taskId: blocker.id, wakeReason: 'issue_assigned', source: 'issue.unassigned_blocker_recovery' },
  });
  const run = runOf(woken);
  return run ? { counters: ['orphanBlockersAssigned'], acted: true, followUps: run.isNew ? [run.id] : [] } : SKIPPED_OUTCOME;
}
