/** R71's admission of a wake: the agent gates, the pause hold (R67), the issue's execution run and blockers (R75). */
import { describe, expect, it } from 'vitest';
import {
  admitByAgentGates,
  admitIssueWake,
  admitUnboundWake,
  admitUnderPauseHold,
  blockerGateApplies,
  interactionCommentId,
  type AgentGateFacts,
  type AgentGatePlan,
  type IssueWakeFacts,
  type IssueWakePlan,
  type UnboundWakePlan,
  type AgentLiveRunFacts,
} from '../../src/domain/wakeAdmission.ts';
import { wakeTexts } from '../../src/domain/texts.ts';

const agentFacts = (over: Partial<AgentGateFacts> = {}): AgentGateFacts => ({
  source: 'on_demand',
  agentStatus: 'idle',
  policy: { enabled: false, wakeOnDemand: true },
  budgetBlock: null,
  ...over,
});

describe('the agent gates (R71 steps 3–5)', () => {
  const cases: Array<[string, Partial<AgentGateFacts>, AgentGatePlan]> = [
    ['admits an on-demand wake for an idle agent with the default policy', {}, { kind: 'admit' }],
    [
      'refuses a budget-blocked agent with the block reason, before looking at its status (R74)',
      { agentStatus: 'paused', budgetBlock: { reason: 'Agent is paused because its budget hard-stop was reached.', scope: 'agent' } },
      { kind: 'refuse_budget_blocked', reason: 'budget.blocked', message: 'Agent is paused because its budget hard-stop was reached.', scope: 'agent' },
    ],
    ['refuses a paused agent as not invokable', { agentStatus: 'paused' }, { kind: 'refuse_not_invokable', agentStatus: 'paused' }],
    ['refuses a terminated agent as not invokable', { agentStatus: 'terminated' }, { kind: 'refuse_not_invokable', agentStatus: 'terminated' }],
    ['refuses an agent pending approval as not invokable', { agentStatus: 'pending_approval' }, { kind: 'refuse_not_invokable', agentStatus: 'pending_approval' }],
    [
      'refuses a not-invokable agent before looking at its heartbeat policy',
      { agentStatus: 'terminated', source: 'timer', policy: { enabled: false, wakeOnDemand: false } },
      { kind: 'refuse_not_invokable', agentStatus: 'terminated' },
    ],
    [
      'skips a timer wake when the heartbeat is disabled',
      { source: 'timer', policy: { enabled: false, wakeOnDemand: true } },
      { kind: 'skip', reason: 'heartbeat.disabled', message: wakeTexts.timerDisabled },
    ],
    ['admits a timer wake when the heartbeat is enabled, whatever wakeOnDemand says', { source: 'timer', policy: { enabled: true, wakeOnDemand: false } }, { kind: 'admit' }],
    ...(['on_demand', 'assignment', 'automation'] as const).map(
      (source): [string, Partial<AgentGateFacts>, AgentGatePlan] => [
        `skips a ${source} wake when wakeOnDemand is off`,
        { source, policy: { enabled: true, wakeOnDemand: false } },
        { kind: 'skip', reason: 'heartbeat.wakeOnDemand.disabled', message: wakeTexts.onDemandDisabled },
      ],
    ),
    ['admits an assignment wake while the timer heartbeat is disabled', { source: 'assignment', policy: { enabled: false, wakeOnDemand: true } }, { kind: 'admit' }],
  ];
  it.each(cases)('%s', (_title, over, plan) => {
    expect(admitByAgentGates(agentFacts(over))).toEqual(plan);
  });
});

