/** R72: which runs resume their task's saved session, and which start fresh. */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TASK_KEY,
  decideSessionResume,
  forceFreshSessionOf,
  isFreshSessionWake,
  taskKeyOf,
  type SavedSession,
} from '../../src/domain/sessionResume.ts';

const saved: SavedSession = { sessionId: 'sess-123', cwd: '/work/repo', model: 'claude-sonnet-4' };
const sameContext = { cwd: '/work/repo', model: 'claude-sonnet-4' };
const decide = (wakeReason: string | null, options: { forceFreshSession?: boolean; saved?: SavedSession | null; next?: { cwd: string | null; model: string | null } } = {}) =>
  decideSessionResume({
    wakeReason,
    forceFreshSession: options.forceFreshSession ?? false,
    saved: options.saved === undefined ? saved : options.saved,
    next: options.next ?? sameContext,
  });

describe('session resume (R72)', () => {
  it('resumes the saved session for retries, continuations, timer and other wakes on the same task', () => {
    for (const reason of [
      'process_lost_retry',
      'transient_failure_retry',
      'run_liveness_continuation',
      'issue_continuation_needed',
      'issue_assignment_recovery',
      'missing_issue_comment',
      'issue_commented',
      'issue_blockers_resolved',
      'heartbeat_timer',
      null,
    ]) {
      expect(decide(reason), String(reason)).toEqual({ resumeSessionId: 'sess-123', why: 'resume' });
    }
  });

  it('starts fresh on an assignment (recovery-issue runs included) and on execution requests', () => {
    for (const reason of ['issue_assigned', 'execution_review_requested', 'execution_approval_requested', 'execution_changes_requested']) {
      expect(decide(reason), reason).toEqual({ resumeSessionId: null, why: 'fresh_wake' });
    }
  });

  it('does not take every reason that mentions execution for an execution request', () => {
    expect(isFreshSessionWake('issue_execution_promoted')).toBe(false);
    expect(isFreshSessionWake('execution_requested')).toBe(false);
    expect(isFreshSessionWake('')).toBe(false);
    expect(isFreshSessionWake(undefined)).toBe(false);
  });

  it('starts fresh when the wake forces it, whatever the reason', () => {
    expect(decide('process_lost_retry', { forceFreshSession: true })).toEqual({ resumeSessionId: null, why: 'forced_fresh' });
    expect(decide('issue_assigned', { forceFreshSession: true })).toEqual({ resumeSessionId: null, why: 'forced_fresh' });
  });

  it('starts fresh when the task has no saved session', () => {
    expect(decide('process_lost_retry', { saved: null })).toEqual({ resumeSessionId: null, why: 'no_saved_session' });
    expect(decide('process_lost_retry', { saved: { ...saved, sessionId: '  ' } })).toEqual({ resumeSessionId: null, why: 'no_saved_session' });
  });

  it('starts fresh when the working directory or the model changed since the session was saved', () => {
    expect(decide('process_lost_retry', { next: { cwd: '/elsewhere', model: 'claude-sonnet-4' } })).toEqual({ resumeSessionId: null, why: 'context_changed' });
    expect(decide('process_lost_retry', { next: { cwd: '/work/repo', model: 'claude-opus-4' } })).toEqual({ resumeSessionId: null, why: 'context_changed' });
    // The CLI's default model is a model too: configuring one where there was none is a change.
    expect(decide('process_lost_retry', { next: { cwd: '/work/repo', model: null } })).toEqual({ resumeSessionId: null, why: 'context_changed' });
    expect(decide('process_lost_retry', { saved: { ...saved, model: null }, next: { cwd: '/work/repo', model: null } })).toEqual({ resumeSessionId: 'sess-123', why: 'resume' });
  });
});

describe('task key and force-fresh flag of a run context', () => {
  it('uses the context taskKey, or the agent-wide default key without one', () => {
    expect(taskKeyOf({ taskKey: 'issue-1' })).toBe('issue-1');
    expect(taskKeyOf({ taskKey: '' })).toBe(DEFAULT_TASK_KEY);
    expect(taskKeyOf({ issueId: 'issue-1' })).toBe(DEFAULT_TASK_KEY);
    expect(taskKeyOf(null)).toBe(DEFAULT_TASK_KEY);
    expect(DEFAULT_TASK_KEY).toBe('__agent__');
  });

  it('reads forceFreshSession only when it is literally true', () => {
    expect(forceFreshSessionOf({ forceFreshSession: true })).toBe(true);
    expect(forceFreshSessionOf({ forceFreshSession: 'true' })).toBe(false);
    expect(forceFreshSessionOf({})).toBe(false);
    expect(forceFreshSessionOf(undefined)).toBe(false);
  });
});
