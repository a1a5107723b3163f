/**
 * §6 R21–R27 for a batch of orphans whose pids were probed dead (src/activities/reaper.ts): one
 * transaction, set-based statements (src/store/reapSettlement.ts), the same rows the per-run
 * ending (`endRun`) writes for a `{ kind: 'reaped' }` outcome. Which orphans the batch takes and
 * which it leaves to `endRun` is decided by `orphanSettlementOf` (src/domain/orphanSettlement.ts).
 *
 * The statements, in R8's order: lock agents, runs, issues (each in id order); the retries (R23);
 * the terminal writes with their wakes and every run event (R21, R25); each run's recovery
 * decision (V8: the retry, or none and why — as the per-run ending records it); the leases (R27);
 * the agents' runtime state with their running counts (R8 step 10); their status and the activity
 * rows (R10, R11, R27).
 */
import { randomUUID } from 'node:crypto';
import type { ActivityDeps } from '../deps.ts';
import { BATCH_TRANSACTION_OPTIONS, type Agent, type HeartbeatRun } from '../../store/db.ts';
import { asObject, boundIssueId, stringOrNull } from '../../store/json.ts';
import { endRunLeases } from '../../store/leaseRelease.ts';
import { lockAgents, lockRuns } from '../../store/locks.ts';
import { writeRunTerminals } from '../../store/runEndingWrites.ts';
import type { RunEventInput } from '../../store/runEvents.ts';
import {
  insertProcessLossRetries,
  lockReapIssues,
  recordReapedAgentStates,
  settleReapedAgents,
  type AgentStatusRow,
  type ReapActivityRow,
  type ReapedRetryRow,
  type ReapIssueRow,
} from '../../store/reapSettlement.ts';
import type { ExecutionOutcome } from '../../domain/runOutcome.ts';
import { classifyRunLiveness, NO_LIVENESS_EVIDENCE } from '../../domain/liveness.ts';
import { decideAgentFinalize } from '../../domain/agentStatus.ts';
import { agentNameKey } from '../../domain/heartbeatPolicy.ts';
import { endedExcerpts, processLostEvent, runFinishedEvent, storedRunError, terminalColumnsOf, type TerminalColumns } from '../../domain/runEndingFields.ts';
import { processLossRetryRun } from '../../domain/processLossRetryRun.ts';
import { orphanSettlementOf } from '../../domain/orphanSettlement.ts';
import { retriesOnce, terminalWriteOfRun } from '../runEnding/terminalWrite.ts';
import { processLossMoment } from '../processLossDetection.ts';
import { runLogFields } from '../../runLogContext.ts';
import { newDecisionId, recordRecoveryDecisions } from '../../store/recoveryDecisions.ts';
import type { RecoveryDecisionDraft } from '../../domain/recoveryDecision.ts';
import { endedRunEvidence } from '../runEnding/decisions.ts';

/** An orphan whose recorded pid is dead (R19: its surviving group already terminated). */
export interface ProbedOrphan {
  id: string;
  companyId: string;
  agentId: string;
  descendantOnly: boolean;
}

export interface BatchSettlement {
  /** Orphans the batch failed as `process_lost`, in input order. */
  reapedRunIds: string[];
  /** Orphans left to the per-run ending (`endRun`), in input order. */
  perRun: ProbedOrphan[];
  /** The retries the batch queued (R23); their workflows are started by the caller. */
  followUpRunIds: string[];
}

/** One reaped run as the batch settles it, for the statements and the after-commit bookkeeping. */
interface Settled {
  orphan: ProbedOrphan;
  run: HeartbeatRun;
  agent: Agent;
  outcome: ExecutionOutcome;
  status: string;
  errorCode: string | null;
  error: string | null;
  retryRunId: string | null;
}