describe('the pause-hold gate (R67)', () => {
  it('admits a wake for an issue no pause hold covers, without marking it', () => {
    expect(admitUnderPauseHold({ heldByPause: false, interactionCommentVerified: false })).toEqual({ kind: 'admit' });
  });

  it('skips a wake for a held issue with the hold reason and message', () => {
    expect(admitUnderPauseHold({ heldByPause: true, interactionCommentVerified: false })).toEqual({
      kind: 'skip',
      reason: 'issue_tree_hold_active',
      message: wakeTexts.pauseHoldActive,
    });
  });

  it('lets a verified comment interaction through a hold, marked as a tree-hold interaction', () => {
    expect(admitUnderPauseHold({ heldByPause: true, interactionCommentVerified: true })).toEqual({ kind: 'admit_interaction' });
  });

  const commentCases: Array<[string, string | null, Record<string, unknown>, string | null]> = [
    ['an issue_commented wake names its wake comment', 'issue_commented', { wakeCommentId: 'c1', commentId: 'c2' }, 'c1'],
    ['an issue_comment_mentioned wake falls back to commentId', 'issue_comment_mentioned', { commentId: 'c2' }, 'c2'],
    ['an issue_reopened_via_comment wake with a blank wake comment falls back to commentId', 'issue_reopened_via_comment', { wakeCommentId: '  ', commentId: 'c2' }, 'c2'],
    ['an interaction wake without a comment has nothing to verify', 'issue_commented', {}, null],
    ['an assignment wake with a comment is not an interaction', 'issue_assigned', { wakeCommentId: 'c1' }, null],
    ['a wake with no reason is not an interaction', null, { commentId: 'c1' }, null],
  ];
  it.each(commentCases)('%s', (_title, reason, context, commentId) => {
    expect(interactionCommentId(reason, context)).toBe(commentId);
  });
});

const issueFacts = (over: Partial<IssueWakeFacts> = {}): IssueWakeFacts => ({
  issueFound: true,
  executionRunId: null,
  activeRun: null,
  requestingAgentName: 'Builder',
  wakeReason: 'issue_assigned',
  unresolvedBlockerIds: [],
  ...over,
});

describe('an issue-bound wake under the issue lock (R71 step 6)', () => {
  const cases: Array<[string, Partial<IssueWakeFacts>, IssueWakePlan]> = [
    [
      'skips a wake whose issue is missing',
      { issueFound: false },
      { kind: 'skip', reason: 'issue_execution_issue_not_found', message: wakeTexts.issueNotFound },
    ],
    ['dispatches assigned todo work with no prior run as a normal assignment wake', {}, { kind: 'create_run' }],
    [
      'skips a wake for an issue with unresolved blockers and no live run (R75)',
      { unresolvedBlockerIds: ['b1', 'b2'] },
      { kind: 'skip', reason: 'issue_dependencies_blocked', message: wakeTexts.dependenciesBlocked, unresolvedBlockerIds: ['b1', 'b2'] },
    ],
    ['lets a comment interaction start a run past unresolved blockers', { wakeReason: 'issue_commented', unresolvedBlockerIds: ['b1'] }, { kind: 'create_run' }],
    [
      'coalesces into the lock holder run of the same agent name',
      { executionRunId: 'r1', activeRun: { id: 'r1', status: 'queued', agentName: 'Builder' } },
      { kind: 'coalesce', into: 'r1', reason: 'issue_execution_same_name', stampLock: false },
    ],
    [
      'coalesces by name key: case and surrounding spaces do not matter',
      { executionRunId: 'r1', activeRun: { id: 'r1', status: 'running', agentName: '  builder ' } },
      { kind: 'coalesce', into: 'r1', reason: 'issue_execution_same_name', stampLock: false },
    ],
    [
      'stamps the lock on a live run found without it, then coalesces',
      { executionRunId: null, activeRun: { id: 'r1', status: 'scheduled_retry', agentName: 'Builder' } },
      { kind: 'coalesce', into: 'r1', reason: 'issue_execution_same_name', stampLock: true },
    ],
    [
      'ignores blockers when a live run already holds the issue',
      { executionRunId: 'r1', activeRun: { id: 'r1', status: 'running', agentName: 'Builder' }, unresolvedBlockerIds: ['b1'] },
      { kind: 'coalesce', into: 'r1', reason: 'issue_execution_same_name', stampLock: false },
    ],
    [
      'defers behind another agent’s execution run',
      { executionRunId: 'r1', activeRun: { id: 'r1', status: 'running', agentName: 'Reviewer' } },
      { kind: 'defer', behind: 'r1', stampLock: false },
    ],
    [
      'defers behind a run whose agent no longer exists, stamping the lock it lacked',
      { executionRunId: 'old', activeRun: { id: 'r1', status: 'queued', agentName: null } },
      { kind: 'defer', behind: 'r1', stampLock: true },
    ],
    [
      'defers a comment against a running same-agent run: a follow-up is needed',
      { wakeReason: 'issue_commented', executionRunId: 'r1', activeRun: { id: 'r1', status: 'running', agentName: 'Builder' } },
      { kind: 'defer', behind: 'r1', stampLock: false },
    ],
    [
      'coalesces a comment into a queued same-agent run: it has not started, so it will see the comment',
      { wakeReason: 'issue_comment_mentioned', executionRunId: 'r1', activeRun: { id: 'r1', status: 'queued', agentName: 'Builder' } },
      { kind: 'coalesce', into: 'r1', reason: 'issue_execution_same_name', stampLock: false },
    ],
  ];
  it.each(cases)('%s', (_title, over, plan) => {
    expect(admitIssueWake(issueFacts(over))).toEqual(plan);
  });

  it('reads blockers only in front of a new run, and never for a comment interaction', () => {
    expect(blockerGateApplies({ hasActiveRun: false, wakeReason: 'issue_assigned' })).toBe(true);
    expect(blockerGateApplies({ hasActiveRun: false, wakeReason: null })).toBe(true);
    expect(blockerGateApplies({ hasActiveRun: true, wakeReason: 'issue_assigned' })).toBe(false);
    expect(blockerGateApplies({ hasActiveRun: false, wakeReason: 'issue_reopened_via_comment' })).toBe(false);
  });
});

