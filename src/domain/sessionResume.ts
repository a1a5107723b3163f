/**
 * R72: whether a run resumes the coding-agent session saved for its task, or starts a fresh one.
 * Pure: the saved session comes in as a value (src/store/taskSessions.ts reads it), so workflows
 * and activities may both import this.
 */

/**
 * The task key of a run that names no task (`contextSnapshot.taskKey` unset: an on-demand wake
 * with no issue or task). R71's enrichment fills `taskKey` from `taskKey`, `taskId`, `issueId`;
 * without any of them the agent's task-less runs share this one session slot.
 */
export const DEFAULT_TASK_KEY = '__agent__';

/** A saved session: the id a CLI reported (Claude's `session_id`, Codex's `thread_id`), and what it ran under. */
export interface SavedSession {
  sessionId: string;
  /** Working directory the session ran in; a session belongs to its directory. */
  cwd: string | null;
  /** The model the run was configured with (null = the CLI's default), not the one the CLI reported. */
  model: string | null;
}

/** What the coming run will run under, in the same terms as `SavedSession`. */
export interface SessionRunSettings {
  cwd: string | null;
  model: string | null;
}

export type SessionResumeWhy = 'fresh_wake' | 'forced_fresh' | 'no_saved_session' | 'context_changed' | 'resume';

export interface SessionResumeDecision {
  /** The id to pass to the CLI's resume flag, or null for a fresh session. */
  resumeSessionId: string | null;
  why: SessionResumeWhy;
}

/** The run's task key: `contextSnapshot.taskKey` when set, else `DEFAULT_TASK_KEY`. */
export function taskKeyOf(contextSnapshot: unknown): string {
  const taskKey = contextSnapshot !== null && typeof contextSnapshot === 'object' ? (contextSnapshot as Record<string, unknown>).taskKey : undefined;
  return typeof taskKey === 'string' && taskKey.trim() !== '' ? taskKey : DEFAULT_TASK_KEY;
}

/** `contextSnapshot.forceFreshSession` (set by a wakeup with `forceFreshSession: true`). */
export function forceFreshSessionOf(contextSnapshot: unknown): boolean {
  return contextSnapshot !== null && typeof contextSnapshot === 'object' && (contextSnapshot as Record<string, unknown>).forceFreshSession === true;
}

/**
 * R72: new work starts fresh — an assignment (`issue_assigned`, which recovery-issue runs are too)
 * or an execution request (`execution_review_requested`, `execution_approval_requested`,
 * `execution_changes_requested`, …). Everything else (retries, continuations, timer, comments on
 * the same task) carries on where the task's session left off.
 */
export function isFreshSessionWake(wakeReason: string | null | undefined): boolean {
  if (!wakeReason) return false;
  return wakeReason === 'issue_assigned' || /^execution_.+_requested$/.test(wakeReason);
}

export function decideSessionResume(input: {
  wakeReason: string | null;
  forceFreshSession: boolean;
  saved: SavedSession | null;
  next: SessionRunSettings;
}): SessionResumeDecision {
  // R72: an explicit request wins over everything.
  if (input.forceFreshSession) return { resumeSessionId: null, why: 'forced_fresh' };
  if (isFreshSessionWake(input.wakeReason)) return { resumeSessionId: null, why: 'fresh_wake' };
  const saved = input.saved;
  if (!saved || saved.sessionId.trim() === '') return { resumeSessionId: null, why: 'no_saved_session' };
  // A session started in another directory or on another model cannot be carried on faithfully.
  if ((saved.cwd ?? null) !== (input.next.cwd ?? null) || (saved.model ?? null) !== (input.next.model ?? null)) {
    return { resumeSessionId: null, why: 'context_changed' };
  }
  return { resumeSessionId: saved.sessionId, why: 'resume' };
}