export async function settleOrphanBatch(deps: ActivityDeps, orphans: readonly ProbedOrphan[]): Promise<BatchSettlement> {
  const { settled, perRun, firstHeartbeats } = await deps.prisma.$transaction(
    async (tx) => {
      const now = new Date();
      // R69's per-agent mutex, then the runs, then R28.1's issues: store/locks.ts's order, each set by id.
      const agents = new Map((await lockAgents(tx, orphans.map((o) => o.agentId))).map((a) => [a.id, a]));
      const runs = new Map((await lockRuns(tx, orphans.map((o) => o.id))).map((r) => [r.id, r]));
      const bound = [...runs.values()].map((r) => boundIssueId(r.contextSnapshot)).filter((id): id is string => id !== null);
      const unbound = [...runs.values()].filter((r) => boundIssueId(r.contextSnapshot) === null).map((r) => r.id);
      const issueRows = await lockReapIssues(tx, bound, unbound);
      const issues = new Map(issueRows.map((i) => [i.id, i]));
      const lockedBy = new Map<string, ReapIssueRow>();
      for (const issue of issueRows) if (issue.executionRunId !== null && !lockedBy.has(issue.executionRunId)) lockedBy.set(issue.executionRunId, issue);

      const settled: Settled[] = [];
      const perRun: ProbedOrphan[] = [];
      const terminals: TerminalColumns[] = [];
      const retries: ReapedRetryRow[] = [];
      const events: RunEventInput[] = [];
      const decisions: RecoveryDecisionDraft[] = [];
      for (const orphan of orphans) {
        const run = runs.get(orphan.id);
        const agent = run ? agents.get(run.agentId) ?? null : null;
        if (!run) {
          perRun.push(orphan);
          continue;
        }
        const outcome: ExecutionOutcome = { kind: 'reaped', descendantOnly: orphan.descendantOnly };
        // R20–R22: the same terminal fields and retry decision as the per-run terminal write.
        const write = terminalWriteOfRun(run, agent, outcome);
        const retryOnce = retriesOnce(run, agent, write);
        const issueId = boundIssueId(run.contextSnapshot);
        // R28.1: the bound issue, else the issue whose execution lock is this run (same company).
        const lockHolder = lockedBy.get(run.id);
        const targetIssue = issueId ? issues.get(issueId) ?? null : lockHolder && lockHolder.companyId === run.companyId ? lockHolder : null;
        const settlement = orphanSettlementOf({
          runId: run.id,
          runStatus: run.status,
          agentFound: agent !== null,
          retryOnce,
          resultJson: write.resultJson,
          errorCode: write.errorCode ?? '',
          issueId,
          wakeReason: stringOrNull(asObject(run.contextSnapshot).wakeReason),
          targetIssue,
        });
        if (settlement.kind === 'per_run' || agent === null) {
          perRun.push(orphan);
          continue;
        }
        const baseError = write.error;
        const error = storedRunError(baseError, retryOnce);
        const { stdoutExcerpt, stderrExcerpt } = endedExcerpts(run, write);
        // R42: an unsucceeded run is classified without evidence (as runLiveness.ts does).
        const boundIssue = issueId ? issues.get(issueId) ?? null : null;
        const liveness = classifyRunLiveness({
          runStatus: write.status,
          errorCode: write.errorCode,
          issue: boundIssue ? { status: boundIssue.status, title: boundIssue.title, description: boundIssue.description } : null,
          evidence: NO_LIVENESS_EVIDENCE,
          recentComments: [],
          resultJson: write.resultJson,
          stdoutExcerpt,
          stderrExcerpt,
          error,
          continuationSummary: null,
        });
        terminals.push(terminalColumnsOf(run, write, { error, liveness }));
        const of = { companyId: run.companyId, runId: run.id, agentId: run.agentId };
        // R8 step 3: the lifecycle event.
        events.push({ ...of, ...runFinishedEvent(write) });
        // R23: the one process-loss retry.
        let retryRunId: string | null = null;
        if (settlement.kind === 'retry') {
          retryRunId = randomUUID();
          const retry = processLossRetryRun({ id: run.id, contextSnapshot: asObject(run.contextSnapshot), processLossRetryCount: run.processLossRetryCount }, issueId);
          retries.push({
            retryRunId,
            companyId: run.companyId,
            agentId: agent.id,
            lostRunId: run.id,
            issueId,
            agentNameKey: agentNameKey(agent.name),
            wakeReason: retry.wakeReason,
            wakePayload: retry.wakePayload,
            contextSnapshot: retry.contextSnapshot,
            processLossRetryCount: retry.processLossRetryCount,
          });
          events.push({ companyId: run.companyId, runId: retryRunId, agentId: agent.id, ...retry.event });
        }
        // R25: the lost run's error event, naming its retry.
        events.push({ ...of, ...processLostEvent(run, baseError, retryRunId) });
        // V8: the retry (R23), or no recovery because no execution lock was this run's to give up
        // (R28.2 no issue, R28.3 the lock moved) — what the per-run ending records for the same run.
        const evidence = endedRunEvidence({ updated: { ...run, lastUsefulActionAt: liveness.lastUsefulActionAt }, write, livenessState: liveness.livenessState });
        decisions.push({
          id: newDecisionId(),
          ...of,
          issueId,
          source: 'orphan_reaper',
          ...(retryRunId
            ? { decision: 'retry', rule: 'R23', reason: 'process_lost', evidence: { ...evidence, attempt: 1, maxAttempts: 1 } }
            : { decision: 'none', rule: 'R28', reason: targetIssue === null ? 'no_issue' : 'lock_moved', evidence }),
          createdRunId: retryRunId,
          createdIssueId: null,
        });
        settled.push({ orphan, run, agent, outcome, status: write.status, errorCode: write.errorCode, error, retryRunId });
      }
      if (settled.length === 0) return { settled, perRun, firstHeartbeats: [] as Agent[] };

      await insertProcessLossRetries(tx, retries, now);
      await writeRunTerminals(tx, terminals, events, now);
      await recordRecoveryDecisions(tx, decisions, now);
      // R27: the runs failed, so their leases end `failed` (the same statement finalize uses).
      await endRunLeases(tx, settled.map((s) => s.run.id), 'failed', now);

      // R8 step 10: each agent's runtime state names its last run of the batch (in processing order).
      const lastOf = new Map<string, Settled>();
      for (const s of settled) lastOf.set(s.agent.id, s);
      const running = await recordReapedAgentStates(
        tx,
        [...lastOf.values()].map((s) => ({
          agentId: s.agent.id,
          companyId: s.agent.companyId,
          adapterType: s.agent.adapterType,
          lastRunId: s.run.id,
          lastRunStatus: s.status,
          lastError: s.error,
        })),
        now,
      );
      // R8 step 11 (R10, R11): decided once per agent, after all its runs of the batch ended.
      const statuses: AgentStatusRow[] = [];
      const firstHeartbeats: Agent[] = [];
      const activity: ReapActivityRow[] = [];
      for (const s of lastOf.values()) {
        const decision = decideAgentFinalize({
          agentStatus: s.agent.status,
          lastHeartbeatAt: s.agent.lastHeartbeatAt,
          otherRunningRuns: running.get(s.agent.id) ?? 0,
          outcome: 'failed',
          providerQuota: false,
        });
        if (!decision.update || !decision.status) continue;
        statuses.push({ agentId: s.agent.id, status: decision.status });
        if (decision.firstHeartbeat) {
          firstHeartbeats.push(s.agent);
          // R11: the role, never the adapter type.
          activity.push({
            companyId: s.agent.companyId,
            actorType: 'system',
            actorId: 'system',
            action: 'telemetry.agent_first_heartbeat',
            entityType: 'agent',
            entityId: s.agent.id,
            agentId: s.agent.id,
            runId: null,
            details: { agentRole: s.agent.role, agentId: s.agent.id },
          });
        }
      }
      await settleReapedAgents(tx, statuses, activity, now);
      return { settled, perRun, firstHeartbeats };
    },
    BATCH_TRANSACTION_OPTIONS,
  );

  // After the commit, so a rolled-back batch counts nothing (as finalizeRun's recordFinish).
  for (const s of settled) {
    try {
      recordReapedFinish(deps, s);
    } catch {
      // Counting and logging are best effort.
    }
  }
  for (const agent of firstHeartbeats) await deps.telemetry.agentFirstHeartbeat({ agentRole: agent.role, agentId: agent.id, companyId: agent.companyId });
  return {
    reapedRunIds: settled.map((s) => s.run.id),
    perRun,
    followUpRunIds: settled.flatMap((s) => (s.retryRunId ? [s.retryRunId] : [])),
  };
}

/** The metrics and log lines the per-run ending writes for a reaped run (finalizeRun.ts `recordFinish`). */
function recordReapedFinish(deps: ActivityDeps, s: Settled) {
  const log = deps.logger.child(runLogFields({ id: s.run.id, companyId: s.run.companyId }));
  const committedAt = Date.now();
  const recoveryActions = s.retryRunId ? (['process_loss_retry'] as const) : [];
  deps.metrics.runFinished(s.status, s.errorCode);
  for (const kind of recoveryActions) deps.metrics.recoveryAction(kind);
  log.info('run finished', { status: s.status, errorCode: s.errorCode, outcome: s.outcome.kind, recoveryActions });
  if (s.errorCode !== 'process_lost') return;
  const loss = processLossMoment(s.outcome, s.run.updatedAt);
  const detectionSeconds = loss.lostAt ? (committedAt - loss.lostAt.getTime()) / 1000 : null;
  if (detectionSeconds !== null) deps.metrics.processLossDetected(loss.path, detectionSeconds);
  log.warn('agent process lost', { path: loss.path, lostAt: loss.lostAt?.toISOString() ?? null, detectionSeconds, retryRunId: s.retryRunId });
}
