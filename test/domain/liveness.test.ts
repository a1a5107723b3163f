/** R42–R45: run liveness classification, actionability and next-action extraction. */
import { describe, expect, it } from 'vitest';
import {
  actionabilityOf,
  classifyRunLiveness,
  extractNextAction,
  livenessReasons,
  looksPlanningOnly,
  truncateReason,
  type LivenessEvidence,
  type LivenessInput,
} from '../../src/domain/liveness.ts';

const evidenceAt = new Date('2026-03-19T00:04:00.000Z');

/** A succeeded run on an in_progress issue titled like the reference fixture, with no evidence and no output. */
function givenRun(
  overrides: Partial<Omit<LivenessInput, 'evidence'>> & { evidence?: Partial<LivenessEvidence>; summary?: string } = {},
): LivenessInput {
  const { evidence, summary, ...rest } = overrides;
  return {
    runStatus: 'succeeded',
    errorCode: null,
    issue: { status: 'in_progress', title: 'Recover stranded assigned work', description: null },
    recentComments: [],
    resultJson: summary === undefined ? null : { summary },
    stdoutExcerpt: null,
    stderrExcerpt: null,
    error: null,
    continuationSummary: null,
    ...rest,
    evidence: {
      issueComments: 0, documentRevisions: 0, planRevisions: 0, workProducts: 0,
      workspaceOperations: 0, activity: 0, toolEvents: 0, lastEvidenceAt: null,
      ...evidence,
    },
  };
}

const issue = (status: string, title = 'Recover stranded assigned work', description: string | null = null) => ({ status, title, description });

