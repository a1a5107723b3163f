/**
 * §11 of RECOVERY.md, the stranded-work sweep (`reconcileStrandedAssignedIssues`): agent-assigned
 * `todo`/`in_progress` issues with no live execution path get one automatic dispatch or
 * continuation, and are escalated (§12) once that was used; unassigned blockers go back to the
 * agent that created them (R55).
 *
 * One query classifies every candidate (live path, pause hold, latest run, queued wake) over
 * indexed columns, so a healthy instance costs one round trip however many issues it has; only
 * issues that need an action cost more. Actions are written in batches of up to `BATCH_SIZE`
 * issues of one company, one transaction per batch with one set-based statement per kind of row
 * (`strandedSweep/redispatch.ts` for R53/R54, `escalation.ts` for R56/R62); a batch that fails is
 * retried issue by issue, so one bad issue costs only itself. The counters and `issueIds` keep
 * candidate order (R52). Every re-dispatch candidate's recovery decision (V8) is recorded with its
 * effect (`strandedSweep/sweepDecisions.ts`); escalations record theirs in `escalation.ts`.
 */
import type { ActivityDeps } from './deps.ts';
import { enqueueWakeup } from '../store/wakeups.ts';
import { logActivity } from '../store/activityLog.ts';
import { CLEARED_EXECUTION } from '../store/issues.ts';
import { LIVE_RUN_STATUS_LIST } from '../store/runStatusSql.ts';
import { Prisma } from '../store/db.ts';
import { nearestPauseHoldSql } from '../store/treeHolds.ts';
import { decideStrandedAction, type StrandedCandidateFacts, type StrandedDecision } from '../domain/strandedWork.ts';
import { isInvokableAgentStatus } from '../domain/runStatus.ts';
import { orphanBlockerComment } from '../domain/recoveryTexts.ts';
import { escalateStrandedIssues } from './escalation.ts';
import type { EscalationRequest } from './releaseAndPromote.ts';
import { BudgetVerdicts } from './strandedSweep/budgetVerdicts.ts';
import { redispatchBatch, runOf, type RedispatchItem, type RedispatchResult } from './strandedSweep/redispatch.ts';
import { budgetBlockedDecision, type SweepDecisionDraft } from './strandedSweep/sweepDecisions.ts';
import { recordRecoveryDecisions } from '../store/recoveryDecisions.ts';

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
type ActionOutcome = { counters: Counter[]; acted: boolean; followUps: string[] };

/** Issues per transaction: large enough that statements, not issues, set the cost; small enough to keep row locks brief. */
export const BATCH_SIZE = 250;

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
           -- R66, walked only in a company with an active pause hold.
           (EXISTS (SELECT 1 FROM hold_roots) AND EXISTS (${nearestPauseHoldSql(Prisma.sql`c.id`)})) AS held,
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
  // One R74 verdict per scope for the whole sweep, shared by the pre-checks and the owner choice (R59).
  const budget = new BudgetVerdicts(deps.prisma);
  // Re-dispatches and escalations act on different issues, so their batches overlap: one stream each.
  const [redispatched, escalated] = await Promise.all([redispatchAll(deps, budget, actionable), escalateAll(deps, budget, actionable)]);
  const outcomes = new Map<string, ActionOutcome>([...redispatched, ...escalated]);
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

type Decided = { row: CandidateRow; decision: StrandedDecision };

/** Batches of at most `BATCH_SIZE` items of one company each, in first-seen order. */
function batchesByCompany<T>(items: readonly T[], companyOf: (item: T) => string): T[][] {
  const byCompany = new Map<string, T[]>();
  for (const item of items) {
    const group = byCompany.get(companyOf(item));
    if (group) group.push(item);
    else byCompany.set(companyOf(item), [item]);
  }
  return [...byCompany.values()].flatMap((group) => Array.from({ length: Math.ceil(group.length / BATCH_SIZE) }, (_, i) => group.slice(i * BATCH_SIZE, (i + 1) * BATCH_SIZE)));
}

function warnSkipped(deps: ActivityDeps, issueId: string, error: unknown) {
  deps.logger.warn('stranded-work sweep skipped an issue after an error', { issueId, error: error instanceof Error ? error.message : String(error) });
}

/**
 * R49–R51's actions written a batch at a time; a batch that throws (nothing of it written) is
 * retried one issue at a time, and an issue that throws alone counts as skipped (R55 note).
 */
async function inBatches<T, R>(deps: ActivityDeps, items: readonly T[], companyOf: (item: T) => string, issueOf: (item: T) => string, write: (batch: T[]) => Promise<R[]>): Promise<Array<{ item: T; result: R | undefined }>> {
  const written: Array<{ item: T; result: R | undefined }> = [];
  for (const batch of batchesByCompany(items, companyOf)) {
    try {
      const results = await write(batch);
      batch.forEach((item, i) => written.push({ item, result: results[i] }));
    } catch (batchError) {
      deps.logger.warn('stranded-work sweep batch failed; retrying its issues one at a time', { issues: batch.length, error: batchError instanceof Error ? batchError.message : String(batchError) });
      for (const item of batch) {
        try {
          written.push({ item, result: (await write([item]))[0] });
        } catch (error) {
          warnSkipped(deps, issueOf(item), error);
          written.push({ item, result: undefined });
        }
      }
    }
  }
  return written;
}

