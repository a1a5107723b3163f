/**
 * R4 (claim gates), R69 (per-agent slots), R9 (auto-checkout) and R27 (lease acquire): turning a
 * `queued` run into a `running` one, in one transaction that holds the agent row lock — the
 * per-agent mutex — so concurrent claims for one agent never overfill its slots.
 */
import type { Prisma } from '../store/db.ts';
import type { ActivityDeps } from './deps.ts';
import { heartbeatPolicyOf, agentNameKey, isCommentInteractionWake } from '../domain/heartbeatPolicy.ts';
import { isInvokableAgentStatus } from '../domain/runStatus.ts';
import { buildStopMetadata, type StopReason } from '../domain/stopMetadata.ts';
import { runTexts } from '../domain/texts.ts';
import { getInvocationBlock } from '../store/budget.ts';
import { activePauseHoldFor } from '../store/treeHolds.ts';
import { unresolvedBlockerIds } from '../store/issueRelations.ts';
import { appendRunEvent } from '../store/runEvents.ts';
import { logActivity } from '../store/activityLog.ts';
import { asObject, boundIssueId, stringOrNull, toJson } from '../store/json.ts';
import { acquireRunLease } from './leases.ts';

type Tx = Prisma.TransactionClient;

export type ClaimResult =
  | { kind: 'claimed'; adapterType: string; timeoutSec: number; graceSec: number }
  /** All of the agent's slots are taken, or older/higher-ranked queued runs go first. */
  | { kind: 'wait_for_slot' }
  /** A gate refused the run; the workflow finalizes it as cancelled with this reason (R14 path). */
  | { kind: 'cancel'; reason: string }
  /** The run is no longer queued (cancelled meanwhile, or a light gate already cancelled it). */
  | { kind: 'ended'; status: string };

/** R4 4b/4c: the "light" cancel — run cancelled, wake skipped, lock cleared, no release/promote. */
async function lightCancel(
  tx: Tx,
  run: { id: string; companyId: string; agentId: string; wakeupRequestId: string | null; resultJson: unknown },
  adapter: { adapterType: string; adapterConfig: Record<string, unknown> },
  issueId: string,
  code: StopReason,
  timeoutSource: 'dependency_gate' | 'stale_queued_run_gate',
  message: string,
): Promise<ClaimResult> {
  const stop = buildStopMetadata({ ...adapter, stopReason: code, timeoutSource });
  await tx.heartbeatRun.update({
    where: { id: run.id },
    data: {
      status: 'cancelled',
      finishedAt: new Date(),
      error: message,
      errorCode: code,
      resultJson: toJson({ ...asObject(run.resultJson), ...stop }),
    },
  });
  if (run.wakeupRequestId) {
    await tx.agentWakeupRequest.update({
      where: { id: run.wakeupRequestId },
      data: { status: 'skipped', error: message, finishedAt: new Date() },
    });
  }
  await tx.issue.updateMany({
    where: { id: issueId, executionRunId: run.id },
    data: { executionRunId: null, executionAgentNameKey: null, executionLockedAt: null },
  });
  await appendRunEvent(tx, {
    companyId: run.companyId,
    runId: run.id,
    agentId: run.agentId,
    eventType: 'lifecycle',
    level: 'warn',
    message,
    payload: { errorCode: code },
  });
  return { kind: 'ended', status: 'cancelled' };
}

/** R69: is this run among the first `available` queued runs of its agent, by rank? */
async function holdsFreeSlot(tx: Tx, agentId: string, runId: string, maxConcurrentRuns: number): Promise<boolean> {
  const running = await tx.heartbeatRun.count({ where: { agentId, status: 'running' } });
  const available = maxConcurrentRuns - running;
  if (available <= 0) return false;
  const ranked = await tx.$queryRaw<Array<{ id: string }>>`
    SELECT r.id FROM heartbeat_runs r
    LEFT JOIN issues i ON i.id::text = r.context_snapshot->>'issueId'
    WHERE r.agent_id = ${agentId}::uuid AND r.status = 'queued'
    ORDER BY
      CASE
        WHEN i.id IS NULL THEN 2
        WHEN EXISTS (SELECT 1 FROM issue_relations rel JOIN issues b ON b.id = rel.issue_id
                     WHERE rel.related_issue_id = i.id AND rel.type = 'blocks' AND b.status <> 'done') THEN 3
        WHEN i.status = 'in_progress' THEN 0
        ELSE 1
      END,
      CASE i.priority WHEN 'critical' THEN 0 WHEN 'high' THEN 1 WHEN 'medium' THEN 2 WHEN 'low' THEN 3 ELSE 4 END,
      r.created_at, r.id
    LIMIT ${available}`;
  return ranked.some((row) => row.id === runId);
}

/** R9: the run checks out its issue when it starts. */
async function autoCheckout(tx: Tx, runId: string, agent: { id: string; name: string }, issueId: string, wakeReason: string | null) {
  if (!wakeReason || wakeReason === 'issue_comment_mentioned' || wakeReason.startsWith('execution_')) return;
  const issue = await tx.issue.findUnique({ where: { id: issueId } });
  if (!issue || issue.assigneeAgentId !== agent.id) return;
  if (!['todo', 'backlog', 'blocked', 'in_progress'].includes(issue.status)) return;
  if ((await unresolvedBlockerIds(tx, issueId)).length > 0) return;
  if (issue.checkoutRunId && issue.checkoutRunId !== runId) {
    // A stale checkout (terminal or missing run) is adopted; a live one is a tolerated conflict.
    const holder = await tx.heartbeatRun.findUnique({ where: { id: issue.checkoutRunId } });
    if (holder && ['queued', 'running', 'scheduled_retry'].includes(holder.status)) return;
  }
  await tx.issue.update({
    where: { id: issueId },
    data: {
      status: 'in_progress',
      checkoutRunId: runId,
      executionRunId: runId,
      executionAgentNameKey: agentNameKey(agent.name),
      executionLockedAt: new Date(),
      startedAt: issue.startedAt ?? new Date(),
    },
  });
}

