/**
 * R8: the one post-terminal pipeline every finished run goes through — execution end, adapter
 * failure, lost worker, or cancellation (R14) — in one transaction, so a retried activity either
 * did all of it or none of it.
 */
import type { Prisma } from '../store/db.ts';
import type { ActivityDeps } from './deps.ts';
import { terminalWriteFor, type ExecutionOutcome } from '../domain/runOutcome.ts';
import { isTerminalRunStatus, wakeStatusForRunOutcome } from '../domain/runStatus.ts';
import { decideAgentFinalize } from '../domain/agentStatus.ts';
import { heartbeatPolicyOf } from '../domain/heartbeatPolicy.ts';
import { runTexts } from '../domain/texts.ts';
import { appendRunEvent } from '../store/runEvents.ts';
import { logActivity } from '../store/activityLog.ts';
import { asObject, boundIssueId, stringOrNull, toJson } from '../store/json.ts';
import { releaseRunLeases } from './leases.ts';
import { releaseAndPromote, type EscalationRequest } from './releaseAndPromote.ts';
import { classifyFinishedRun } from './runLiveness.ts';
import { processLossRetryAllowed, queueProcessLossRetry } from './processLossRetry.ts';
import { scheduleTransientRetry } from './scheduleTransientRetry.ts';
import { scheduleQuotaRetry } from './scheduleQuotaRetry.ts';
import { applyIssueCommentPolicy } from './issueCommentFollowUp.ts';
import { recordAgentCliRun, usageOf } from './agentCliBookkeeping.ts';
import { enforceBudgetHardStop } from './budgetHardStop.ts';
import { stopReasonFor } from '../domain/stopMetadata.ts';
import { recoveryEventTexts } from '../domain/recoveryTexts.ts';
import { lockAgentOfRun } from '../store/locks.ts';
import { isProcessGroupAlive, spawnedOnThisHost, terminateProcessGroup } from '../adapters/processGroup.ts';
import { escalateStrandedIssue } from './escalation.ts';
import { applyLivenessContinuation } from './livenessContinuation.ts';
import { claimableQueuedRunIds } from '../store/agentSlots.ts';
import { runLogFields } from '../runLogContext.ts';
import type { RecoveryActionKind } from '../metrics/vigilMetrics.ts';
import { processLossMoment } from './processLossDetection.ts';

type Tx = Prisma.TransactionClient;
type Agent = NonNullable<Awaited<ReturnType<Tx['agent']['findUnique']>>>;

export interface FinalizeInput {
  runId: string;
  outcome: ExecutionOutcome;
  /**
   * Whether to look up the agent's queued runs that the freed slot lets start (default true).
   * The reaper settles many runs of one agent and asks once per agent at the end instead.
   */
  findNextQueued?: boolean;
}

export interface FinalizeResult {
  status: string;
  errorCode: string | null;
  /** The run was already terminal: nothing was written (R5: its status stands). */
  alreadyTerminal: boolean;
  /** Queued runs of the same agent that now hold a free slot (the workflow signals them). */
  nextQueuedRunIds: string[];
  /** Runs this pipeline created (retry, scheduled retry, missing-comment follow-up, recovery run, promoted wake): start their workflows. */
  followUpRunIds: string[];
  /** R32: block the issue with a recovery issue — done after the commit (`afterRunFinalized`). */
  escalation: EscalationRequest | null;
  /** R46: the run is issue-bound and ended `plan_only`/`empty_response`. */
  livenessContinuation: boolean;
}

/** R8 step 5: a succeeded issue-bound run posts its summary once, authored by the agent. */
async function postSuccessComment(tx: Tx, run: { id: string; companyId: string; agentId: string }, issueId: string, resultJson: Record<string, unknown>) {
  const body = [resultJson.summary, resultJson.result, resultJson.message].map(stringOrNull).find((text) => text !== null);
  if (!body) return;
  const already = await tx.issueComment.count({ where: { issueId, createdByRunId: run.id } });
  if (already > 0) return;
  // The issue may have been deleted meanwhile: then there is nothing to comment on.
  const touched = await tx.issue.updateMany({ where: { id: issueId, companyId: run.companyId }, data: { updatedAt: new Date() } });
  if (touched.count === 0) return;
  await tx.issueComment.create({
    data: { companyId: run.companyId, issueId, authorAgentId: run.agentId, createdByRunId: run.id, body },
  });
}

