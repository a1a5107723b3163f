/** R18–R64: the recovery path's user-visible sentences, copied from RECOVERY.md, and their redaction. */
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_CONTINUATION_INSTRUCTION,
  hasFailureDetails,
  immediateEscalationLead,
  inPlaceRecoveryComment,
  issueLink,
  LIVENESS_EXHAUSTED_PREFIX,
  livenessExhaustedComment,
  orphanBlockerComment,
  recoveryEventTexts,
  recoveryIssueDescription,
  recoveryIssueTitle,
  recoveryLines,
  sweepEscalationLead,
  WITHHELD_FAILURE,
  type RecoveryRunFacts,
} from '../../src/domain/recoveryTexts.ts';

const SECRET_ERROR = 'adapter crashed\nAuthorization: Bearer sk-test-secret\n{"message":"Authorization: Bearer sk-test-secret"}';
const WITHHELD = 'Latest retry failure details were withheld from the issue thread; inspect the linked run for evidence.';

const givenRun = (overrides: Partial<RecoveryRunFacts> = {}): RecoveryRunFacts => ({
  id: 'run-1',
  agentId: 'agent-1',
  status: 'failed',
  retryReason: 'issue_continuation_needed',
  error: null,
  errorCode: null,
  ...overrides,
});

const description = (latestRun: RecoveryRunFacts | null, previousStatus: 'todo' | 'in_progress' = 'in_progress') =>
  recoveryIssueDescription({ issuePrefix: 'PAP', source: { id: 'issue-uuid', identifier: 'PAP-7' }, previousStatus, latestRun });
const inPlace = (latestRun: RecoveryRunFacts | null) =>
  inPlaceRecoveryComment({ recoveryIssue: { identifier: 'PAP-9' }, previousStatus: 'in_progress', latestRun });

/** Every issue-thread text a run can influence. */
function allIssueTexts(run: RecoveryRunFacts | null): string[] {
  return [
    description(run, 'todo'),
    description(run, 'in_progress'),
    inPlace(run),
    sweepEscalationLead('todo', run),
    sweepEscalationLead('in_progress', run),
    immediateEscalationLead('todo', run),
    immediateEscalationLead('in_progress', run),
  ];
}

describe('failure details (R64)', () => {
  it('a run has details when either error or errorCode is non-empty', () => {
    expect(hasFailureDetails(null)).toBe(false);
    expect(hasFailureDetails({ error: null, errorCode: null })).toBe(false);
    expect(hasFailureDetails({ error: '', errorCode: '' })).toBe(false);
    expect(hasFailureDetails({ error: 'boom', errorCode: null })).toBe(true);
    expect(hasFailureDetails({ error: null, errorCode: 'adapter_exit_code' })).toBe(true);
  });

  it('the withheld sentence is the spec sentence', () => {
    expect(WITHHELD_FAILURE).toBe(WITHHELD);
  });

  it('every issue text carries the withheld sentence when the run has details, and none otherwise', () => {
    for (const text of allIssueTexts(givenRun({ error: 'boom', errorCode: 'adapter_failed' }))) {
      expect(text).toContain('Latest retry failure details were withheld from the issue thread');
    }
    for (const text of allIssueTexts(givenRun())) expect(text).not.toContain('withheld');
    for (const text of allIssueTexts(null)) expect(text).not.toContain('withheld');
  });

  it('a run with only an errorCode is "has details": never "- Failure: none recorded"', () => {
    const run = givenRun({ error: null, errorCode: 'adapter_exit_code' });
    for (const text of [description(run), inPlace(run)]) {
      expect(text).toContain(`- Failure: ${WITHHELD}`);
      expect(text).not.toContain('- Failure: none recorded');
    }
  });

  it('a run without details says "- Failure: none recorded"', () => {
    expect(description(givenRun())).toContain('- Failure: none recorded');
    expect(inPlace(null)).toContain('- Failure: none recorded');
  });

  it('never quotes a secret-bearing error or the error code in any issue text', () => {
    const run = givenRun({ error: SECRET_ERROR, errorCode: 'adapter_exit_code' });
    for (const text of allIssueTexts(run)) {
      expect(text).not.toContain('sk-test-secret');
      expect(text).not.toContain('Bearer');
      expect(text).not.toContain('adapter crashed');
      expect(text).not.toContain('adapter_exit_code');
    }
  });
});