describe('classifyRunLiveness (R45)', () => {
  it('classifies a runnable plan without evidence as plan_only', () => {
    const summary = 'I will inspect the repo next and then implement the fix.';
    expect(classifyRunLiveness(givenRun({ summary }))).toEqual({
      livenessState: 'plan_only',
      livenessReason: livenessReasons.runnablePlan,
      nextAction: summary,
      lastUsefulActionAt: null,
    });
  });

  it('classifies a completion claim without evidence as needs_followup', () => {
    expect(classifyRunLiveness(givenRun({ summary: 'Recovered stranded heartbeat work.' }))).toEqual({
      livenessState: 'needs_followup',
      livenessReason: livenessReasons.outputWithoutEvidence,
      nextAction: null,
      lastUsefulActionAt: null,
    });
  });

  it('treats a plan document revision as progress whatever the summary says (R47)', () => {
    const classification = classifyRunLiveness(givenRun({
      summary: 'Plan:\n- Inspect files\n- Implement fix',
      evidence: { documentRevisions: 1, planRevisions: 1, lastEvidenceAt: evidenceAt },
    }));
    expect(classification).toMatchObject({
      livenessState: 'advanced',
      livenessReason: 'Run produced concrete action evidence: 1 document revision (1 plan revision)',
      lastUsefulActionAt: evidenceAt,
    });
  });

  it('marks every non-succeeded run failed, naming the error code when there is one', () => {
    const lost = classifyRunLiveness(givenRun({
      runStatus: 'failed', errorCode: 'process_lost', summary: 'I will inspect the repo.',
      evidence: { issueComments: 2, lastEvidenceAt: evidenceAt },
    }));
    expect(lost.livenessState).toBe('failed');
    expect(lost.livenessReason).toBe('Run ended with failed (process_lost)');
    expect(lost.lastUsefulActionAt).toBeNull();
    expect(classifyRunLiveness(givenRun({ runStatus: 'cancelled' })).livenessReason).toBe('Run ended with cancelled');
    expect(classifyRunLiveness(givenRun({ runStatus: 'timed_out', errorCode: 'timeout' })).livenessReason).toBe('Run ended with timed_out (timeout)');
  });

  it('marks a run on a done or cancelled issue completed', () => {
    const done = classifyRunLiveness(givenRun({ issue: issue('done'), evidence: { issueComments: 1, lastEvidenceAt: evidenceAt } }));
    expect(done).toMatchObject({ livenessState: 'completed', livenessReason: 'Issue is done', lastUsefulActionAt: evidenceAt });
    const cancelled = classifyRunLiveness(givenRun({ issue: issue('cancelled') }));
    expect(cancelled).toMatchObject({ livenessState: 'completed', livenessReason: 'Issue is cancelled', lastUsefulActionAt: null });
  });

  it('marks a run that needs credentials blocked', () => {
    const classification = classifyRunLiveness(givenRun({ summary: "I can't proceed: I need an API key for the staging account" }));
    expect(classification).toMatchObject({ livenessState: 'blocked', livenessReason: livenessReasons.externalBlocker, lastUsefulActionAt: null });
  });

  it('marks a run blocked when the issue is blocked or approval is required', () => {
    expect(classifyRunLiveness(givenRun({ issue: issue('blocked') }))).toMatchObject({ livenessState: 'blocked', livenessReason: 'Issue status is blocked' });
    expect(classifyRunLiveness(givenRun({ summary: 'The migration requires board approval before I touch the schema.' })))
      .toMatchObject({ livenessState: 'blocked', livenessReason: livenessReasons.approvalRequired });
  });

  it('lets a declared blocker win over concrete evidence and keeps the evidence time', () => {
    const classification = classifyRunLiveness(givenRun({
      recentComments: ['Waiting on the customer for the staging credentials.'],
      evidence: { issueComments: 1, lastEvidenceAt: evidenceAt },
    }));
    expect(classification).toMatchObject({ livenessState: 'blocked', lastUsefulActionAt: evidenceAt });
  });

  it('classifies a run with no output and no evidence as empty_response', () => {
    expect(classifyRunLiveness(givenRun())).toEqual({
      livenessState: 'empty_response',
      livenessReason: 'Run succeeded without useful output or concrete action evidence',
      nextAction: null,
      lastUsefulActionAt: null,
    });
  });

  it('treats transcript noise as no output (R44)', () => {
    const stdout = '$ git status\nexit_code: 0\n{"type":"tool_use","name":"bash"}\n\nls -la\ntool_result: ok';
    expect(classifyRunLiveness(givenRun({ stdoutExcerpt: stdout, resultJson: { stdout, summary: '   ' } })).livenessState).toBe('empty_response');
  });

  it('does not count workspace operations as concrete progress (R43)', () => {
    const setupOnly = { workspaceOperations: 3, lastEvidenceAt: evidenceAt };
    expect(classifyRunLiveness(givenRun({ evidence: setupOnly })).livenessState).toBe('empty_response');
    expect(classifyRunLiveness(givenRun({ evidence: setupOnly, summary: 'Let me check the worker logs.' })).livenessState).toBe('plan_only');
  });

  it('lists every kind of concrete evidence with singular and plural wording', () => {
    const classification = classifyRunLiveness(givenRun({
      evidence: { issueComments: 2, documentRevisions: 3, workProducts: 1, workspaceOperations: 4, activity: 1, toolEvents: 5, lastEvidenceAt: evidenceAt },
    }));
    expect(classification.livenessState).toBe('advanced');
    expect(classification.livenessReason).toBe(
      'Run produced concrete action evidence: 2 issue comments, 3 document revisions, 1 work product, 1 activity log entry, 5 tool events',
    );
    expect(classifyRunLiveness(givenRun({ evidence: { issueComments: 1, activity: 2, toolEvents: 1 } })).livenessReason).toBe(
      'Run produced concrete action evidence: 1 issue comment, 2 activity log entries, 1 tool event',
    );
  });

  it('exempts planning-type issues from plan_only when the run produced output', () => {
    const summary = 'I will review the three vendors and then write up a comparison.';
    expect(classifyRunLiveness(givenRun({ issue: issue('in_progress', 'Research queue vendors'), summary })))
      .toMatchObject({ livenessState: 'advanced', livenessReason: livenessReasons.planExemptIssue, lastUsefulActionAt: null });
    const asksForProposal = issue('todo', 'Queue vendors', 'Please draft a short proposal comparing the vendors.');
    expect(classifyRunLiveness(givenRun({ issue: asksForProposal, summary })).livenessState).toBe('advanced');
    expect(classifyRunLiveness(givenRun({ issue: issue('in_progress', 'Queue vendors'), summary })).livenessState).toBe('plan_only');
  });

  it('still reports empty_response for a planning issue when the run said nothing', () => {
    expect(classifyRunLiveness(givenRun({ issue: issue('in_progress', 'Write the incident report') })).livenessState).toBe('empty_response');
  });

  it('sends plans that need manager review or are unclear to needs_followup', () => {
    expect(classifyRunLiveness(givenRun({ summary: 'Next step: escalate the production deploy to the release manager.' })))
      .toMatchObject({ livenessState: 'needs_followup', livenessReason: livenessReasons.managerReviewPlan, nextAction: 'escalate the production deploy to the release manager.' });
    expect(classifyRunLiveness(givenRun({ summary: 'Next: wait for the nightly batch.' })))
      .toMatchObject({ livenessState: 'needs_followup', livenessReason: livenessReasons.unclearPlan, nextAction: 'wait for the nightly batch.' });
  });

  it('judges actionability on high-signal text and falls back to raw output (R44)', () => {
    const raw = { stderrExcerpt: 'warning: waiting on credentials for the mirror' };
    expect(classifyRunLiveness(givenRun({ ...raw, recentComments: ['Next step: run the tests'] })).livenessState).toBe('plan_only');
    expect(classifyRunLiveness(givenRun(raw)).livenessState).toBe('blocked');
  });

  it('classifies a run that is not issue-bound on its output alone', () => {
    expect(classifyRunLiveness(givenRun({ issue: null, summary: "I'll start with the failing test." })).livenessState).toBe('plan_only');
    expect(classifyRunLiveness(givenRun({ issue: null })).livenessState).toBe('empty_response');
  });

  it('truncates long reasons and next actions to 500 characters (R42)', () => {
    const classification = classifyRunLiveness(givenRun({ runStatus: 'failed', errorCode: 'x'.repeat(600) }));
    expect(classification.livenessReason).toHaveLength(500);
    expect(classification.livenessReason.endsWith('...')).toBe(true);
    const next = classifyRunLiveness(givenRun({ summary: `Next step: run the tests ${'again '.repeat(120)}` })).nextAction;
    expect(next).toHaveLength(500);
    expect(truncateReason('a'.repeat(500))).toBe('a'.repeat(500));
    expect(truncateReason('a'.repeat(501))).toBe(`${'a'.repeat(497)}...`);
  });

});

