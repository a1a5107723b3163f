/** V8: the one line a recovery decision reads as (memo, API `summary`), and the reference recovery texts end with. */
import { describe, expect, it } from 'vitest';
import {
  decisionLine,
  recoveryDecisionMemo,
  RECOVERY_REASONS,
  wakeSkipDecision,
  withDecisionReference,
} from '../../src/domain/recoveryDecision.ts';
import { LOOP_DETECTED_REASON } from '../../src/domain/loopBreaker.ts';

const ID = '6f1c2a44-0d5e-4b8e-9a51-1f0e2d3c4b5a';
const RUN = '0b7a9c1e-2f3d-4e5f-8a9b-0c1d2e3f4a5b';
const ISSUE = '9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b';

describe('decisionLine', () => {
  it('names the kind, the rule, why, the counters and what was created, and the decision id', () => {
    expect(decisionLine({ id: ID, decision: 'scheduled_retry', rule: 'R38', reason: 'transient_upstream', evidence: { attempt: 2, maxAttempts: 4, dueAt: '2026-12-06T16:00:00.000Z' }, createdRunId: RUN, createdIssueId: null }))
      .toBe(`scheduled retry (R38): the upstream model was overloaded or unavailable; attempt 2 of 4; due 2026-12-06T16:00:00.000Z → run ${RUN} [decision ${ID}]`);
  });

  it('says why nothing was done, without an arrow', () => {
    expect(decisionLine({ id: ID, decision: 'none', rule: 'R31', reason: 'other_live_run', evidence: {}, createdRunId: null, createdIssueId: null }))
      .toBe(`no recovery (R31): the issue already has another live run [decision ${ID}]`);
  });

  it('names a created recovery issue, or the open one an escalation reused', () => {
    expect(decisionLine({ id: ID, decision: 'escalation', rule: 'R56', reason: 'retry_already_used', evidence: { recoveryIssue: 'created', recoveryIssueId: ISSUE }, createdRunId: RUN, createdIssueId: ISSUE }))
      .toBe(`escalation (R56): the issue's one automatic retry of this kind was already used → run ${RUN}, issue ${ISSUE} [decision ${ID}]`);
    expect(decisionLine({ id: ID, decision: 'escalation', rule: 'R32', reason: 'retry_already_used', evidence: { recoveryIssue: 'reused', recoveryIssueId: ISSUE }, createdRunId: null, createdIssueId: null }))
      .toBe(`escalation (R32): the issue's one automatic retry of this kind was already used → open recovery issue ${ISSUE} [decision ${ID}]`);
  });

  it('counts the loop breaker\'s runs', () => {
    expect(decisionLine({ id: ID, decision: 'none', rule: 'V2', reason: 'loop_detected', evidence: { runsWithoutProgress: 6, windowSec: 3600 }, createdRunId: null, createdIssueId: null }))
      .toBe(`no recovery (V2): the agent kept running on the issue without progress; 6 runs without progress [decision ${ID}]`);
  });

  it('has a sentence for every reason', () => {
    for (const [code, text] of Object.entries(RECOVERY_REASONS)) expect(text.length, code).toBeGreaterThan(10);
  });
});

describe('recoveryDecisionMemo', () => {
  it('joins several decisions into one line, and says when none was needed', () => {
    expect(recoveryDecisionMemo('failed', ['a', 'b'])).toBe('a | b');
    expect(recoveryDecisionMemo('succeeded', [])).toBe('no recovery needed: the run succeeded');
    expect(recoveryDecisionMemo('failed', [])).toBe('no recovery decision was recorded');
  });
});

describe('withDecisionReference', () => {
  it('appends the reference as the last line and keeps every line before it', () => {
    const text = 'Lead sentence.\n- Recovery issue: [PAP-2](/PAP/issues/PAP-2)';
    const referenced = withDecisionReference(text, ID);
    expect(referenced.startsWith(`${text}\n`)).toBe(true);
    expect(referenced.split('\n').at(-1)).toBe(`- Recovery decision: \`${ID}\``);
  });
});

describe('wakeSkipDecision', () => {
  it('maps each R71 skip to its rule and reason, and an unknown one to the issue having moved on', () => {
    expect(wakeSkipDecision(LOOP_DETECTED_REASON)).toEqual({ rule: 'V1', reason: 'loop_detected' });
    expect(wakeSkipDecision('issue_tree_hold_active')).toEqual({ rule: 'R67', reason: 'pause_hold' });
    expect(wakeSkipDecision('issue_dependencies_blocked')).toEqual({ rule: 'R71', reason: 'dependencies_blocked' });
    expect(wakeSkipDecision('heartbeat.wakeOnDemand.disabled')).toEqual({ rule: 'R71', reason: 'wakes_disabled' });
    expect(wakeSkipDecision('something_new')).toEqual({ rule: 'R71', reason: 'issue_moved_on' });
  });
});