describe('recovery issue (R57, R58)', () => {
  it('titles the recovery issue after the source identifier, or its title', () => {
    expect(recoveryIssueTitle({ identifier: 'PAP-7', title: 'Ship it' })).toBe('Recover stalled issue PAP-7');
    expect(recoveryIssueTitle({ identifier: null, title: 'Ship it' })).toBe('Recover stalled issue Ship it');
  });

  it('describes the source, the latest run and the required action line by line', () => {
    const text = description(givenRun({ id: 'run-42', agentId: 'agent-5', status: 'timed_out', errorCode: 'adapter_timed_out' }));
    expect(text.split('\n')).toEqual([
      'Paperclip exhausted automatic recovery for an assigned issue and created this explicit recovery task.',
      '',
      '## Source',
      '',
      '- Source issue: [PAP-7](/PAP/issues/PAP-7)',
      '- Previous source status: `in_progress`',
      '- Latest retry run: [`run-42`](/PAP/agents/agent-5/runs/run-42)',
      '- Latest retry status: `timed_out`',
      '- Detected invariant: `stranded_assigned_issue`',
      '- Retry reason: `issue_continuation_needed`',
      '- Failure: Latest retry failure details were withheld from the issue thread; inspect the linked run for evidence.',
      '',
      '## Ownership',
      '',
      '- Selected owner: the first invokable manager/creator/executive candidate with budget available.',
      '',
      '## Required Action',
      '',
      '- Inspect the latest run and source issue state.',
      '- Fix the runtime/adapter problem, reassign the source issue, or convert the source issue into a clear manual-review state.',
      '- When the source issue has a live execution path or has been intentionally resolved, mark this recovery issue done.',
    ]);
  });

  it('says none and unknown when there is no run, and links the source id without an identifier', () => {
    const text = recoveryIssueDescription({ issuePrefix: 'ACME', source: { id: 'issue-uuid', identifier: null }, previousStatus: 'todo', latestRun: null });
    expect(text).toContain('- Source issue: [issue-uuid](/ACME/issues/issue-uuid)');
    expect(text).toContain('- Previous source status: `todo`');
    expect(text).toContain('- Latest retry run: none');
    expect(text).toContain('- Latest retry status: `unknown`');
    expect(text).toContain('- Retry reason: `unknown`');
  });

  it('says unknown for a run without a retry reason', () => {
    expect(description(givenRun({ retryReason: null }))).toContain('- Retry reason: `unknown`');
  });
});

describe('escalation comments (R32, R60, R61)', () => {
  it('the sweep lead texts match the spec, with {W} when the run has details', () => {
    const failed = givenRun({ errorCode: 'process_lost' });
    expect(sweepEscalationLead('todo', null)).toBe(
      'Paperclip automatically retried dispatch for this assigned `todo` issue after a lost wake/run, but it still has no live execution path. Moving it to `blocked` so it is visible for intervention.',
    );
    expect(sweepEscalationLead('in_progress', failed)).toBe(
      'Paperclip automatically retried continuation for this assigned `in_progress` issue after its live execution disappeared, but it still has no live execution path. Latest retry failure details were withheld from the issue thread; inspect the linked run for evidence. Moving it to `blocked` so it is visible for intervention.',
    );
  });

  it('the immediate-path lead texts match R32, with the withheld sentence as {F}', () => {
    expect(immediateEscalationLead('todo', givenRun({ error: 'x' }))).toBe(
      'Paperclip automatically retried dispatch for this assigned `todo` issue during terminal run recovery, but it still has no live execution path. Latest retry failure details were withheld from the issue thread; inspect the linked run for evidence. Moving it to `blocked` so it is visible for intervention.',
    );
    expect(immediateEscalationLead('in_progress', givenRun())).toBe(
      'Paperclip automatically retried continuation for this assigned `in_progress` issue during terminal run recovery, but it still has no live execution path. Moving it to `blocked` so it is visible for intervention.',
    );
  });

  it('recovery lines link the recovery issue after a newline', () => {
    const lines = recoveryLines({ identifier: 'PAP-12' });
    expect(lines).toBe(
      '\n- Recovery issue: [PAP-12](/PAP/issues/PAP-12)\n- Next action: the recovery owner should either restore a live execution path or record the manual resolution, then mark the recovery issue done.',
    );
    expect(sweepEscalationLead('todo', null) + lines).toContain('Recovery issue: [PAP-12]');
  });

  it('says "none created" when no recovery owner qualifies (R61)', () => {
    expect(recoveryLines(null)).toBe(
      '\n- Recovery issue: none created because Paperclip could not find an invokable manager, creator, or executive owner with budget available.' +
        '\n- Next action: a board operator should assign an invokable recovery owner, fix the agent/runtime state, or record an intentional manual resolution.',
    );
  });
});

describe('in-place escalation of a recovery issue (R62)', () => {
  it('lists the recovery issue, run and guard line by line', () => {
    const text = inPlace(givenRun({ id: 'run-3', agentId: 'agent-2', status: 'failed', retryReason: null }));
    expect(text.split('\n')).toEqual([
      'Paperclip stopped automatic stranded-work recovery for this recovery issue.',
      '',
      '- Recovery issue: [PAP-9](/PAP/issues/PAP-9)',
      '- Previous status: `in_progress`',
      '- Latest run: [run-3](/PAP/agents/agent-2/runs/run-3)',
      '- Latest run status: `failed`',
      '- Retry reason: `none`',
      '- Failure: none recorded',
      '- Guard: recovery issues do not create nested `stranded_issue_recovery` issues.',
      '',
      'Next action: the current recovery owner should inspect the failed run evidence, restore a live execution path or record the manual resolution, then move this recovery issue out of `blocked`.',
    ]);
  });

  it('says none and unknown without a run', () => {
    const text = inPlace(null);
    expect(text).toContain('- Latest run: none');
    expect(text).toContain('- Latest run status: `unknown`');
    expect(text).toContain('- Retry reason: `none`');
  });
});