describe('actionabilityOf (R45)', () => {
  it('returns unknown for empty text and for text with no verb or blocker', () => {
    expect(actionabilityOf('')).toBe('unknown');
    expect(actionabilityOf('  \n ')).toBe('unknown');
    expect(actionabilityOf('Recovered stranded heartbeat work.')).toBe('unknown');
  });

  it('lets a negated blocker override blocker wording', () => {
    expect(actionabilityOf('Not blocked on credentials any more; I will run the tests.')).toBe('runnable');
    expect(actionabilityOf('Unblocked now that the API key arrived. Continue the migration.')).toBe('runnable');
    expect(actionabilityOf('No blockers, waiting on the token refresh.')).toBe('unknown');
  });

  it('recognises approval wording', () => {
    expect(actionabilityOf('Approval required before merging.')).toBe('approval_required');
    expect(actionabilityOf('This needs sign-off and approval from finance.')).toBe('approval_required');
    expect(actionabilityOf('Waiting on the operator to grant approval.')).toBe('approval_required');
    expect(actionabilityOf('Change is pending approval.')).toBe('approval_required');
    expect(actionabilityOf('Needs human approval.')).toBe('approval_required');
  });

  it('recognises external blockers, near or far from the credential word', () => {
    expect(actionabilityOf('Blocked by missing credentials for the registry.')).toBe('blocked_external');
    expect(actionabilityOf('Unable to proceed until the customer sends clarification.')).toBe('blocked_external');
    expect(actionabilityOf('I need an API key for the staging account.')).toBe('blocked_external');
    expect(actionabilityOf(`The staging API key expired.\n${'Everything else checked out fine. '.repeat(5)}\nBlocked.`)).toBe('blocked_external');
    expect(actionabilityOf(`We need ${'many many '.repeat(15)}access.`)).toBe('unknown');
  });

  it('recognises manager-review wording', () => {
    expect(actionabilityOf('This change needs a security review first.')).toBe('manager_review');
    expect(actionabilityOf('Escalate to the CTO.')).toBe('manager_review');
    expect(actionabilityOf('Next is the production deploy.')).toBe('manager_review');
    expect(actionabilityOf('The fix involves rotating secrets in vault.')).toBe('manager_review');
    expect(actionabilityOf('That means deleting production data.')).toBe('manager_review');
    expect(actionabilityOf('The cloud bill needs budget approval')).toBe('approval_required');
    expect(actionabilityOf('Get budget approval from the board.')).toBe('manager_review');
  });

  it('recognises runnable commands and action verbs', () => {
    expect(actionabilityOf('Rerun vitest after the schema change.')).toBe('runnable');
    expect(actionabilityOf('Execute the tests again.')).toBe('runnable');
    expect(actionabilityOf('Verify the retry budget.')).toBe('runnable');
    expect(actionabilityOf('I will work on the parser.')).toBe('runnable');
  });
});

