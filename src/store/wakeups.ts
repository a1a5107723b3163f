/**
 * R71: enqueue a wakeup request. Every way work reaches an agent (API wakeup, issue assignment,
 * recovery paths) comes through `enqueueWakeup`. An issue-bound automatic wake first asks the loop
 * breaker (issue 14, `domain/loopBreaker.ts`). Whether the wake becomes a new queued run,
 * coalesces into a live run, parks behind another agent's run or is skipped is decided in
 * `domain/wakeAdmission.ts`; this module reads the facts and writes the outcome — atomically
 * under the issue row lock.
 */
import { randomUUID } from 'node:crypto';
import type { Prisma, PrismaClient } from './db.ts';
import { ConflictError, NotFoundError } from '../errors.ts';
import { agentTexts, wakeTexts } from '../domain/texts.ts';
import { agentNameKey, heartbeatPolicyOf } from '../domain/heartbeatPolicy.ts';
import { LIVE_RUN_STATUSES } from '../domain/runStatus.ts';
import type { ActivePauseHold } from './treeHolds.ts';
import { logActivity } from './activityLog.ts';
import { asObject, stringOrNull, toJson, type JsonObject } from './json.ts';
import { lockAgent, lockIssue } from './locks.ts';
import { insertQueuedRun, readIssueExecutionFacts, readWakeGateFacts } from './wakeStatements.ts';
import { clearTrip, readLoopBreakerFacts, tripOrCountSkip } from './loopBreaker.ts';
import { decideLoopBreaker, isBoardWake, LOOP_DETECTED_REASON } from '../domain/loopBreaker.ts';
import {
  admitByAgentGates,
  admitIssueWake,
  admitUnboundWake,
  admitUnderPauseHold,
  blockerGateApplies,
  interactionCommentId,
  type WakeSource,
} from '../domain/wakeAdmission.ts';

type Tx = Prisma.TransactionClient;
type Run = Awaited<ReturnType<PrismaClient['heartbeatRun']['findUniqueOrThrow']>>;
export type AgentRow = Awaited<ReturnType<PrismaClient['agent']['findUniqueOrThrow']>>;

export type { WakeSource };

export interface WakeRequest {
  source: WakeSource;
  triggerDetail?: string | null;
  reason?: string | null;
  payload?: JsonObject | null;
  idempotencyKey?: string | null;
  requestedByActorType?: 'user' | 'agent' | 'system' | null;
  requestedByActorId?: string | null;
  contextSnapshot?: JsonObject;
  retryOfRunId?: string | null;
}

export type EnqueueResult =
  | { kind: 'queued'; run: Run; wakeId: string; issueIdentifier: string | null }
  | { kind: 'coalesced'; run: Run; wakeId: string }
  | {
      kind: 'deferred';
      wakeId: string;
      issueId: string;
      executionRunId: string;
      executionAgentId: string;
      executionAgentName: string | null;
    }
  | { kind: 'skipped'; wakeId: string; reason: string; message: string; issueId?: string | null };

/** R71 step 1: enrich the context without overwriting keys that are already set. */
export function enrichWakeContext(request: WakeRequest): JsonObject {
  const context: JsonObject = { ...(request.contextSnapshot ?? {}) };
  const payload = request.payload ?? {};
  const fill = (key: string, value: unknown) => {
    if (context[key] === undefined && value !== undefined && value !== null) context[key] = value;
  };
  fill('wakeReason', request.reason);
  fill('issueId', stringOrNull(payload.issueId));
  fill('taskId', stringOrNull(payload.taskId) ?? stringOrNull(payload.issueId));
  // R71: taskKey, then taskId, then issueId. The session a run resumes is the taskKey's (R72).
  fill('taskKey', stringOrNull(payload.taskKey) ?? stringOrNull(context.taskId) ?? stringOrNull(context.issueId));
  fill('commentId', stringOrNull(payload.commentId));
  fill('wakeCommentId', stringOrNull(payload.commentId));
  fill('wakeSource', request.source);
  fill('wakeTriggerDetail', request.triggerDetail);
  if (request.retryOfRunId) fill('retryOfRunId', request.retryOfRunId);
  return context;
}

