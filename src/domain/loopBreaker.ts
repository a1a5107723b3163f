/**
 * Issue 14 §1: the loop breaker. Pure: `store/loopBreaker.ts` reads the facts (under the issue row
 * lock, as R71.6 does) and writes the outcome; `store/wakeups.ts` asks here before R71.6.
 *
 * V1 (trip): per agent and issue, when the agent's last `maxRuns` runs bound to the issue all ended
 *   without progress (V3) within the last `windowSec` seconds (and after the last board reset),
 *   further automatic wakes of that agent for that issue are skipped with reason `loop_detected`.
 *   "More than N runs" in the issue, read so that each loop stops after at most N runs per agent:
 *   the Nth run without progress trips the breaker, the wake for the (N+1)th is skipped.
 * V2 (say it once): the first skip of a trip writes one issue comment, one `activity_log` row
 *   (`issue.loop_breaker_tripped`) and counts `tripped`; every later skip only counts `skipped`.
 * V3 (progress): see `madeProgress`.
 * V4 (reset): a board reset (`POST /api/issues/:issueId/loop-breaker/reset`) makes earlier runs not
 *   count; so does progress (a run with progress is newer than the runs that count), and so does
 *   time (the window). The next admitted wake after either clears the trip, so a later trip gets
 *   its own comment.
 * V5 (who passes): a wake a board user asked for (`requestedByActorType` `user`: an explicit
 *   wakeup, a board assignment) is never skipped. It still runs and its run still counts.
 */

/** The skipped wake's reason (V1). */
export const LOOP_DETECTED_REASON = 'loop_detected';

/** V1: the defaults, and the bounds a company's settings must stay within. */
export const LOOP_BREAKER_DEFAULTS = { maxRuns: 6, windowSec: 3600 } as const;
export const LOOP_BREAKER_BOUNDS = {
  maxRuns: { min: 1, max: 1000 },
  windowSec: { min: 60, max: 7 * 24 * 3600 },
} as const;

export interface LoopBreakerSettings {
  maxRuns: number;
  windowSec: number;
}

/** V3: what a run did to its issue, counted for that run only, up to the moment it finished. */
export interface RunProgressEvidence {
  /** Comments on the issue the run posted (`issue_comments.created_by_run_id`). */
  comments: number;
  /** Revisions the run wrote on the issue's documents, except `continuation-summary` (R46's own bookkeeping). */
  documentRevisions: number;
  /** Status changes of the issue the run made (`activity_log` `issue.status_changed` with its run id). */
  statusChanges: number;
}

/**
 * V3: progress, for the breaker, is what a person would call progress: a comment, a document
 * revision or a status change made by the run. Not a reassignment (a handoff moves the issue, it
 * does not advance it), not tool events or other activity (which R43's liveness does count, so a
 * run can be `advanced` for liveness and still not progress here), and not what Vigil writes on the
 * run's behalf as it ends or after (R8 step 5's summary comment, which only echoes the run's
 * output; R46.4's exhausted comment): the caller counts only what the run wrote strictly before its
 * `finishedAt`.
 */
export function madeProgress(evidence: RunProgressEvidence): boolean {
  return evidence.comments > 0 || evidence.documentRevisions > 0 || evidence.statusChanges > 0;
}

/** V5: whether a wake is exempt from the breaker. */
export function isBoardWake(request: { requestedByActorType?: string | null }): boolean {
  return request.requestedByActorType === 'user';
}

export interface LoopBreakerFacts {
  settings: LoopBreakerSettings;
  /**
   * The agent's newest runs bound to the issue that finished within the window and after the last
   * reset, newest first, at most `settings.maxRuns` of them.
   */
  recentRuns: readonly RunProgressEvidence[];
  /** The breaker is tripped (its comment posted) and not cleared since. */
  tripped: boolean;
}

export type LoopBreakerPlan =
  | { kind: 'admit' }
  /** V4: admit, and clear the earlier trip (progress, the window or a reset ended the loop). */
  | { kind: 'admit_and_clear' }
  /** V1, V2: skip, and trip the breaker (its one comment). */
  | { kind: 'skip_and_trip'; runsWithoutProgress: number }
  /** V1: skip; the breaker was already tripped (no second comment). */
  | { kind: 'skip'; runsWithoutProgress: number };

/** V1/V4: the breaker's answer for an automatic wake (V5's exempt wakes never ask). */
export function decideLoopBreaker(facts: LoopBreakerFacts): LoopBreakerPlan {
  const looping = facts.recentRuns.length >= facts.settings.maxRuns && !facts.recentRuns.some(madeProgress);
  if (looping) return facts.tripped ? { kind: 'skip', runsWithoutProgress: facts.recentRuns.length } : { kind: 'skip_and_trip', runsWithoutProgress: facts.recentRuns.length };
  return facts.tripped ? { kind: 'admit_and_clear' } : { kind: 'admit' };
}

/** V1: where the counted runs start: the window's start, or the last reset if it is later. */
export function countingSince(now: Date, windowSec: number, resetAt: Date | null): Date {
  const windowStart = new Date(now.getTime() - windowSec * 1000);
  return resetAt && resetAt > windowStart ? resetAt : windowStart;
}
