/**
 * Issue 14 §1 on the database side: the loop breaker's facts and writes. The decision is pure
 * (`domain/loopBreaker.ts`); `store/wakeups.ts` calls `readLoopBreakerFacts` and the writes below
 * inside its issue transaction, under the issue row lock (R71.6), so racing wakes of one issue see
 * each other's trip. The trip is also a conditional upsert on the state's primary key (V2): one
 * comment however the wakes interleave.
 */
import type { Prisma, PrismaClient } from './db.ts';
import { logActivity } from './activityLog.ts';
import { lockIssue } from './locks.ts';
import { countingSince, decideLoopBreaker, LOOP_BREAKER_DEFAULTS, type LoopBreakerFacts, type LoopBreakerSettings } from '../domain/loopBreaker.ts';
import { loopBreakerComment } from '../domain/recoveryTexts.ts';

type Tx = Prisma.TransactionClient;

/** R46's own bookkeeping document: not a revision a person would call progress (V3). */
const CONTINUATION_SUMMARY_KEY = 'continuation-summary';
/** V3: the activity a run's status change leaves (written by the issue update for run callers). */
export const STATUS_CHANGED_ACTION = 'issue.status_changed';

interface StateRow {
  max_runs: number;
  window_sec: number;
  tripped_at: Date | null;
  reset_at: Date | null;
}

interface RunEvidenceRow {
  comments: number;
  revisions: number;
  status_changes: number;
}

export interface LoopBreakerScope {
  companyId: string;
  issueId: string;
  agentId: string;
}

/** The company's settings (V1), or the defaults the columns carry. */
export async function loopBreakerSettings(db: Tx | PrismaClient, companyId: string): Promise<LoopBreakerSettings | null> {
  const company = await db.company.findUnique({ where: { id: companyId }, select: { loopBreakerMaxRuns: true, loopBreakerWindowSec: true } });
  return company ? { maxRuns: company.loopBreakerMaxRuns, windowSec: company.loopBreakerWindowSec } : null;
}

/** V1, V3: the settings, the trip state and the agent's newest counted runs with their progress evidence. */
export async function readLoopBreakerFacts(tx: Tx, scope: LoopBreakerScope, now: Date): Promise<LoopBreakerFacts> {
  const { companyId, issueId, agentId } = scope;
  const [state] = await tx.$queryRaw<StateRow[]>`
    SELECT c.loop_breaker_max_runs AS max_runs, c.loop_breaker_window_sec AS window_sec, s.tripped_at, s.reset_at
    FROM companies c LEFT JOIN loop_breaker_states s ON s.issue_id = ${issueId}::uuid AND s.agent_id = ${agentId}::uuid
    WHERE c.id = ${companyId}::uuid`;
  const settings = { maxRuns: state?.max_runs ?? LOOP_BREAKER_DEFAULTS.maxRuns, windowSec: state?.window_sec ?? LOOP_BREAKER_DEFAULTS.windowSec };
  const since = countingSince(now, settings.windowSec, state?.reset_at ?? null);
  // V1: the runs that count — this agent's, bound to this issue, finished within the window and after
  // the last reset, newest first; V3: each with what it wrote before it finished (strictly: R8 step 5
  // posts the run's summary as its comment with a timestamp taken after `finished_at`, which may
  // fall in the same millisecond).
  const runs = await tx.$queryRaw<RunEvidenceRow[]>`
    SELECT
      (SELECT count(*)::int FROM issue_comments c
        WHERE c.issue_id = ${issueId}::uuid AND c.created_by_run_id = r.id AND c.created_at < r.finished_at) AS comments,
      (SELECT count(*)::int FROM document_revisions dr JOIN issue_documents d ON d.document_id = dr.document_id
        WHERE d.issue_id = ${issueId}::uuid AND d.key <> ${CONTINUATION_SUMMARY_KEY} AND dr.created_by_run_id = r.id AND dr.created_at < r.finished_at) AS revisions,
      (SELECT count(*)::int FROM activity_log a
        WHERE a.run_id = r.id AND a.action = ${STATUS_CHANGED_ACTION} AND a.entity_type = 'issue' AND a.entity_id = ${issueId} AND a.created_at < r.finished_at) AS status_changes
    FROM heartbeat_runs r
    WHERE r.company_id = ${companyId}::uuid AND r.agent_id = ${agentId}::uuid
      AND r.context_snapshot ->> 'issueId' = ${issueId}
      AND r.finished_at IS NOT NULL AND r.finished_at > ${since}
    ORDER BY r.finished_at DESC
    LIMIT ${settings.maxRuns}`;
  return {
    settings,
    recentRuns: runs.map((row) => ({ comments: row.comments, documentRevisions: row.revisions, statusChanges: row.status_changes })),
    tripped: state?.tripped_at != null,
  };
}

/**
 * V1 for a batch admission that writes its runs itself (the stranded sweep's, R53/R54): whether the
 * breaker would skip this automatic wake. Such a candidate belongs on the one-at-a-time path
 * (`enqueueWakeup`), which writes the skip and, once, the comment.
 */
export async function loopBreakerWouldSkip(tx: Tx, scope: LoopBreakerScope, now: Date): Promise<boolean> {
  const plan = decideLoopBreaker(await readLoopBreakerFacts(tx, scope, now));
  return plan.kind === 'skip' || plan.kind === 'skip_and_trip';
}

/**
 * V2: trips the breaker if nobody has since it was last cleared, and then (only then) posts its one
 * comment and its `activity_log` row. Returns whether this call tripped it; either way the skip is
 * counted.
 */