describe('a wake with no issue (R71 step 7)', () => {
  const run = (id: string, status: string, taskKey: string | null = 'k'): AgentLiveRunFacts => ({ id, status, taskKey });
  const cases: Array<[string, AgentLiveRunFacts[], boolean, UnboundWakePlan]> = [
    ['creates a run when the agent has no live run', [], false, { kind: 'create_run' }],
    ['creates a run when the live runs belong to other task scopes', [run('a', 'queued', 'other'), run('b', 'running', null)], false, { kind: 'create_run' }],
    ['coalesces into the same-scope queued run before a scheduled retry or a running one', [run('r', 'running'), run('s', 'scheduled_retry'), run('q', 'queued')], false, { kind: 'coalesce', into: 'q' }],
    ['coalesces into the same-scope scheduled retry before a running one', [run('r', 'running'), run('s', 'scheduled_retry')], false, { kind: 'coalesce', into: 's' }],
    ['coalesces into the oldest same-scope queued run', [run('q1', 'queued'), run('q2', 'queued')], false, { kind: 'coalesce', into: 'q1' }],
    ['coalesces into the same-scope running run when nothing waits', [run('r', 'running')], false, { kind: 'coalesce', into: 'r' }],
    ['creates a follow-up run instead of merging into a running one', [run('r', 'running')], true, { kind: 'create_run' }],
    ['still merges a follow-up into a waiting run', [run('r', 'running'), run('q', 'queued')], true, { kind: 'coalesce', into: 'q' }],
  ];
  it.each(cases)('%s', (_title, liveRuns, followUpNeeded, plan) => {
    expect(admitUnboundWake({ taskKey: 'k', liveRuns, followUpNeeded })).toEqual(plan);
  });

  it('treats a wake with no task scope as the scope of live runs with none', () => {
    expect(admitUnboundWake({ taskKey: null, liveRuns: [run('a', 'queued', 'k'), run('b', 'queued', null)], followUpNeeded: false })).toEqual({ kind: 'coalesce', into: 'b' });
  });
});
