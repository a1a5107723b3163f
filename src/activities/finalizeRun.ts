/**
 * R8: the one post-terminal pipeline every finished run goes through — execution end, adapter
 * failure, lost worker, or cancellation (R14) — in one transaction, so a retried activity either
 * did all of it or none of it.
 */
import type { ActivityDeps } from './deps.ts';
import type { ExecutionOutcome } from '../domain/runOutcome.ts';
import { isTerminalRunStatus } from '../domain/runStatus.ts';
import { heartbeatPolicyOf } from '../domain/heartbeatPolicy.ts';
import { closeRunEnding } from '../store/runEndingWrites.ts';
import { leaseEndFor } from '../store/leaseRelease.ts';
import type { EscalationRequest } from './releaseAndPromote.ts';
import { enforceBudgetHardStop } from './budgetHardStop.ts';
import { lockRunWithAgent } from '../store/runWithAgent.ts';
import { isProcessGroupAlive, spawnedOnThisHost, terminateProcessGroup } from '../adapters/processGroup.ts';
import { escalateStrandedIssue } from './escalation.ts';
import { applyLivenessContinuation } from './livenessContinuation.ts';
import { runLogFields } from '../runLogContext.ts';
import type { RecoveryActionKind } from '../metrics/vigilMetrics.ts';
import { processLossMoment } from './processLossDetection.ts';
import { writeTerminalStatus } from './runEnding/terminalWrite.ts';
import { chooseRecovery } from './runEnding/recoveryChoice.ts';
import { settleAgentAfterRun } from './runEnding/agentBookkeeping.ts';

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
  /** V8: the recovery decisions recorded with the ending, one line each (the workflow's memo). */
  decisionLines?: string[];
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

export interface AftercareResult {
  followUpRunIds: string[];
  /** V8: the decisions the aftercare took (or found taken by an earlier attempt), one line each. */
  decisionLines: string[];
}

/**
 * The steps of R8 that follow the commit: the escalation R32 asked for, and the liveness
 * continuation (R46). Both are idempotent. Returns the runs they created and what they decided.
 */
export async function afterRunFinalized(deps: ActivityDeps, input: AftercareInput): Promise<AftercareResult> {
  const result: AftercareResult = { followUpRunIds: [], decisionLines: [] };
  if (input.escalation) {
    const escalated = await escalateStrandedIssue(deps, input.escalation);
    result.followUpRunIds.push(...escalated.followUpRunIds);
    if (escalated.decisionLine) result.decisionLines.push(escalated.decisionLine);
  }
  if (input.livenessContinuation) {
    const continued = await applyLivenessContinuation(deps, input.runId);
    result.followUpRunIds.push(...continued.followUpRunIds);
    if (continued.decisionLine) result.decisionLines.push(continued.decisionLine);
  }
  return result;
}

/**
 * A run's whole ending for callers outside its workflow (the API's direct cancel, the orphan
 * reaper): finalize, then the aftercare the commit asked for. Returns the finalize result and every
 * run the ending created; the caller starts them (with the queued runs that got the slot).
 * The run workflow takes the same stages as its own steps (finalizeRun, afterRunFinalized,
 * startRuns), so Temporal UI shows each one.
 */
export async function endRun(deps: ActivityDeps, input: FinalizeInput): Promise<{ result: FinalizeResult; followUpRunIds: string[] }> {
  const result = await finalizeRun(deps, input);
  if (result.alreadyTerminal) return { result, followUpRunIds: [] };
  const aftercare = await afterRunFinalized(deps, { runId: input.runId, escalation: result.escalation, livenessContinuation: result.livenessContinuation });
  return { result, followUpRunIds: [...result.followUpRunIds, ...aftercare.followUpRunIds] };
}

/** The direct cancel's ending: endRun, then the workflows of the runs it created and of the queued runs that got the slot. */
export async function finishRunOutsideWorkflow(deps: ActivityDeps, input: FinalizeInput): Promise<FinalizeResult> {
  const { result, followUpRunIds } = await endRun(deps, input);
  await deps.executions.start([...followUpRunIds, ...result.nextQueuedRunIds]);
  return result;
}

async function finalizeInTransaction(
  deps: ActivityDeps,
  input: FinalizeInput,
): Promise<{ result: FinalizeResult; firstHeartbeatOf: { agentRole: string; agentId: string; companyId: string } | null; observed: FinalizeObservation }> {
  return deps.prisma.$transaction(async (tx) => {
    // R69's order, agent then run, in one statement.
    const locked = await lockRunWithAgent(tx, input.runId);
    if (!locked) throw new Error(`Run ${input.runId} not found`);
    const { run, agent } = locked;
    const observed: FinalizeObservation = { companyId: run.companyId, runUpdatedAt: run.updatedAt, recoveryActions: [], retryRunId: null };
    const nextQueuedOf = input.findNextQueued !== false && agent ? { agentId: agent.id, maxConcurrentRuns: heartbeatPolicyOf(agent.runtimeConfig).maxConcurrentRuns } : null;
    if (isTerminalRunStatus(run.status)) {
      // Someone else finished it (a light claim gate, a direct cancel): its status stands, but
      // leases must still end and waiting runs may take the slot.
      const next = await closeRunEnding(tx, { runId: run.id, leaseEnd: leaseEndFor(run.status), agentStatus: null, nextQueuedOf, now: new Date() });
      const result: FinalizeResult = {
        status: run.status,
        errorCode: run.errorCode,
        alreadyTerminal: true,
        nextQueuedRunIds: next,
        followUpRunIds: [],
        escalation: null,
        livenessContinuation: false,
        decisionLines: [],
      };
      return { result, firstHeartbeatOf: null, observed };
    }
    // R8's stages, in order: steps 1–5, then 6–8, then 10–11 (step 9 follows the commit).
    const ended = await writeTerminalStatus(tx, run, agent, input.outcome);
    if (ended.costRecorded) observed.costRecordedFor = { companyId: run.companyId, agentId: run.agentId };
    const recovery = await chooseRecovery(tx, ended, agent);
    observed.recoveryActions.push(...recovery.recoveryActions);
    observed.retryRunId = recovery.retryRunId;
    const settled = agent ? await settleAgentAfterRun(tx, agent, ended, recovery.providerQuota) : { statusWrite: null, firstHeartbeat: false };
    const firstHeartbeat = settled.firstHeartbeat;
    // R8 step 11's status write and R8 finally (leases, R27), with R69's next queued runs: one statement.
    const next = await closeRunEnding(tx, { runId: run.id, leaseEnd: leaseEndFor(ended.write.status), agentStatus: settled.statusWrite, nextQueuedOf, now: new Date() });
    const result: FinalizeResult = {
      status: ended.write.status,
      errorCode: ended.write.errorCode,
      alreadyTerminal: false,
      nextQueuedRunIds: next,
      followUpRunIds: recovery.followUpRunIds,
      escalation: recovery.escalation,
      // R8 step 9 (R46) runs after the commit, in `afterRunFinalized`.
      livenessContinuation: ended.issueId !== null && (ended.livenessState === 'plan_only' || ended.livenessState === 'empty_response'),
      decisionLines: recovery.decisionLines,
    };
    return { result, firstHeartbeatOf: firstHeartbeat && agent ? { agentRole: agent.role, agentId: agent.id, companyId: agent.companyId } : null, observed };
  });
}