interface WakeRowInput {
  companyId: string;
  agentId: string;
  request: WakeRequest;
  status: 'queued' | 'deferred_issue_execution' | 'coalesced' | 'skipped';
  reason?: string | null;
  error?: string | null;
  payload?: JsonObject;
  runId?: string | null;
}

function createWake(db: Tx | PrismaClient, row: WakeRowInput) {
  const finished = row.status === 'coalesced' || row.status === 'skipped';
  return db.agentWakeupRequest.create({
    data: {
      companyId: row.companyId,
      agentId: row.agentId,
      source: row.request.source,
      triggerDetail: row.request.triggerDetail ?? null,
      reason: row.reason ?? row.request.reason ?? null,
      payload: toJson(row.payload ?? row.request.payload ?? {}),
      status: row.status,
      coalescedCount: row.status === 'coalesced' ? 1 : 0,
      requestedByActorType: row.request.requestedByActorType ?? null,
      requestedByActorId: row.request.requestedByActorId ?? null,
      idempotencyKey: row.request.idempotencyKey ?? null,
      runId: row.runId ?? null,
      finishedAt: finished ? new Date() : null,
      error: row.error ?? null,
    },
  });
}

async function createQueuedRun(tx: Tx, companyId: string, agentId: string, request: WakeRequest, context: JsonObject, issueIdentifier: string | null) {
  // The run's id is chosen here so the wake can point at it from its first write.
  const { run, wakeId } = await insertQueuedRun(
    tx,
    randomUUID(),
    {
      companyId,
      agentId,
      source: request.source,
      triggerDetail: request.triggerDetail ?? null,
      reason: request.reason ?? null,
      payload: request.payload ?? {},
      requestedByActorType: request.requestedByActorType ?? null,
      requestedByActorId: request.requestedByActorId ?? null,
      idempotencyKey: request.idempotencyKey ?? null,
      contextSnapshot: context,
      retryOfRunId: request.retryOfRunId ?? null,
      continuationAttempt: Number(context.livenessContinuationAttempt ?? 0) || 0,
    },
    new Date(),
  );
  return { kind: 'queued' as const, run, wakeId, issueIdentifier };
}

/** Merges new context keys into a live run without overwriting its task binding. */
async function coalesceInto(tx: Tx, run: { id: string; contextSnapshot: unknown }, companyId: string, agentId: string, request: WakeRequest, context: JsonObject, reason: string | null) {
  const merged = { ...context, ...asObject(run.contextSnapshot) };
  const updated = await tx.heartbeatRun.update({ where: { id: run.id }, data: { contextSnapshot: toJson(merged) } });
  const wake = await createWake(tx, { companyId, agentId, request, status: 'coalesced', reason: reason ?? request.reason, runId: run.id });
  return { kind: 'coalesced' as const, run: updated, wakeId: wake.id };
}