describe('looksPlanningOnly (R45)', () => {
  it('detects first-person intent followed by an action verb', () => {
    for (const text of [
      "I'll inspect the logs.", 'I will check the queue.', 'I am going to review the diff.', "I'm going to open the config.",
      'Let me look at the worker.', 'I need to fix the import.', 'Next, investigate the timeout.', 'My next step is to analyse the trace.',
      'The next step is implement the retry.', 'I will first read the spec.', 'I’ll start with the tests.',
    ]) expect(looksPlanningOnly(text), text).toBe(true);
  });

  it('detects labelled plan lines', () => {
    expect(looksPlanningOnly('Done so far.\nNext steps:\n- wire the API')).toBe(true);
    expect(looksPlanningOnly('Plan:\n1. a\n2. b')).toBe(true);
    expect(looksPlanningOnly('- **Next action:** ship it')).toBe(true);
    expect(looksPlanningOnly('Next: deploy')).toBe(true);
  });

  it('ignores reports of finished work and intent without an action verb', () => {
    expect(looksPlanningOnly('Recovered stranded heartbeat work.')).toBe(false);
    expect(looksPlanningOnly('I will be on leave tomorrow.')).toBe(false);
    expect(looksPlanningOnly('The plan: none')).toBe(false);
  });
});

describe('extractNextAction (R45)', () => {
  it('takes the text of a labelled "Next step:" line', () => {
    expect(extractNextAction(givenRun({ summary: 'Patched the parser.\nNext step: run the tests' }))).toBe('run the tests');
  });

  it('takes the following non-noise line after a bare label', () => {
    expect(extractNextAction(givenRun({ summary: 'Next steps:\n\n- Run the migration\n- Verify counts' }))).toBe('Run the migration');
    expect(extractNextAction(givenRun({ stdoutExcerpt: 'Next:\n$ git status\nexit_code: 0\nRerun the flaky suite' }))).toBe('Rerun the flaky suite');
  });

  it('prefers resultJson.nextAction over the final text, but comments over both', () => {
    const resultJson = { summary: 'Next step: run lint', nextAction: 'Apply the migration to staging' };
    expect(extractNextAction(givenRun({ resultJson }))).toBe('Apply the migration to staging');
    expect(extractNextAction(givenRun({ resultJson, recentComments: ['Looked around.', 'Next: write the changelog'] }))).toBe('write the changelog');
  });

  it('falls back to the first planning-only sentence, then the continuation summary, then raw output', () => {
    expect(extractNextAction(givenRun({ summary: 'Fixed the parser. I will update the docs next.' }))).toBe('I will update the docs next.');
    expect(extractNextAction(givenRun({ continuationSummary: 'Context carried over.\nNext action: check the retry queue', stdoutExcerpt: 'Next: ignored' })))
      .toBe('check the retry queue');
    expect(extractNextAction(givenRun({ stdoutExcerpt: 'npm test\nLet me check the fixtures.' }))).toBe('Let me check the fixtures.');
  });

  it('returns null when nothing names a next action', () => {
    expect(extractNextAction(givenRun({ summary: 'Recovered stranded heartbeat work.\nPlan: none needed' }))).toBeNull();
    expect(extractNextAction(givenRun())).toBeNull();
  });
});
