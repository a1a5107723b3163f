/**
 * R4 (claim gates), R69 (per-agent slots), R9 (auto-checkout) and R27 (lease acquire): turning a
 * `queued` run into a `running` one.
 *
 * The gates only read. The transition itself is one short transaction holding the agent row lock
 * — R69's per-agent mutex — just for the slot check and the guarded `queued → running` write, so
 * one agent's concurrent claims wait on each other for a few queries, not for the whole claim.
 */
import type { Prisma } from '../store/db.ts';
import type { ActivityDeps } from './deps.ts';
import { heartbeatPolicyOf, agentNameKey, isCommentInteractionWake } from '../domain/heartbeatPolicy.ts';
import { isInvokableAgentStatus, isLiveRunStatus, NON_INVOKABLE_AGENT_STATUSES } from '../domain/runStatus.ts';
import { buildStopMetadata, type StopReason } from '../domain/stopMetadata.ts';
import { runTexts } from '../domain/texts.ts';
import { getInvocationBlock } from '../store/budget.ts';
import { activePauseHoldFor } from '../store/treeHolds.ts';
import { unresolvedBlockerIds } from '../store/issueRelations.ts';
import { appendRunEvent } from '../store/runEvents.ts';
import { logActivity } from '../store/activityLog.ts';
import { asObject, boundIssueId, stringOrNull, toJson } from '../store/json.ts';
import { acquireRunLease } from './leases.ts';
import { activeQuotaWall, type ProviderQuotaWall } from '../domain/providerQuota.ts';
import { PROVIDER_QUOTA_RETRY } from '../domain/recoveryKinds.ts';
import { recoveryEventTexts } from '../domain/recoveryTexts.ts';
import { parseProcessAdapterConfig } from '../adapters/process.ts';
import { effectiveGraceSec, effectiveTimeoutSec } from '../domain/runTimeouts.ts';
import { lockAgent } from '../store/locks.ts';
import { releaseExecutionLock } from '../store/systemRuns.ts';
import { claimableQueuedRunIds } from '../store/agentSlots.ts';
import { runLogFields } from '../runLogContext.ts';

type Tx = Prisma.TransactionClient;

export type ClaimResult =
  | { kind: 'claimed'; adapterType: string; timeoutSec: number; graceSec: number }
  /** All of the agent's slots are taken, or older/higher-ranked queued runs go first. */
  | { kind: 'wait_for_slot' }
  /** The agent is paused or otherwise not invokable: the run stays queued until it can run (R69, R23). */
  | { kind: 'wait_for_agent' }
  /** A bounded transient retry (R38), due at this ISO time. */
  | { kind: 'scheduled'; dueAt: string }
  /** A gate refused the run; the workflow finalizes it as cancelled with this reason (R14 path). */
  | { kind: 'cancel'; reason: string }
  /** The run is no longer queued (cancelled meanwhile, or a light gate cancelled it). */
  | { kind: 'ended'; status: string };

type GateDecision =
  | { kind: 'pass'; issue: IssueRow | null; dependenciesReady: boolean }
  | { kind: 'cancel'; reason: string }
  | { kind: 'light_cancel'; code: StopReason; timeoutSource: 'dependency_gate' | 'stale_queued_run_gate'; message: string };

type IssueRow = NonNullable<Awaited<ReturnType<Tx['issue']['findUnique']>>>;