describe('orphan blocker comment (R55, R60)', () => {
  it('links the issues the blocker blocks, prefixed by their own identifier', () => {
    expect(issueLink('PFX-2')).toBe('[PFX-2](/PFX/issues/PFX-2)');
    expect(orphanBlockerComment(['PAP-2', 'ACME-3', 'PAP-2']).split('\n')).toEqual([
      '## Assigned Orphan Blocker',
      '',
      'Paperclip found this issue is blocking [PAP-2](/PAP/issues/PAP-2), [ACME-3](/ACME/issues/ACME-3) but had no assignee, so no heartbeat could pick it up.',
      '',
      '- Assigned it back to the agent that created the blocker.',
      '- Next action: resolve this blocker or reassign it to the right owner.',
    ]);
  });

  it('caps the links at 5 distinct issues', () => {
    const text = orphanBlockerComment(['PAP-1', 'PAP-2', 'PAP-2', 'PAP-3', 'PAP-4', 'PAP-5', 'PAP-6', 'PAP-7']);
    expect(text.match(/\]\(\/PAP\/issues\//g)).toHaveLength(5);
    expect(text).toContain('[PAP-5](/PAP/issues/PAP-5)');
    expect(text).not.toContain('PAP-6');
  });

  it('says "another open issue" when it blocks nothing with an identifier', () => {
    expect(orphanBlockerComment([])).toContain('Paperclip found this issue is blocking another open issue but had no assignee');
  });
});

describe('bounded liveness continuation (R46)', () => {
  it('writes the exhausted comment line by line', () => {
    const text = livenessExhaustedComment({ livenessState: 'plan_only', attemptsUsed: 2, maxAttempts: 2, livenessReason: 'Run described a plan' });
    expect(text.startsWith(LIVENESS_EXHAUSTED_PREFIX)).toBe(true);
    expect(text.split('\n')).toEqual([
      'Bounded liveness continuation exhausted',
      '',
      '- Last liveness state: `plan_only`',
      '- Attempts used: 2/2',
      '- Reason: Run described a plan',
      '- Next action: a human or manager should inspect the run and either clarify the task, mark it blocked, or assign a concrete follow-up.',
    ]);
  });

  it('falls back to a default reason', () => {
    expect(livenessExhaustedComment({ livenessState: 'empty_response', attemptsUsed: 2, maxAttempts: 2, livenessReason: null }))
      .toContain('- Reason: Run ended without concrete progress');
  });

  it('the default continuation instruction is the spec sentence', () => {
    expect(DEFAULT_CONTINUATION_INSTRUCTION).toBe(
      'The previous run ended without concrete progress. Take the first concrete action now or mark the issue blocked with a specific unblock request.',
    );
  });
});

describe('run and wake event texts (R18–R46)', () => {
  it('reproduces the spec sentences', () => {
    expect(recoveryEventTexts.detached(4242)).toBe('Lost in-memory process handle, but child pid 4242 is still alive');
    expect(recoveryEventTexts.retryingOnce).toBe('; retrying once');
    expect(recoveryEventTexts.queuedRetry('run-9')).toBe('; queued retry run-9');
    expect(recoveryEventTexts.processLossRetryQueued).toBe('Queued automatic retry after orphaned child process was confirmed dead');
    expect(recoveryEventTexts.scheduledRetry(1, 4, '2026-01-01T00:02:00.000Z')).toBe('Scheduled bounded retry 1/4 for 2026-01-01T00:02:00.000Z');
    expect(recoveryEventTexts.retryExhausted(4)).toBe('Bounded retry exhausted after 4 scheduled attempts; no further automatic retry will be queued');
    expect(recoveryEventTexts.scheduledRetryPromoted).toBe('Scheduled retry became due and was promoted to the queued run pool');
    expect(recoveryEventTexts.scheduledRetryReassigned).toBe('Cancelled because the issue was reassigned before the scheduled retry became due');
    expect(recoveryEventTexts.scheduledRetryIssueCancelled).toBe('Cancelled because the issue was cancelled before the scheduled retry became due');
    expect(recoveryEventTexts.deferredNotInvokable).toBe('Deferred wake could not be promoted: agent is not invokable');
    expect(recoveryEventTexts.deferredSuppressedByHold).toBe('Deferred wake suppressed by active subtree pause hold');
    expect(recoveryEventTexts.continuationExhaustedSuffix).toBe('; continuation attempts exhausted');
  });
});