/**
 * R10/R11: agent status after the run. Returns true when this was the agent's first heartbeat;
 * the telemetry hook is then called after the transaction commits, so a retried finalize
 * never reports it twice.
 */
async function finalizeAgent(tx: Tx, agent: Agent, outcome: 'succeeded' | 'failed' | 'cancelled' | 'timed_out', providerQuota: boolean): Promise<boolean> {
  const agentId = agent.id;
  const otherRunningRuns = await tx.heartbeatRun.count({ where: { agentId, status: 'running' } });
  const decision = decideAgentFinalize({ agentStatus: agent.status, lastHeartbeatAt: agent.lastHeartbeatAt, otherRunningRuns, outcome, providerQuota });
  if (!decision.update) return false;
  await tx.agent.update({ where: { id: agentId }, data: { status: decision.status, lastHeartbeatAt: new Date() } });
  if (decision.firstHeartbeat) {
    // R11: the role, never the adapter type.
    await logActivity(tx, {
      companyId: agent.companyId,
      action: 'telemetry.agent_first_heartbeat',
      entityType: 'agent',
      entityId: agent.id,
      agentId: agent.id,
      details: { agentRole: agent.role, agentId: agent.id },
    });
  }
  return decision.firstHeartbeat;
}

/** The queued runs that now hold a free slot of the agent (R69): their workflows are told so. */
function nextQueuedRunIds(tx: Tx, agent: Agent | null): Promise<string[]> {
  return agent ? claimableQueuedRunIds(tx, agent.id, heartbeatPolicyOf(agent.runtimeConfig).maxConcurrentRuns) : Promise.resolve([]);
}

export async function finalizeRun(deps: ActivityDeps, input: FinalizeInput): Promise<FinalizeResult> {
  if (input.outcome.kind === 'worker_lost') await killLeftoverGroup(deps, input.runId);
  const { result, firstHeartbeatOf, observed } = await finalizeInTransaction(deps, input);
  // Never fails the finalize: a failed finalize would be retried, find the run terminal and lose
  // its follow-ups.
  if (!result.alreadyTerminal) {
    try {
      recordFinish(deps, input, result, observed);
    } catch {
      // Counting and logging are best effort.
    }
  }
  if (firstHeartbeatOf) await deps.telemetry.agentFirstHeartbeat(firstHeartbeatOf);
  // R15: the run's cost may have reached a hard budget limit; stop the scope's other work.
  if (observed.costRecordedFor) {
    await enforceBudgetHardStop(deps, { ...observed.costRecordedFor, exceptRunId: input.runId }).catch((error: unknown) => {
      deps.logger.error('budget hard stop failed', { runId: input.runId, error: error instanceof Error ? error.message : String(error) });
    });
  }
  return result;
}

/** What finalize saw of the run, for the metrics and the log lines written after the commit. */
interface FinalizeObservation {
  companyId: string;
  /** The run row's last write before the terminal one. */
  runUpdatedAt: Date;
  recoveryActions: RecoveryActionKind[];
  retryRunId: string | null;
  /** A cost event was written for the run: the budget hard stop (R15) looks at its scope. */
  costRecordedFor?: { companyId: string; agentId: string };
}

