/**
 * R4 (claim gates), R69 (per-agent slots), R9 (auto-checkout) and R27 (lease acquire): turning a
 * `queued` run into a `running` one.
 *
 * The common case is four statements: BEGIN, one statement taking the agent row lock — R69's
 * per-agent mutex — and gathering every fact the gates look at (`readClaimFacts`), the pure
 * decision (`decideClaim`, src/domain/claimGates.ts), one statement doing the slot check and every
 * write of the transition including the lease (`claimQueuedRun`), COMMIT. One agent's concurrent
 * claims wait on each other for those two statements, not for the whole claim. Rare paths (a
 * quota wall, a light cancel, a retried claim of a running run, a lost environment race) take more,
 * after the transaction.
 */
import type { ActivityDeps } from './deps.ts';
import { heartbeatPolicyOf } from '../domain/heartbeatPolicy.ts';
import { buildStopMetadata } from '../domain/stopMetadata.ts';
import { decideClaim, type ClaimContext, type ClaimDecision } from '../domain/claimGates.ts';
import { appendRunEvent } from '../store/runEvents.ts';
import { logActivity } from '../store/activityLog.ts';
import { asObject, boundIssueId, stringOrNull, toJson } from '../store/json.ts';
import { acquireRunLease } from './leases.ts';
import type { ProviderQuotaWall } from '../domain/providerQuota.ts';
import { PROVIDER_QUOTA_RETRY } from '../domain/recoveryKinds.ts';
import { recoveryEventTexts } from '../domain/recoveryTexts.ts';
import { parseProcessAdapterConfig } from '../adapters/process.ts';
import { effectiveGraceSec, effectiveTimeoutSec } from '../domain/runTimeouts.ts';
import { releaseExecutionLock } from '../store/systemRuns.ts';
import { claimQueuedRun, readClaimFacts } from '../store/claimStatements.ts';
import { runLogFields } from '../runLogContext.ts';

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

/** The context fields R4's gates and R9 read. */
function claimContextOf(contextSnapshot: unknown): ClaimContext {
  const context = asObject(contextSnapshot);
  return {
    issueId: boundIssueId(context),
    wakeReason: stringOrNull(context.wakeReason),
    treeHoldInteraction: context.treeHoldInteraction === true,
    resumeIntent: Boolean(context.resumeIntent),
    hasWakeComment: stringOrNull(context.wakeCommentId) !== null || stringOrNull(context.commentId) !== null,
  };
}

export async function claimRun(deps: ActivityDeps, runId: string): Promise<ClaimResult> {
  const { prisma } = deps;
  const now = new Date();
  // R69's per-agent mutex and R4's every fact, in one statement; then the pure decision and, for a
  // claim, the transition — the rest of the decisions are carried out after this transaction
  // (which then wrote nothing).
  const read = await prisma.$transaction(async (tx) => {
    const facts = await readClaimFacts(tx, runId, now);
    if (!facts) return null;
    const context = claimContextOf(facts.run.contextSnapshot);
    const decision = decideClaim({ ...facts, context }, now);
    if (decision.kind !== 'claim') return { facts, context, decision, outcome: null };
    const outcome = await claimQueuedRun(tx, {
      run: { id: facts.run.id, companyId: facts.run.companyId, agentId: facts.run.agentId, issueId: context.issueId },
      maxConcurrentRuns: heartbeatPolicyOf(facts.agent!.runtimeConfig).maxConcurrentRuns,
      issueLock: decision.issueLock,
      // R4.5: startedAt is the moment the slot was granted — after the lock wait, so it never
      // precedes the finishedAt of the run whose finalize freed the slot (R69's limit holds in time too).
      now: new Date(),
    });
    return { facts, context, decision, outcome };
  });
  if (!read) return { kind: 'ended', status: 'missing' };
  const { facts, context, decision, outcome } = read;
  const { run, agent } = facts;
  const processConfig = parseProcessAdapterConfig(agent?.adapterConfig);
  const claimed: ClaimResult = {
    kind: 'claimed',
    adapterType: agent?.adapterType ?? 'process',
    timeoutSec: effectiveTimeoutSec(processConfig),
    graceSec: effectiveGraceSec(processConfig),
  };
  switch (decision.kind) {
    case 'already_running':
      // A retried claim (its first answer was lost) finds the run already running: only this run's
      // workflow claims it, so that is this claim. R27: the lease statement is idempotent.
      await acquireRunLease(prisma, { id: run.id, companyId: run.companyId, agentId: run.agentId, issueId: context.issueId });
      return claimed;
    case 'scheduled':
      return { kind: 'scheduled', dueAt: decision.dueAt.toISOString() };
    case 'ended':
      return { kind: 'ended', status: decision.status };
    case 'wait_for_agent':
      return { kind: 'wait_for_agent' };
    case 'park_for_quota':
      return parkUntilQuotaReset(deps, run, decision.wall);
    case 'cancel':
      if (decision.holdInterrupted) {
        // R4.4a: the interruption is logged; the workflow cancels through R14.
        const { holdId, rootIssueId, issueId } = decision.holdInterrupted;
        await logActivity(prisma, {
          companyId: run.companyId,
          action: 'issue.tree_hold_run_interrupted',
          entityType: 'issue',
          entityId: issueId,
          agentId: run.agentId,
          details: { holdId, rootIssueId, runId: run.id },
        });
      }
      return { kind: 'cancel', reason: decision.reason };
    case 'light_cancel':
      return lightCancel(deps, run, agent!, decision);
    case 'claim':
      break;
  }
  if (!outcome!.slotFree) return { kind: 'wait_for_slot' };
  // The agent may have been paused since the read: it was re-checked under the lock (R69).
  if (!outcome!.agentInvokable) return { kind: 'wait_for_agent' };
  if (!outcome!.moved) {
    const current = await prisma.heartbeatRun.findUnique({ where: { id: runId }, select: { status: true } });
    return { kind: 'ended', status: current?.status ?? 'missing' };
  }
  // R27: the transition lost a race creating the company's environment; the lease statement alone retries it.
  if (!outcome!.leased) await acquireRunLease(prisma, { id: run.id, companyId: run.companyId, agentId: run.agentId, issueId: context.issueId });
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

/** R4 4b/4c: the "light" cancel — run cancelled, wake skipped, lock cleared, no release/promote. */
async function lightCancel(
  deps: ActivityDeps,
  run: { id: string; companyId: string; agentId: string; wakeupRequestId: string | null; resultJson: unknown; contextSnapshot: unknown },
  agent: { adapterType: string; adapterConfig: unknown },
  gate: Extract<ClaimDecision, { kind: 'light_cancel' }>,
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