export async function claimRun(deps: ActivityDeps, runId: string): Promise<ClaimResult> {
  const { prisma } = deps;
  const run = await prisma.heartbeatRun.findUnique({ where: { id: runId } });
  if (!run) return { kind: 'ended', status: 'missing' };
  const agent = await prisma.agent.findUnique({ where: { id: run.agentId }, include: { runtimeState: { select: { stateJson: true } } } });
  const processConfig = parseProcessAdapterConfig(agent?.adapterConfig);
  const claimed: ClaimResult = {
    kind: 'claimed',
    adapterType: agent?.adapterType ?? 'process',
    timeoutSec: effectiveTimeoutSec(processConfig),
    graceSec: effectiveGraceSec(processConfig),
  };
  // A retried claim (its first answer was lost) finds the run already running: only this run's
  // workflow claims it, so that is this claim. The lease step is idempotent.
  if (run.status === 'running') {
    await ensureLeaseAndStartEvent(deps, run);
    return claimed;
  }
  if (run.status === 'scheduled_retry') return { kind: 'scheduled', dueAt: (run.scheduledRetryAt ?? new Date(0)).toISOString() };
  if (run.status !== 'queued') return { kind: 'ended', status: run.status };
  if (!agent) return { kind: 'cancel', reason: runTexts.agentGone };
  // R69: the starter leaves a non-invokable agent's queued runs alone; they run once it resumes.
  if (!isInvokableAgentStatus(agent.status)) return { kind: 'wait_for_agent' };
  // The agent's provider refuses work until its usage limit resets: wait for it, not into it.
  const wall = activeQuotaWall(agent.runtimeState?.stateJson, new Date());
  if (wall) return parkUntilQuotaReset(deps, run, wall);

  const gate = await applyGates(deps, run, agent);
  if (gate.kind === 'cancel') return gate;
  if (gate.kind === 'light_cancel') return lightCancel(deps, run, agent, gate);

  const context = asObject(run.contextSnapshot);
  const outcome = await prisma.$transaction(async (tx) => {
    await lockAgent(tx, agent.id);
    const claimable = await claimableQueuedRunIds(tx, agent.id, heartbeatPolicyOf(agent.runtimeConfig).maxConcurrentRuns);
    if (!claimable.includes(runId)) return 'wait' as const;
    // The agent may have been paused since the gates looked: re-checked under the lock.
    const busy = await tx.agent.updateMany({ where: { id: agent.id, status: { notIn: [...NON_INVOKABLE_AGENT_STATUSES] } }, data: { status: 'running' } });
    if (busy.count === 0) return 'not_invokable' as const;
    const now = new Date();
    const moved = await tx.heartbeatRun.updateMany({ where: { id: runId, status: 'queued' }, data: { status: 'running', startedAt: run.startedAt ?? now } });
    if (moved.count === 0) return 'gone' as const;
    if (run.wakeupRequestId) {
      await tx.agentWakeupRequest.update({ where: { id: run.wakeupRequestId }, data: { status: 'claimed', claimedAt: now } });
    }
    if (gate.issue) await lockAndCheckOut(tx, runId, agent, gate.issue, gate.dependenciesReady, stringOrNull(context.wakeReason), now);
    return 'claimed' as const;
  });
  if (outcome === 'wait') return { kind: 'wait_for_slot' };
  if (outcome === 'not_invokable') return { kind: 'wait_for_agent' };
  if (outcome === 'gone') {
    const current = await prisma.heartbeatRun.findUnique({ where: { id: runId }, select: { status: true } });
    return { kind: 'ended', status: current?.status ?? 'missing' };
  }
  await ensureLeaseAndStartEvent(deps, run);
  deps.logger.debug('run claimed', runLogFields(run));
  return claimed;
}

/** A queued run of an agent behind a quota wall becomes a `scheduled_retry` due at the reset. */
async function parkUntilQuotaReset(
  deps: ActivityDeps,
  run: { id: string; companyId: string; agentId: string },
  wall: ProviderQuotaWall,
): Promise<ClaimResult> {
  const until = new Date(wall.until);
  const parked = await deps.prisma.heartbeatRun.updateMany({
    where: { id: run.id, status: 'queued' },
    data: { status: 'scheduled_retry', scheduledRetryAt: until, scheduledRetryReason: PROVIDER_QUOTA_RETRY.retryReason },
  });
  if (parked.count === 0) {
    const current = await deps.prisma.heartbeatRun.findUnique({ where: { id: run.id }, select: { status: true } });
    return { kind: 'ended', status: current?.status ?? 'missing' };
  }
  await appendRunEvent(deps.prisma, {
    companyId: run.companyId,
    runId: run.id,
    agentId: run.agentId,
    eventType: 'lifecycle',
    level: 'warn',
    message: recoveryEventTexts.queuedRunParkedForQuota(wall.until),
    payload: { providerQuotaUntil: wall.until, quotaRunId: wall.runId },
  });
  return { kind: 'scheduled', dueAt: until.toISOString() };
}

/** R4 steps 3–4, read-only, in the rule's order (a non-invokable agent waits before this, R69). */
async function applyGates(
  deps: ActivityDeps,
  run: { id: string; companyId: string; contextSnapshot: unknown },
  agent: { id: string; status: string },
): Promise<GateDecision> {
  const { prisma } = deps;
  const context = asObject(run.contextSnapshot);
  const issueId = boundIssueId(context);
  const block = await getInvocationBlock(prisma, { companyId: run.companyId, agentId: agent.id, issueId, projectId: stringOrNull(context.projectId) });
  if (block) return { kind: 'cancel', reason: block.reason };
  if (!issueId) return { kind: 'pass', issue: null, dependenciesReady: true };

  const hold = await activePauseHoldFor(prisma, issueId);
  if (hold && context.treeHoldInteraction !== true) {
    await logActivity(prisma, {
      companyId: run.companyId,
      action: 'issue.tree_hold_run_interrupted',
      entityType: 'issue',
      entityId: issueId,
      agentId: agent.id,
      details: { holdId: hold.holdId, rootIssueId: hold.rootIssueId, runId: run.id },
    });
    return { kind: 'cancel', reason: runTexts.pauseHoldActive };
  }
  const interaction = isCommentInteractionWake(stringOrNull(context.wakeReason));
  const unresolved = await unresolvedBlockerIds(prisma, issueId);
  if (!interaction && unresolved.length > 0) {
    return { kind: 'light_cancel', code: 'issue_dependencies_blocked', timeoutSource: 'dependency_gate', message: runTexts.dependenciesBlocked };
  }
  const issue = await prisma.issue.findUnique({ where: { id: issueId } });
  const hasWakeComment = stringOrNull(context.wakeCommentId) !== null || stringOrNull(context.commentId) !== null;
  let stale: StopReason | null = null;
  if (!issue || issue.companyId !== run.companyId) stale = 'issue_not_found';
  else if (issue.assigneeAgentId !== agent.id && !interaction) stale = 'issue_assignee_changed';
  else if ((issue.status === 'done' || issue.status === 'cancelled') && !context.resumeIntent && !hasWakeComment) stale = 'issue_terminal_status';
  if (stale) return { kind: 'light_cancel', code: stale, timeoutSource: 'stale_queued_run_gate', message: runTexts.staleIssue(stale) };
  return { kind: 'pass', issue, dependenciesReady: unresolved.length === 0 };
}