/** After the commit, so a rolled-back or retried transaction counts nothing. */
function recordFinish(deps: ActivityDeps, input: FinalizeInput, result: FinalizeResult, observed: FinalizeObservation) {
  const log = deps.logger.child(runLogFields({ id: input.runId, companyId: observed.companyId }));
  const committedAt = Date.now();
  deps.metrics.runFinished(result.status, result.errorCode);
  for (const kind of observed.recoveryActions) deps.metrics.recoveryAction(kind);
  log.info('run finished', { status: result.status, errorCode: result.errorCode, outcome: input.outcome.kind, recoveryActions: observed.recoveryActions });
  if (result.errorCode !== 'process_lost') return;
  // The moment travels in the outcome (processLossDetection.ts).
  const loss = processLossMoment(input.outcome, observed.runUpdatedAt);
  const detectionSeconds = loss.lostAt ? (committedAt - loss.lostAt.getTime()) / 1000 : null;
  if (detectionSeconds !== null) deps.metrics.processLossDetected(loss.path, detectionSeconds);
  log.warn('agent process lost', { path: loss.path, lostAt: loss.lostAt?.toISOString() ?? null, detectionSeconds, retryRunId: observed.retryRunId });
}

/**
 * A worker that stopped heartbeating leaves its agent's process group running on its host. When
 * this worker is on that host, the group is ended before a retry can start a second agent (R19).
 */
async function killLeftoverGroup(deps: ActivityDeps, runId: string) {
  const run = await deps.prisma.heartbeatRun.findUnique({ where: { id: runId }, select: { processGroupId: true, processHost: true, status: true } });
  if (!run || run.status !== 'running' || run.processGroupId === null || !spawnedOnThisHost(run.processHost)) return;
  if (await isProcessGroupAlive(run.processGroupId)) await terminateProcessGroup(run.processGroupId, { graceMs: 2_000 });
}

export interface AftercareInput {
  runId: string;
  escalation: EscalationRequest | null;
  livenessContinuation: boolean;
}

/**
 * The steps of R8 that follow the commit: the escalation R32 asked for, and the liveness
 * continuation (R46). Both are idempotent. Returns the runs they created.
 */
export async function afterRunFinalized(deps: ActivityDeps, input: AftercareInput): Promise<string[]> {
  const followUps: string[] = [];
  if (input.escalation) followUps.push(...(await escalateStrandedIssue(deps, input.escalation)).followUpRunIds);
  if (input.livenessContinuation) followUps.push(...(await applyLivenessContinuation(deps, input.runId)));
  return followUps;
}

/**
 * The whole end of a run for callers outside its workflow (the direct cancel): finalize,
 * aftercare, and start whatever runs that produced. Returns the finalize result.
 */
export async function finishRunOutsideWorkflow(deps: ActivityDeps, input: FinalizeInput): Promise<FinalizeResult> {
  const result = await finalizeRun(deps, input);
  const followUps = [...result.followUpRunIds, ...(await afterRunFinalized(deps, { runId: input.runId, escalation: result.escalation, livenessContinuation: result.livenessContinuation }))];
  await deps.executions.start([...followUps, ...result.nextQueuedRunIds]);
  return result;
}