export async function tripOrCountSkip(
  tx: Tx,
  scope: LoopBreakerScope & { agentName: string; runsWithoutProgress: number; windowSec: number; maxRuns: number; wakeId: string },
  now: Date,
): Promise<boolean> {
  const { companyId, issueId, agentId } = scope;
  const tripped = await tx.$queryRaw<Array<{ issue_id: string }>>`
    INSERT INTO loop_breaker_states (issue_id, agent_id, company_id, tripped_at, trips, skips, updated_at)
    VALUES (${issueId}::uuid, ${agentId}::uuid, ${companyId}::uuid, ${now}, 1, 1, ${now})
    ON CONFLICT (issue_id, agent_id) DO UPDATE
      SET tripped_at = EXCLUDED.tripped_at, trips = loop_breaker_states.trips + 1, skips = loop_breaker_states.skips + 1, updated_at = EXCLUDED.updated_at
      WHERE loop_breaker_states.tripped_at IS NULL
    RETURNING issue_id`;
  if (tripped.length === 0) {
    await tx.$executeRaw`
      UPDATE loop_breaker_states SET skips = skips + 1, updated_at = ${now}
      WHERE issue_id = ${issueId}::uuid AND agent_id = ${agentId}::uuid`;
    return false;
  }
  const comment = await tx.issueComment.create({
    data: { companyId, issueId, body: loopBreakerComment({ agentName: scope.agentName, runsWithoutProgress: scope.runsWithoutProgress, windowSec: scope.windowSec, issueId }) },
  });
  await tx.$executeRaw`
    UPDATE loop_breaker_states SET trip_comment_id = ${comment.id}::uuid WHERE issue_id = ${issueId}::uuid AND agent_id = ${agentId}::uuid`;
  await logActivity(tx, {
    companyId,
    action: 'issue.loop_breaker_tripped',
    entityType: 'issue',
    entityId: issueId,
    agentId,
    details: { runsWithoutProgress: scope.runsWithoutProgress, maxRuns: scope.maxRuns, windowSec: scope.windowSec, wakeupRequestId: scope.wakeId, commentId: comment.id },
  });
  return true;
}

/** V4: an admitted automatic wake after progress or the window ended the loop clears the trip. */
export async function clearTrip(tx: Tx, scope: LoopBreakerScope, now: Date): Promise<void> {
  const cleared = await tx.$executeRaw`
    UPDATE loop_breaker_states SET tripped_at = NULL, trip_comment_id = NULL, clears = clears + 1, updated_at = ${now}
    WHERE issue_id = ${scope.issueId}::uuid AND agent_id = ${scope.agentId}::uuid AND tripped_at IS NOT NULL`;
  if (cleared > 0) {
    await logActivity(tx, { companyId: scope.companyId, action: 'issue.loop_breaker_cleared', entityType: 'issue', entityId: scope.issueId, agentId: scope.agentId });
  }
}

export interface LoopBreakerResetRow {
  agentId: string;
  wasTripped: boolean;
  resetAt: Date;
}

/**
 * V4: a board reset of the issue's breakers (one agent's, or every agent's with a breaker row):
 * runs that finished before now no longer count, and a trip is cleared. Under the issue row lock,
 * like the wakes it races with.
 */
export async function resetLoopBreakers(
  prisma: PrismaClient,
  input: { companyId: string; issueId: string; agentId: string | null; actorId: string },
): Promise<LoopBreakerResetRow[]> {
  const now = new Date();
  return prisma.$transaction(async (tx) => {
    await lockIssue(tx, input.issueId);
    if (input.agentId) {
      // A reset before any trip still restarts the agent's count.
      await tx.$executeRaw`
        INSERT INTO loop_breaker_states (issue_id, agent_id, company_id, updated_at)
        VALUES (${input.issueId}::uuid, ${input.agentId}::uuid, ${input.companyId}::uuid, ${now})
        ON CONFLICT (issue_id, agent_id) DO NOTHING`;
    }
    const rows = await tx.loopBreakerState.findMany({
      where: { issueId: input.issueId, ...(input.agentId ? { agentId: input.agentId } : {}) },
      orderBy: { agentId: 'asc' },
    });
    const reset: LoopBreakerResetRow[] = [];
    for (const row of rows) {
      await tx.loopBreakerState.update({
        where: { issueId_agentId: { issueId: row.issueId, agentId: row.agentId } },
        data: { resetAt: now, trippedAt: null, tripCommentId: null, resets: { increment: 1 }, updatedAt: now },
      });
      await logActivity(tx, {
        companyId: input.companyId,
        actorType: 'user',
        actorId: input.actorId,
        action: 'issue.loop_breaker_reset',
        entityType: 'issue',
        entityId: input.issueId,
        agentId: row.agentId,
        details: { wasTripped: row.trippedAt !== null },
      });
      reset.push({ agentId: row.agentId, wasTripped: row.trippedAt !== null, resetAt: now });
    }
    return reset;
  });
}

/** `vigil_loop_breaker_total`: the counters' sums over every breaker (they only grow). */
export async function loopBreakerTotals(prisma: PrismaClient): Promise<{ tripped: number; skipped: number; reset: number; cleared: number }> {
  const [row] = await prisma.$queryRaw<Array<{ trips: bigint | null; skips: bigint | null; resets: bigint | null; clears: bigint | null }>>`
    SELECT sum(trips) AS trips, sum(skips) AS skips, sum(resets) AS resets, sum(clears) AS clears FROM loop_breaker_states`;
  return { tripped: Number(row?.trips ?? 0), skipped: Number(row?.skips ?? 0), reset: Number(row?.resets ?? 0), cleared: Number(row?.clears ?? 0) };
}