/** R4 4b/4c: the "light" cancel — run cancelled, wake skipped, lock cleared, no release/promote. */
async function lightCancel(
  deps: ActivityDeps,
  run: { id: string; companyId: string; agentId: string; wakeupRequestId: string | null; resultJson: unknown; contextSnapshot: unknown },
  agent: { adapterType: string; adapterConfig: unknown },
  gate: Extract<GateDecision, { kind: 'light_cancel' }>,
): Promise<ClaimResult> {
  const stop = buildStopMetadata({ adapterType: agent.adapterType, adapterConfig: asObject(agent.adapterConfig), stopReason: gate.code, timeoutSource: gate.timeoutSource });
  const issueId = boundIssueId(run.contextSnapshot);
  const ended = await deps.prisma.$transaction(async (tx) => {
    const cancelled = await tx.heartbeatRun.updateMany({
      where: { id: run.id, status: 'queued' },
      data: { status: 'cancelled', finishedAt: new Date(), error: gate.message, errorCode: gate.code, resultJson: toJson({ ...asObject(run.resultJson), ...stop }) },
    });
    if (cancelled.count === 0) {
      const current = await tx.heartbeatRun.findUnique({ where: { id: run.id }, select: { status: true } });
      return { kind: 'ended', status: current?.status ?? 'missing' } as const;
    }
    if (run.wakeupRequestId) {
      await tx.agentWakeupRequest.update({ where: { id: run.wakeupRequestId }, data: { status: 'skipped', error: gate.message, finishedAt: new Date() } });
    }
    if (issueId) {
      await releaseExecutionLock(tx, issueId, run.id);
    }
    await appendRunEvent(tx, { companyId: run.companyId, runId: run.id, agentId: run.agentId, eventType: 'lifecycle', level: 'warn', message: gate.message, payload: { errorCode: gate.code } });
    return { kind: 'ended', status: 'cancelled', written: true } as const;
  });
  if (!('written' in ended)) return ended;
  // Counted after the commit, like every terminal write (finalizeRun.ts).
  deps.metrics.runFinished('cancelled', gate.code);
  deps.logger.info('run cancelled by a claim gate', { ...runLogFields(run), status: 'cancelled', errorCode: gate.code });
  return { kind: 'ended', status: 'cancelled' };
}

/**
 * R4 step 5's lazy lock (only for the assignee, only if free or ours) and R9's auto-checkout,
 * as one guarded update of the issue.
 */
async function lockAndCheckOut(
  tx: Tx,
  runId: string,
  agent: { id: string; name: string },
  issue: IssueRow,
  dependenciesReady: boolean,
  wakeReason: string | null,
  now: Date,
) {
  if (issue.assigneeAgentId !== agent.id) return;
  const lock = { executionRunId: runId, executionAgentNameKey: agentNameKey(agent.name), executionLockedAt: now };
  const checkOut =
    dependenciesReady &&
    wakeReason !== null &&
    wakeReason !== 'issue_comment_mentioned' &&
    !wakeReason.startsWith('execution_') &&
    ['todo', 'backlog', 'blocked', 'in_progress'].includes(issue.status) &&
    (issue.checkoutRunId === null || issue.checkoutRunId === runId || !(await isLiveRun(tx, issue.checkoutRunId)));
  await tx.issue.updateMany({
    where: { id: issue.id, assigneeAgentId: agent.id, OR: [{ executionRunId: null }, { executionRunId: runId }] },
    data: checkOut ? { ...lock, status: 'in_progress', checkoutRunId: runId, startedAt: issue.startedAt ?? now } : lock,
  });
}

/** A stale checkout (terminal or missing run) is adopted; a live one is a tolerated conflict (R9). */
async function isLiveRun(tx: Tx, runId: string): Promise<boolean> {
  const holder = await tx.heartbeatRun.findUnique({ where: { id: runId }, select: { status: true } });
  return holder !== null && isLiveRunStatus(holder.status);
}

/** R27: one lease per run (acquired once, however often the claim is retried), and the start event. */
function ensureLeaseAndStartEvent(deps: ActivityDeps, run: { id: string; companyId: string; agentId: string; contextSnapshot: unknown }) {
  return acquireRunLease(deps.prisma, { id: run.id, companyId: run.companyId, agentId: run.agentId, issueId: boundIssueId(run.contextSnapshot) });
}