async function enqueueIssueBound(
  prisma: PrismaClient,
  agent: { id: string; companyId: string; name: string },
  request: WakeRequest,
  context: JsonObject,
  issueId: string,
  hold: ActivePauseHold | null,
): Promise<EnqueueResult> {
  const companyId = agent.companyId;
  const skip = async (db: Tx | PrismaClient, reason: string, message: string, payload?: JsonObject) => {
    const wake = await createWake(db, { companyId, agentId: agent.id, request, status: 'skipped', reason, error: message, payload });
    return { kind: 'skipped' as const, wakeId: wake.id, reason, message, issueId };
  };
  // R67: the pause-hold gate (read with the agent gates' facts), before the issue transaction.
  if (hold) {
    const commentId = interactionCommentId(request.reason, context);
    const interactionCommentVerified = commentId !== null && (await prisma.issueComment.count({ where: { id: commentId, issueId } })) > 0;
    const holdPlan = admitUnderPauseHold({ heldByPause: true, interactionCommentVerified });
    if (holdPlan.kind === 'skip') {
      const skipped = await skip(prisma, holdPlan.reason, holdPlan.message);
      await logActivity(prisma, {
        companyId,
        action: 'issue.tree_hold_wakeup_deferred',
        entityType: 'issue',
        entityId: issueId,
        agentId: agent.id,
        details: { holdId: hold.holdId, rootIssueId: hold.rootIssueId, wakeupRequestId: skipped.wakeId, reason: request.reason ?? null },
      });
      return skipped;
    }
    context.treeHoldInteraction = true;
    context.activeTreeHold = { holdId: hold.holdId, rootIssueId: hold.rootIssueId, reason: hold.reason };
  }

  return prisma.$transaction(async (tx) => {
    // R71.6: the facts, read under the issue row lock, each only when the admission can use it.
    const locked = await lockIssue(tx, issueId);
    const issue = locked && locked.companyId === companyId ? locked : null;
    // Issue 14 V1–V5: the loop breaker, before R71.6 looks at the issue's runs, for every
    // automatic wake of this agent for this issue (a board user's wake passes, V5).
    if (issue && !isBoardWake(request)) {
      const now = new Date();
      const scope = { companyId, issueId, agentId: agent.id };
      const breakerFacts = await readLoopBreakerFacts(tx, scope, now);
      const breaker = decideLoopBreaker(breakerFacts);
      if (breaker.kind === 'skip' || breaker.kind === 'skip_and_trip') {
        const skipped = await skip(tx, LOOP_DETECTED_REASON, wakeTexts.loopDetected);
        // V2: the conditional trip posts the one comment; a breaker tripped meanwhile only counts the skip.
        await tripOrCountSkip(tx, { ...scope, agentName: agent.name, runsWithoutProgress: breaker.runsWithoutProgress, windowSec: breakerFacts.settings.windowSec, maxRuns: breakerFacts.settings.maxRuns, wakeId: skipped.wakeId, latestRunId: breakerFacts.latestRunId }, now);
        return skipped;
      }
      if (breaker.kind === 'admit_and_clear') await clearTrip(tx, scope, now);
    }
    const facts = issue ? await readIssueExecutionFacts(tx, issue) : null;
    const active = facts?.activeRun ?? null;
    const unresolved =
      facts && blockerGateApplies({ hasActiveRun: active !== null, wakeReason: request.reason }) ? facts.unresolvedBlockerIds : [];
    const plan = admitIssueWake({
      issueFound: issue !== null,
      executionRunId: issue?.executionRunId ?? null,
      activeRun: active ? { id: active.id, status: active.status, agentName: active.agentName } : null,
      requestingAgentName: agent.name,
      wakeReason: request.reason,
      unresolvedBlockerIds: unresolved,
    });
    if (plan.kind === 'skip') {
      const payload = plan.reason === 'issue_dependencies_blocked' ? { ...(request.payload ?? {}), unresolvedBlockerIssueIds: [...plan.unresolvedBlockerIds] } : undefined;
      return skip(tx, plan.reason, plan.message, payload);
    }
    if (plan.kind === 'create_run') return createQueuedRun(tx, companyId, agent.id, request, context, issue?.identifier ?? null);
    const live = active!; // coalesce and defer name the active run
    if (plan.stampLock) {
      await tx.issue.update({
        where: { id: issueId },
        data: { executionRunId: live.id, executionAgentNameKey: live.agentName !== null ? agentNameKey(live.agentName) : null, executionLockedAt: new Date() },
      });
    }
    if (plan.kind === 'coalesce') return coalesceInto(tx, live, companyId, agent.id, request, context, plan.reason);
    const wakeId = await parkWake(tx, { companyId, agentId: agent.id, issueId, request, context });
    return {
      kind: 'deferred' as const,
      wakeId,
      issueId,
      executionRunId: live.id,
      executionAgentId: live.agentId,
      executionAgentName: live.agentName,
    };
  });
}

/**
 * R71: parks a deferred wake until the issue's active run finishes (promotion, R29): merged into
 * the agent's parked wake for the issue (its stored context keys win), else a new one.
 */
async function parkWake(tx: Tx, input: { companyId: string; agentId: string; issueId: string; request: WakeRequest; context: JsonObject }): Promise<string> {
  const { companyId, agentId, issueId, request, context } = input;
  const parked = await tx.agentWakeupRequest.findFirst({
    where: { companyId, agentId, status: 'deferred_issue_execution', payload: { path: ['issueId'], equals: issueId } },
    orderBy: { requestedAt: 'asc' },
  });
  if (parked) {
    const payload = asObject(parked.payload);
    const storedContext = asObject(payload._paperclipWakeContext);
    await tx.agentWakeupRequest.update({
      where: { id: parked.id },
      data: {
        coalescedCount: { increment: 1 },
        payload: toJson({ ...payload, _paperclipWakeContext: { ...context, ...storedContext } }),
      },
    });
    return parked.id;
  }
  const wake = await createWake(tx, {
    companyId, agentId, request, status: 'deferred_issue_execution', reason: 'issue_execution_deferred',
    payload: { ...(request.payload ?? {}), issueId, _paperclipWakeContext: context },
  });
  return wake.id;
}

