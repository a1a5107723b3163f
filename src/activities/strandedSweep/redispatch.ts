/**
 * R53/R54 for a batch of the stranded sweep's candidates: the wake each gets, written for the
 * whole batch in one transaction. R71 decides each wake, as it does one at a time in
 * `store/wakeups.ts`: the agent gates first (R71.3–R71.5), then, under the issues' row locks
 * (taken in id order), the issue-bound admission (R71.6). A candidate whose admission is "create a
 * run" — every stranded one, since it has no live path — gets its `queued` wake and run from one
 * set-based statement; any other admission (a run appeared meanwhile, blockers, a pause hold, a
 * missing issue), and a candidate the loop breaker would skip (V1, asked for the whole batch at
 * once), goes through `enqueueWakeup` itself after the batch commits, so R71 and V1–V2 are written
 * in one place. Each candidate's recovery decision (V8, `sweepDecisions.ts`) is recorded with its
 * effect: in the batch's transaction, or after its own enqueue.
 */
import { BATCH_TRANSACTION_OPTIONS, type Agent } from '../../store/db.ts';
import type { ActivityDeps } from '../deps.ts';
import { enqueueWakeup, enrichWakeContext, type EnqueueResult, type WakeRequest } from '../../store/wakeups.ts';
import { lockIssuesWithWakeFacts } from '../../store/issueLockBatch.ts';
import { insertQueuedRuns, insertSkippedWakes, type QueuedRunBatchInput, type SkippedWakeInput } from '../../store/wakeBatch.ts';
import { heartbeatPolicyOf } from '../../domain/heartbeatPolicy.ts';
import { admitByAgentGates, admitIssueWake } from '../../domain/wakeAdmission.ts';
import type { StrandedDecision } from '../../domain/strandedWork.ts';
import { mapBounded } from '../../platform/concurrency.ts';
import { loopBreakerKey, loopBreakerPlansOf } from '../../store/loopBreaker.ts';
import { isBoardWake } from '../../domain/loopBreaker.ts';
import { recordRecoveryDecisions } from '../../store/recoveryDecisions.ts';
import { enqueuedDecision, notInvokableDecision, redispatchDecision, skippedWakeDecision, type SweepCandidate, type SweepDecisionDraft } from './sweepDecisions.ts';

/** A candidate the sweep decided to dispatch (R50a/R54) or re-queue (R50e/R51e/R53), budget pre-checked. */
export interface RedispatchItem extends SweepCandidate {
  agent: Agent;
  decision: Extract<StrandedDecision, { kind: 'dispatch' } | { kind: 'requeue' }>;
}

/** The run a candidate's wake produced (`isNew`) or joined; null: no run (skipped, deferred). */
export type RedispatchResult = { id: string; isNew: boolean } | null;

/** Candidates whose admission is not "create a run" are rare (races); enqueued a few at a time. */
const FALLBACK_CONCURRENCY = 4;

/** R54: the first dispatch of an assigned todo issue that never ran. */
function initialDispatch(issueId: string): WakeRequest {
  return {
    source: 'assignment',
    triggerDetail: 'system',
    reason: 'issue_assigned',
    requestedByActorType: 'system',
    payload: { issueId, mutation: 'assigned_todo_liveness_dispatch' },
    contextSnapshot: { issueId, taskId: issueId, wakeReason: 'issue_assigned', source: 'issue.assigned_todo_liveness_dispatch' },
  };
}

/** R53: the one automatic re-dispatch (todo) or continuation (in_progress). */
function recoveryRequeue(issueId: string, decision: Extract<StrandedDecision, { kind: 'requeue' }>): WakeRequest {
  const { recovery, retryOfRunId } = decision;
  return {
    source: 'automation',
    triggerDetail: 'system',
    reason: recovery.wakeReason,
    requestedByActorType: 'system',
    requestedByActorId: null,
    payload: { issueId, ...(retryOfRunId ? { retryOfRunId } : {}) },
    contextSnapshot: {
      issueId,
      taskId: issueId,
      wakeReason: recovery.wakeReason,
      retryReason: recovery.retryReason,
      source: recovery.source,
      ...(retryOfRunId ? { retryOfRunId } : {}),
    },
    retryOfRunId,
  };
}

export function wakeRequestFor(item: RedispatchItem): WakeRequest {
  return item.decision.kind === 'dispatch' ? initialDispatch(item.issue.id) : recoveryRequeue(item.issue.id, item.decision);
}

/** The run an enqueue produced, if it produced or joined one (R71). */
export function runOf(result: EnqueueResult): RedispatchResult {
  if (result.kind === 'queued') return { id: result.run.id, isNew: true };
  if (result.kind === 'coalesced') return { id: result.run.id, isNew: false };
  return null;
}