export async function claimRun(deps: ActivityDeps, runId: string): Promise<ClaimResult> {
  return deps.prisma.$transaction(async (tx) => {
    const locked = await tx.$queryRaw<Array<{ agent_id: string }>>`SELECT agent_id FROM heartbeat_runs WHERE id = ${runId}::uuid FOR UPDATE`;
    if (locked.length === 0) return { kind: 'ended', status: 'missing' } as const;
    // The agent row lock is R69's per-agent mutex.
    await tx.$queryRaw`SELECT id FROM agents WHERE id = ${locked[0].agent_id}::uuid FOR UPDATE`;
    const run = await tx.heartbeatRun.findUniqueOrThrow({ where: { id: runId } });
    const agent = await tx.agent.findUnique({ where: { id: run.agentId } });
    const adapter = { adapterType: agent?.adapterType ?? 'process', adapterConfig: asObject(agent?.adapterConfig) };
    const claimed = (): ClaimResult => ({
      kind: 'claimed',
      adapterType: adapter.adapterType,
      timeoutSec: Math.max(0, Math.floor(Number(adapter.adapterConfig.timeoutSec) || 0)),
      graceSec: Math.max(1, Math.floor(Number(adapter.adapterConfig.graceSec ?? 20) || 20)),
    });
    // Claim is retried by Temporal if its response is lost; `running` means this workflow already claimed.
    if (run.status === 'running') return claimed();
    if (run.status !== 'queued') return { kind: 'ended', status: run.status };

    // R4 steps 1–3.
    if (!agent) return { kind: 'cancel', reason: runTexts.agentGone };
    if (!isInvokableAgentStatus(agent.status)) return { kind: 'cancel', reason: runTexts.agentNotInvokable };
    const context = asObject(run.contextSnapshot);
    const issueId = boundIssueId(context);
    const block = await getInvocationBlock(tx, { companyId: run.companyId, agentId: agent.id, issueId, projectId: stringOrNull(context.projectId) });
    if (block) return { kind: 'cancel', reason: block.reason };

    // R4 step 4: issue-bound gates.
    const wakeReason = stringOrNull(context.wakeReason);
    const interaction = isCommentInteractionWake(wakeReason);
    if (issueId) {
      const hold = await activePauseHoldFor(tx, issueId);
      if (hold && context.treeHoldInteraction !== true) {
        await logActivity(tx, {
          companyId: run.companyId,
          action: 'issue.tree_hold_run_interrupted',
          entityType: 'issue',
          entityId: issueId,
          agentId: agent.id,
          details: { holdId: hold.holdId, rootIssueId: hold.rootIssueId, runId },
        });
        return { kind: 'cancel', reason: runTexts.pauseHoldActive };
      }
      if (!interaction && (await unresolvedBlockerIds(tx, issueId)).length > 0) {
        return lightCancel(tx, run, adapter, issueId, 'issue_dependencies_blocked', 'dependency_gate', runTexts.dependenciesBlocked);
      }
      const issue = await tx.issue.findUnique({ where: { id: issueId } });
      const hasWakeComment = stringOrNull(context.wakeCommentId) !== null || stringOrNull(context.commentId) !== null;
      let stale: StopReason | null = null;
      if (!issue || issue.companyId !== run.companyId) stale = 'issue_not_found';
      else if (issue.assigneeAgentId !== agent.id && !interaction) stale = 'issue_assignee_changed';
      else if ((issue.status === 'done' || issue.status === 'cancelled') && !context.resumeIntent && !hasWakeComment) stale = 'issue_terminal_status';
      if (stale) return lightCancel(tx, run, adapter, issueId, stale, 'stale_queued_run_gate', runTexts.staleIssue(stale));
    }

    if (!(await holdsFreeSlot(tx, agent.id, runId, heartbeatPolicyOf(agent.runtimeConfig).maxConcurrentRuns))) {
      return { kind: 'wait_for_slot' };
    }

    // R4 step 5: the guarded transition queued → running.
    const now = new Date();
    const moved = await tx.heartbeatRun.updateMany({
      where: { id: runId, status: 'queued' },
      data: { status: 'running', startedAt: run.startedAt ?? now },
    });
    if (moved.count === 0) return { kind: 'ended', status: run.status };
    if (run.wakeupRequestId) {
      await tx.agentWakeupRequest.update({ where: { id: run.wakeupRequestId }, data: { status: 'claimed', claimedAt: now } });
    }
    if (issueId) {
      // Lazy locking: stamp the execution lock only for the assignee, and only if it is free or ours.
      await tx.issue.updateMany({
        where: { id: issueId, assigneeAgentId: agent.id, OR: [{ executionRunId: null }, { executionRunId: runId }] },
        data: { executionRunId: runId, executionAgentNameKey: agentNameKey(agent.name), executionLockedAt: now },
      });
      await autoCheckout(tx, runId, agent, issueId, wakeReason);
    }
    await acquireRunLease(tx, { id: runId, companyId: run.companyId, agentId: agent.id, issueId });
    await tx.agent.update({ where: { id: agent.id }, data: { status: 'running' } });
    await appendRunEvent(tx, { companyId: run.companyId, runId, agentId: agent.id, eventType: 'lifecycle', message: runTexts.runStarted });
    return claimed();
  });
}
