/**
 * Issue 14 §1 on the database side: the loop breaker's facts and writes. The decision is pure
 * (`domain/loopBreaker.ts`); `store/wakeups.ts` calls `readLoopBreakerFacts` and the writes below
 * inside its issue transaction, under the issue row lock (R71.6), so racing wakes of one issue see
 * each other's trip. The trip is also a conditional upsert on the state's primary key (V2): one
 * comment (and one recovery decision, V8) however the wakes interleave. The stranded sweep's
 * batches ask `loopBreakerPlansOf` for all their candidates at once.
 */
import type { Prisma, PrismaClient } from './db.ts';
import { logActivity } from './activityLog.ts';
import { lockIssue } from './locks.ts';
import { decideLoopBreaker, LOOP_BREAKER_DEFAULTS, type LoopBreakerFacts, type LoopBreakerPlan, type LoopBreakerSettings } from '../domain/loopBreaker.ts';
import { loopBreakerComment } from '../domain/recoveryTexts.ts';
import { withDecisionReference, type RecoveryDecisionDraft } from '../domain/recoveryDecision.ts';
import { newDecisionId, recordRecoveryDecisions } from './recoveryDecisions.ts';

type Tx = Prisma.TransactionClient;

/** R46's own bookkeeping document: not a revision a person would call progress (V3). */
const CONTINUATION_SUMMARY_KEY = 'continuation-summary';
/** V3: the activity a run's status change leaves (written by the issue update for run callers). */
export const STATUS_CHANGED_ACTION = 'issue.status_changed';

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

/** The facts of one (issue, agent) pair, with the agent's newest counted run (the trip's decision follows it). */
export type LoopBreakerScopeFacts = LoopBreakerFacts & { latestRunId: string | null };

interface ScopeFactsRow {
  issue_id: string;
  agent_id: string;
  max_runs: number;
  window_sec: number;
  tripped: boolean;
  /** Newest first: [run id, comments, revisions, status changes]. */
  runs: Array<[string, number, number, number]>;
}

/** The key of an (issue, agent) pair in `readLoopBreakerFactsOf`'s answer. */
export function loopBreakerKey(scope: Pick<LoopBreakerScope, 'issueId' | 'agentId'>): string {
  return `${scope.issueId}:${scope.agentId}`;
}

/**
 * V1, V3 for many (issue, agent) pairs in one statement — a wake's own check (one pair) and the
 * stranded sweep's batch (R53/R54, hundreds): per pair the settings (a missing company falls back
 * to the defaults), the trip state and the agent's newest counted runs with their progress
 * evidence. Keyed by `loopBreakerKey`.
 */
export async function readLoopBreakerFactsOf(tx: Tx, scopes: readonly LoopBreakerScope[], now: Date): Promise<Map<string, LoopBreakerScopeFacts>> {
  if (scopes.length === 0) return new Map();
  // V1: the runs that count — this agent's, bound to this issue, finished within the window and
  // after the last reset (`countingSince`, written here as GREATEST), newest first, at most N; V3: each
  // with what it wrote before it finished (strictly: R8 step 5 posts the run's summary as its
  // comment with a timestamp taken after `finished_at`, which may fall in the same millisecond).
  const rows = await tx.$queryRaw<ScopeFactsRow[]>`
    WITH input AS (
      SELECT DISTINCT * FROM unnest(${scopes.map((s) => s.companyId)}::uuid[], ${scopes.map((s) => s.issueId)}::uuid[], ${scopes.map((s) => s.agentId)}::uuid[])
        AS t(company_id, issue_id, agent_id)
    ),
    scoped AS (
      SELECT i.company_id, i.issue_id, i.agent_id,
             COALESCE(c.loop_breaker_max_runs, ${LOOP_BREAKER_DEFAULTS.maxRuns}::int) AS max_runs,
             COALESCE(c.loop_breaker_window_sec, ${LOOP_BREAKER_DEFAULTS.windowSec}::int) AS window_sec,
             s.tripped_at IS NOT NULL AS tripped, s.reset_at
      FROM input i
      LEFT JOIN companies c ON c.id = i.company_id
      LEFT JOIN loop_breaker_states s ON s.issue_id = i.issue_id AND s.agent_id = i.agent_id
    )
    SELECT sc.issue_id::text AS issue_id, sc.agent_id::text AS agent_id, sc.max_runs, sc.window_sec, sc.tripped,
           COALESCE((
             SELECT json_agg(json_build_array(r.id, r.comments, r.revisions, r.status_changes) ORDER BY r.finished_at DESC)
             FROM (
               SELECT r.id, r.finished_at,
                 (SELECT count(*)::int FROM issue_comments c
                   WHERE c.issue_id = sc.issue_id AND c.created_by_run_id = r.id AND c.created_at < r.finished_at) AS comments,
                 (SELECT count(*)::int FROM document_revisions dr JOIN issue_documents d ON d.document_id = dr.document_id
                   WHERE d.issue_id = sc.issue_id AND d.key <> ${CONTINUATION_SUMMARY_KEY} AND dr.created_by_run_id = r.id AND dr.created_at < r.finished_at) AS revisions,
                 (SELECT count(*)::int FROM activity_log a
                   WHERE a.run_id = r.id AND a.action = ${STATUS_CHANGED_ACTION} AND a.entity_type = 'issue' AND a.entity_id = sc.issue_id::text AND a.created_at < r.finished_at) AS status_changes
               FROM heartbeat_runs r
               WHERE r.company_id = sc.company_id AND r.agent_id = sc.agent_id
                 AND r.context_snapshot ->> 'issueId' = sc.issue_id::text
                 AND r.finished_at IS NOT NULL
                 AND r.finished_at > GREATEST(${now}::timestamptz - make_interval(secs => sc.window_sec), sc.reset_at)
               ORDER BY r.finished_at DESC
               LIMIT sc.max_runs
             ) r
           ), '[]'::json) AS runs
    FROM scoped sc`;
  return new Map(
    rows.map((row): [string, LoopBreakerScopeFacts] => [
      loopBreakerKey({ issueId: row.issue_id, agentId: row.agent_id }),
      {
        settings: { maxRuns: row.max_runs, windowSec: row.window_sec },
        recentRuns: row.runs.map(([, comments, documentRevisions, statusChanges]) => ({ comments, documentRevisions, statusChanges })),
        tripped: row.tripped,
        latestRunId: row.runs[0]?.[0] ?? null,
      },
    ]),
  );
}