/** R50a/R50e/R51e: the dispatches and re-queues among `decided`, after the R74 pre-check per scope. */
async function redispatchAll(deps: ActivityDeps, budget: BudgetVerdicts, decided: readonly Decided[]): Promise<Map<string, ActionOutcome>> {
  const outcomes = new Map<string, ActionOutcome>();
  const agentIds = [...new Set(decided.map((d) => d.row.assignee_agent_id))];
  const agents = new Map((agentIds.length > 0 ? await deps.prisma.agent.findMany({ where: { id: { in: agentIds } } }) : []).map((agent) => [agent.id, agent]));
  const items: Array<{ row: CandidateRow; item: RedispatchItem }> = [];
  const budgetBlocked: SweepDecisionDraft[] = [];
  for (const { row, decision } of decided) {
    if (decision.kind !== 'dispatch' && decision.kind !== 'requeue') continue;
    const agent = agents.get(row.assignee_agent_id);
    const candidate = { issue: { id: row.id, companyId: row.company_id, status: row.status, assigneeAgentId: row.assignee_agent_id }, decision, latestRetryReason: row.latest_retry_reason };
    try {
      // R50a/R50d/R51d: a budget block skips the issue without writing a skipped wake (V8: its
      // decision is recorded, once for as long as the issue stays in this state).
      if (!agent || (await budget.blocked({ companyId: row.company_id, agentId: row.assignee_agent_id, issueId: row.id, projectId: row.project_id }))) {
        if (agent) budgetBlocked.push(budgetBlockedDecision(candidate));
        outcomes.set(row.id, SKIPPED_OUTCOME);
        continue;
      }
    } catch (error) {
      warnSkipped(deps, row.id, error);
      outcomes.set(row.id, SKIPPED_OUTCOME);
      continue;
    }
    items.push({ row, item: { ...candidate, agent } });
  }
  await recordBudgetBlocked(deps, budgetBlocked);
  const written = await inBatches<{ row: CandidateRow; item: RedispatchItem }, RedispatchResult>(
    deps, items, (x) => x.row.company_id, (x) => x.row.id, (batch) => redispatchBatch(deps, batch.map((x) => x.item)),
  );
  for (const { item: { row, item }, result } of written) {
    if (!result) {
      outcomes.set(row.id, SKIPPED_OUTCOME);
      continue;
    }
    const counter: Counter =
      item.decision.kind === 'dispatch' ? 'assignmentDispatched' : item.decision.recovery.retryReason === 'assignment_recovery' ? 'dispatchRequeued' : 'continuationRequeued';
    outcomes.set(row.id, { counters: [counter], acted: true, followUps: result.isNew ? [result.id] : [] });
  }
  return outcomes;
}

/** V8: the budget-blocked candidates' `none` decisions, in one statement (deduped per issue state). */
async function recordBudgetBlocked(deps: ActivityDeps, drafts: readonly SweepDecisionDraft[]): Promise<void> {
  try {
    await recordRecoveryDecisions(deps.prisma, drafts);
  } catch (error) {
    deps.logger.warn('stranded-work sweep could not record recovery decisions', { issues: drafts.length, error: error instanceof Error ? error.message : String(error) });
  }
}

/** R50c/R51c/R49.5: the escalations (R56) and in-place blocks (R62) among `decided`. */
async function escalateAll(deps: ActivityDeps, budget: BudgetVerdicts, decided: readonly Decided[]): Promise<Map<string, ActionOutcome>> {
  const requests = decided.flatMap(({ row, decision }): Array<{ row: CandidateRow; request: EscalationRequest }> =>
    decision.kind === 'escalate' || decision.kind === 'escalate_in_place'
      ? [{ row, request: { issueId: row.id, previousStatus: row.status, latestRunId: decision.latestRunId, path: 'sweep' } }]
      : [],
  );
  const written = await inBatches(deps, requests, (x) => x.row.company_id, (x) => x.row.id, (batch) => escalateStrandedIssues(deps, batch.map((x) => x.request), budget));
  return new Map(
    written.map(({ item: { row }, result: escalated }): [string, ActionOutcome] => [
      row.id,
      // A racing sweep may have blocked the issue after this one created (and dispatched) its
      // recovery issue: skipped, but that dispatch run must still be started (R57.6, R65).
      !escalated
        ? SKIPPED_OUTCOME
        : escalated.outcome === 'escalated'
          ? { counters: ['escalated'], acted: true, followUps: escalated.followUpRunIds }
          : { ...SKIPPED_OUTCOME, followUps: escalated.followUpRunIds },
    ]),
  );
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