/** The batch's wakes; results in input order. Throws when the batch could not be written (none of it then is). */
export async function redispatchBatch(deps: ActivityDeps, items: readonly RedispatchItem[]): Promise<RedispatchResult[]> {
  const { prisma } = deps;
  const now = new Date();
  const results: RedispatchResult[] = items.map(() => null);
  const requests = items.map(wakeRequestFor);
  const columns = (i: number) => {
    const request = requests[i];
    return {
      companyId: items[i].agent.companyId, agentId: items[i].agent.id, source: request.source, triggerDetail: request.triggerDetail ?? null,
      reason: request.reason ?? null, payload: request.payload ?? {}, requestedByActorType: request.requestedByActorType ?? null,
      requestedByActorId: request.requestedByActorId ?? null,
    };
  };

  // R71.3–R71.5, the agent's own gates (R74 was pre-checked by the sweep, R50a/R50d/R51d): a
  // policy that refuses on-demand wakes writes a `skipped` wake; an agent no longer invokable gets
  // none (R71.4's refusal, which the sweep counts as skipped).
  const skipped: SkippedWakeInput[] = [];
  const admitted: number[] = [];
  // V8: the batch's decisions, written with its runs (a `none` once per issue state, deduped).
  const decisions: SweepDecisionDraft[] = [];
  items.forEach((item, i) => {
    const gate = admitByAgentGates({ source: requests[i].source, agentStatus: item.agent.status, policy: heartbeatPolicyOf(item.agent.runtimeConfig), budgetBlock: null });
    if (gate.kind === 'skip') {
      skipped.push({ ...columns(i), skipReason: gate.reason, message: gate.message });
      decisions.push(skippedWakeDecision(item, gate.reason));
    } else if (gate.kind === 'admit') admitted.push(i);
    else decisions.push(notInvokableDecision(item));
  });

  const fallback: number[] = [];
  await prisma.$transaction(async (tx) => {
    await insertSkippedWakes(tx, skipped, now);
    const facts = await lockIssuesWithWakeFacts(tx, admitted.map((i) => items[i].issue.id));
    // V1/V4 under the same locks, for every pair at once: a candidate whose breaker plan writes
    // something takes the one-at-a-time path — a looping agent's gets its `loop_detected` skip and
    // the breaker's one comment there; a loop that ended gets its trip cleared there.
    const breaker = await loopBreakerPlansOf(
      tx,
      admitted.filter((i) => facts.has(items[i].issue.id) && !isBoardWake(requests[i])).map((i) => ({ companyId: items[i].agent.companyId, issueId: items[i].issue.id, agentId: items[i].agent.id })),
      now,
    );
    const create: number[] = [];
    for (const i of admitted) {
      const { issue, agent, decision } = items[i];
      const locked = facts.get(issue.id);
      // The decision is stale when the issue left the status or assignee it was decided on (R48):
      // no wake; the next sweep decides on fresh facts.
      if (locked && (locked.status !== issue.status || locked.assignee_agent_id !== issue.assigneeAgentId || locked.assignee_user_id !== null)) continue;
      // R50a: a first dispatch is deduplicated against a queued wake that appeared meanwhile.
      if (locked && decision.kind === 'dispatch' && locked.has_queued_wake) continue;
      // R67 (a hold written meanwhile) and a missing issue: `enqueueWakeup` writes their skipped wakes.
      if (!locked || locked.company_id !== agent.companyId || locked.held) {
        fallback.push(i);
        continue;
      }
      const breakerPlan = breaker.get(loopBreakerKey({ issueId: issue.id, agentId: agent.id }));
      if (breakerPlan && breakerPlan.kind !== 'admit') {
        fallback.push(i);
        continue;
      }
      // R71.6 on the facts read under the lock.
      const plan = admitIssueWake({
        issueFound: true,
        executionRunId: locked.execution_run_id,
        activeRun: locked.active_run_id ? { id: locked.active_run_id, status: locked.active_run_status!, agentName: locked.active_run_agent_name } : null,
        requestingAgentName: agent.name,
        wakeReason: requests[i].reason,
        unresolvedBlockerIds: locked.unresolved_blocker_ids ?? [],
      });
      if (plan.kind === 'create_run') create.push(i);
      else fallback.push(i);
    }
    const runIds = await insertQueuedRuns(
      tx,
      create.map((i): QueuedRunBatchInput => ({ ...columns(i), contextSnapshot: enrichWakeContext(requests[i]), retryOfRunId: requests[i].retryOfRunId ?? null })),
      now,
    );
    create.forEach((i, k) => {
      results[i] = { id: runIds[k], isNew: true };
      decisions.push(redispatchDecision(items[i], runIds[k]));
    });
    await recordRecoveryDecisions(tx, decisions, now);
  }, BATCH_TRANSACTION_OPTIONS);

  // R71 one at a time for the rest: coalesce into or park behind the run that appeared, or skip.
  // The batch has committed: an error here is this candidate's alone, which counts as skipped (R55 note).
  const enqueued = await mapBounded(fallback, FALLBACK_CONCURRENCY, async (i) => {
    try {
      return await enqueueWakeup(prisma, items[i].agent, requests[i], { budgetChecked: true });
    } catch (error) {
      deps.logger.warn('stranded-work sweep skipped an issue after an error', { issueId: items[i].issue.id, error: error instanceof Error ? error.message : String(error) });
      return null;
    }
  });
  fallback.forEach((i, k) => (results[i] = enqueued[k] ? runOf(enqueued[k]) : null));
  await recordFallbackDecisions(deps, fallback.flatMap((i, k) => (enqueued[k] ? [{ item: items[i], result: enqueued[k] }] : [])));
  return results;
}

/** V8 for the one-at-a-time candidates, after their enqueues, in one statement. */
async function recordFallbackDecisions(deps: ActivityDeps, enqueued: ReadonlyArray<{ item: RedispatchItem; result: EnqueueResult }>): Promise<void> {
  try {
    await recordRecoveryDecisions(deps.prisma, enqueued.map(({ item, result }) => enqueuedDecision(item, result)));
  } catch (error) {
    // The wakes have committed: a decision that could not be written must not fail the batch (which would be retried).
    deps.logger.warn('stranded-work sweep could not record recovery decisions', { issues: enqueued.length, error: error instanceof Error ? error.message : String(error) });
  }
}