/** V1, V3 for one wake's (issue, agent) pair. */
export async function readLoopBreakerFacts(tx: Tx, scope: LoopBreakerScope, now: Date): Promise<LoopBreakerScopeFacts> {
  return (await readLoopBreakerFactsOf(tx, [scope], now)).get(loopBreakerKey(scope))!;
}

/**
 * V1/V4 for a batch admission that writes its runs itself (the stranded sweep's, R53/R54): the
 * breaker's plan for each pair, in one statement however many. A pair whose plan writes something
 * (a skip, a trip, a clear) belongs on the one-at-a-time path (`enqueueWakeup`), which writes the
 * skip and, once, the comment; only plain admissions stay in the batch.
 */
export async function loopBreakerPlansOf(tx: Tx, scopes: readonly LoopBreakerScope[], now: Date): Promise<Map<string, LoopBreakerPlan>> {
  const facts = await readLoopBreakerFactsOf(tx, scopes, now);
  return new Map([...facts].map(([key, pair]) => [key, decideLoopBreaker(pair)]));
}

/**
 * V2: trips the breaker if nobody has since it was last cleared, and then (only then) posts its one
 * comment, its `activity_log` row and its recovery decision (V8: `none`, V2, `loop_detected`),
 * which the comment names. Returns whether this call tripped it; either way the skip is counted
 * (a later skip of the same trip records no decision: it is the same one).
 */
export async function tripOrCountSkip(
  tx: Tx,
  scope: LoopBreakerScope & { agentName: string; runsWithoutProgress: number; windowSec: number; maxRuns: number; wakeId: string; latestRunId: string | null },
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
  const decision: RecoveryDecisionDraft = {
    id: newDecisionId(),
    companyId,
    issueId,
    runId: scope.latestRunId,
    agentId,
    source: 'loop_breaker',
    decision: 'none',
    rule: 'V2',
    reason: 'loop_detected',
    evidence: { runsWithoutProgress: scope.runsWithoutProgress, windowSec: scope.windowSec, maxAttempts: scope.maxRuns },
    createdRunId: null,
    createdIssueId: null,
  };
  const body = loopBreakerComment({ agentName: scope.agentName, runsWithoutProgress: scope.runsWithoutProgress, windowSec: scope.windowSec, issueId });
  const comment = await tx.issueComment.create({ data: { companyId, issueId, body: withDecisionReference(body, decision.id) } });
  await tx.$executeRaw`
    UPDATE loop_breaker_states SET trip_comment_id = ${comment.id}::uuid WHERE issue_id = ${issueId}::uuid AND agent_id = ${agentId}::uuid`;
  await recordRecoveryDecisions(tx, [decision], now);
  await logActivity(tx, {
    companyId,
    action: 'issue.loop_breaker_tripped',
    entityType: 'issue',
    entityId: issueId,
    agentId,
    details: { runsWithoutProgress: scope.runsWithoutProgress, maxRuns: scope.maxRuns, windowSec: scope.windowSec, wakeupRequestId: scope.wakeId, commentId: comment.id, recoveryDecisionId: decision.id },
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