async function enqueueUnbound(prisma: PrismaClient, agent: { id: string; companyId: string }, request: WakeRequest, context: JsonObject, followUpNeeded: boolean) {
  return prisma.$transaction(async (tx) => {
    // Serialize enqueues per agent so two wakes never both create a run for one task scope.
    await lockAgent(tx, agent.id);
    const candidates = await tx.heartbeatRun.findMany({
      where: { agentId: agent.id, status: { in: [...LIVE_RUN_STATUSES] } },
      orderBy: { createdAt: 'asc' },
    });
    const plan = admitUnboundWake({
      taskKey: stringOrNull(context.taskKey),
      liveRuns: candidates.map((run) => ({ id: run.id, status: run.status, taskKey: stringOrNull(asObject(run.contextSnapshot).taskKey) })),
      followUpNeeded,
    });
    if (plan.kind === 'create_run') return createQueuedRun(tx, agent.companyId, agent.id, request, context, null);
    const target = candidates.find((run) => run.id === plan.into)!;
    return coalesceInto(tx, target, agent.companyId, agent.id, request, context, null);
  });
}

export interface EnqueueOptions {
  /**
   * The caller applied the R74 budget gate itself a moment ago (the stranded sweep's pre-check,
   * which must not write a skipped wake): skip the second look. The claim gate (R4) still checks.
   */
  budgetChecked?: boolean;
}

/** `agent` is its id, or its row when the caller has just read it (saves a query per wake). */
export async function enqueueWakeup(prisma: PrismaClient, agentOrId: string | AgentRow, request: WakeRequest, options: EnqueueOptions = {}): Promise<EnqueueResult> {
  const context = enrichWakeContext(request);
  const agent = typeof agentOrId === 'string' ? await prisma.agent.findUnique({ where: { id: agentOrId } }) : agentOrId;
  if (!agent) throw new NotFoundError('Agent');
  const agentId = agent.id;
  const companyId = agent.companyId;
  const issueId = stringOrNull(context.issueId);

  const { budgetBlock, pauseHold } = await readWakeGateFacts(prisma, { companyId, agentId, issueId, projectId: stringOrNull(context.projectId), withBudget: !options.budgetChecked });
  const gate = admitByAgentGates({ source: request.source, agentStatus: agent.status, policy: heartbeatPolicyOf(agent.runtimeConfig), budgetBlock });
  switch (gate.kind) {
    case 'refuse_budget_blocked':
      await createWake(prisma, { companyId, agentId, request, status: 'skipped', reason: gate.reason, error: gate.message });
      throw new ConflictError(gate.message, { scope: gate.scope }, 'budget_blocked');
    case 'refuse_not_invokable':
      throw new ConflictError(agentTexts.notInvokable, { agentStatus: gate.agentStatus }, 'agent_not_invokable');
    case 'skip': {
      const wake = await createWake(prisma, { companyId, agentId, request, status: 'skipped', reason: gate.reason, error: gate.message });
      return { kind: 'skipped', wakeId: wake.id, reason: gate.reason, message: gate.message, issueId };
    }
    case 'admit':
      break;
  }
  if (issueId) return enqueueIssueBound(prisma, agent, request, context, issueId, pauseHold);
  return enqueueUnbound(prisma, agent, request, context, false);
}

/** An earlier wake with the same idempotency key that still stands (not skipped/failed/cancelled). */
export async function findWakeByIdempotencyKey(prisma: PrismaClient, agentId: string, idempotencyKey: string) {
  return prisma.agentWakeupRequest.findFirst({
    where: {
      agentId,
      idempotencyKey,
      status: { in: ['queued', 'deferred_issue_execution', 'claimed', 'coalesced', 'completed'] },
    },
    orderBy: { requestedAt: 'desc' },
  });
}