async function finalizeInTransaction(
  deps: ActivityDeps,
  input: FinalizeInput,
): Promise<{ result: FinalizeResult; firstHeartbeatOf: { agentRole: string; agentId: string; companyId: string } | null; observed: FinalizeObservation }> {
  return deps.prisma.$transaction(async (tx) => {
    await lockAgentOfRun(tx, input.runId);
    await tx.$queryRaw`SELECT id FROM heartbeat_runs WHERE id = ${input.runId}::uuid FOR NO KEY UPDATE`;
    const run = await tx.heartbeatRun.findUniqueOrThrow({ where: { id: input.runId } });
    const agent = await tx.agent.findUnique({ where: { id: run.agentId } });
    const observed: FinalizeObservation = { companyId: run.companyId, runUpdatedAt: run.updatedAt, recoveryActions: [], retryRunId: null };
    if (isTerminalRunStatus(run.status)) {
      // Someone else finished it (a light claim gate, a direct cancel): its status stands, but
      // leases must still end and waiting runs may take the slot.
      await releaseRunLeases(tx, run);
      const result: FinalizeResult = {
        status: run.status,
        errorCode: run.errorCode,
        alreadyTerminal: true,
        nextQueuedRunIds: input.findNextQueued === false ? [] : await nextQueuedRunIds(tx, agent),
        followUpRunIds: [],
        escalation: null,
        livenessContinuation: false,
      };
      return { result, firstHeartbeatOf: null, observed };
    }
    const write = terminalWriteFor(
      {
        adapterType: agent?.adapterType ?? 'process',
        adapterConfig: asObject(agent?.adapterConfig),
        priorResultJson: run.resultJson ? asObject(run.resultJson) : null,
        processPid: run.processPid,
        processGroupId: run.processGroupId,
      },
      input.outcome,
    );
    const now = new Date();
    const processLost = write.errorCode === 'process_lost';
    // R22: decided up front, because the stored error says so (R20 "; retrying once").
    const retryOnce = processLost && agent !== null && processLossRetryAllowed(run, agent.adapterType);
    const baseError = write.error;
    const error = retryOnce ? `${baseError}${recoveryEventTexts.retryingOnce}` : baseError;
    const issueId = boundIssueId(run.contextSnapshot);
    const stdoutExcerpt = write.stdoutExcerpt ?? run.stdoutExcerpt;
    const stderrExcerpt = write.stderrExcerpt ?? run.stderrExcerpt;
    // R8 step 2 (R42): liveness is classified on every path except cancellation (R14); it is
    // computed first so that step 1 and step 2 are one write.
    const liveness = input.outcome.kind === 'cancelled'
      ? null
      : await classifyFinishedRun(tx, { id: run.id, status: write.status, errorCode: write.errorCode, error, resultJson: write.resultJson, stdoutExcerpt, stderrExcerpt }, issueId);
    // What a coding-agent CLI reported: its session (R72) and usage, written with the terminal status.
    const cliReport = input.outcome.kind === 'adapter_result' ? input.outcome.result.agentCli ?? null : null;
    const usage = cliReport ? usageOf(cliReport) : null;
    // R8 step 1 (R5): the terminal write.
    const updated = await tx.heartbeatRun.update({
      where: { id: run.id },
      data: {
        status: write.status,
        finishedAt: now,
        error,
        errorCode: write.errorCode,
        exitCode: write.exitCode,
        signal: write.signal,
        resultJson: toJson(write.resultJson),
        stdoutExcerpt,
        stderrExcerpt,
        ...liveness,
        ...(cliReport ? { sessionIdBefore: cliReport.sessionIdBefore, sessionIdAfter: cliReport.sessionIdAfter } : {}),
        ...(usage ? { usageJson: toJson(usage) } : {}),
      },
    });
    if (cliReport && agent) {
      const { cost } = await recordAgentCliRun(tx, run, agent, cliReport, { error, finishedAt: now });
      if (cost?.recorded) observed.costRecordedFor = { companyId: run.companyId, agentId: run.agentId };
    }
    // R8 step 3: wake status and the lifecycle event.
    if (run.wakeupRequestId) {
      await tx.agentWakeupRequest.update({
        where: { id: run.wakeupRequestId },
        data: { status: wakeStatusForRunOutcome(write.status), finishedAt: now, error },
      });
    }
    await appendRunEvent(tx, {
      companyId: run.companyId,
      runId: run.id,
      agentId: run.agentId,
      eventType: 'lifecycle',
      level: write.status === 'succeeded' ? 'info' : write.status === 'cancelled' ? 'warn' : 'error',
      message: runTexts.runFinished(write.status),
      payload: { status: write.status, errorCode: write.errorCode, exitCode: write.exitCode, signal: write.signal },
    });
    // R8 step 5.
    if (write.status === 'succeeded' && issueId) await postSuccessComment(tx, run, issueId, write.resultJson);
    // R8 step 6 (R35–R39): must come before the release, which it makes a no-op by moving the lock.
    const followUpRunIds: string[] = [];
    // A usage limit parks one retry until the reset, and is never escalated (domain/providerQuota.ts).
    const quota = agent ? await scheduleQuotaRetry(tx, updated, agent, now) : { kind: 'not_quota' as const };
    if (quota.kind === 'parked') followUpRunIds.push(quota.runId);
    if (quota.kind !== 'not_quota') observed.recoveryActions.push(quota.kind === 'parked' ? 'provider_quota_retry_parked' : 'provider_quota_retry_exhausted');
    if (agent && quota.kind === 'not_quota') {
      const transient = await scheduleTransientRetry(tx, updated, agent, now);
      if (transient.kind === 'scheduled') followUpRunIds.push(transient.runId);
      if (transient.kind !== 'not_transient') observed.recoveryActions.push(transient.kind === 'scheduled' ? 'transient_retry_scheduled' : 'transient_retry_exhausted');
    }
    // R8 step 7 (R73): a succeeded run that owed its issue a comment and left none gets one
    // follow-up run, which takes the lock — step 8 then releases nothing for this run.
    const commentPolicy = await applyIssueCommentPolicy(tx, updated, agent, now);
    if (commentPolicy.followUpRunId) {
      followUpRunIds.push(commentPolicy.followUpRunId);
      observed.recoveryActions.push('missing_issue_comment_follow_up');
    }
    let escalation: EscalationRequest | null = null;
    if (retryOnce && agent) {
      // R23 + R25: one retry, and the lost run's error event names it.
      const retryRunId = await queueProcessLossRetry(tx, run, agent);
      followUpRunIds.push(retryRunId);
      observed.recoveryActions.push('process_loss_retry');
      observed.retryRunId = retryRunId;
      await appendRunEvent(tx, {
        companyId: run.companyId,
        runId: run.id,
        agentId: run.agentId,
        eventType: 'error',
        level: 'error',
        message: `${baseError}${recoveryEventTexts.queuedRetry(retryRunId)}`,
        payload: { processPid: run.processPid, processGroupId: run.processGroupId, retryRunId },
      });
    } else {
      if (processLost) {
        await appendRunEvent(tx, {
          companyId: run.companyId,
          runId: run.id,
          agentId: run.agentId,
          eventType: 'error',
          level: 'error',
          message: baseError,
          payload: { processPid: run.processPid, processGroupId: run.processGroupId },
        });
      }
      // R8 step 8 (R28–R34; R24 for a lost process without retry). The bulk cancels of R15
      // (agent pause, budget stop) release without recovering.
      const stopReason = stopReasonFor(write.status, write.errorCode, write.error);
      const released = await releaseAndPromote(tx, updated, {
        immediateRecovery: stopReason !== 'paused' && stopReason !== 'budget_paused' && quota.kind === 'not_quota',
      });
      followUpRunIds.push(...released.followUpRunIds);
      if (released.recoveryAction) observed.recoveryActions.push(released.recoveryAction);
      escalation = released.escalation;
    }
    // R8 step 10: the agent's runtime state.
    if (agent) {
      await tx.agentRuntimeState.upsert({
        where: { agentId: agent.id },
        create: { agentId: agent.id, companyId: agent.companyId, adapterType: agent.adapterType, lastRunId: run.id, lastRunStatus: write.status, lastError: error },
        update: { lastRunId: run.id, lastRunStatus: write.status, lastError: error },
      });
    }
    // R8 step 11 (R10, R11).
    const firstHeartbeat = agent ? await finalizeAgent(tx, agent, write.status, quota.kind !== 'not_quota') : false;
    // R8 finally: leases (R27).
    await releaseRunLeases(tx, updated);
    const result: FinalizeResult = {
      status: write.status,
      errorCode: write.errorCode,
      alreadyTerminal: false,
      nextQueuedRunIds: input.findNextQueued === false ? [] : await nextQueuedRunIds(tx, agent),
      followUpRunIds,
      escalation,
      // R8 step 9 (R46) runs after the commit, in `afterRunFinalized`.
      livenessContinuation: issueId !== null && (liveness?.livenessState === 'plan_only' || liveness?.livenessState === 'empty_response'),
    };
    return { result, firstHeartbeatOf: firstHeartbeat && agent ? { agentRole: agent.role, agentId: agent.id, companyId: agent.companyId } : null, observed };
  });
}
