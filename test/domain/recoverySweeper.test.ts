/** R68's sweeper decisions: which sweeps a pass runs, what a request may say, when to continue as new, what Temporal UI shows. */
import { describe, expect, it } from 'vitest';
import {
  historyBudgetReached,
  PERIODIC_REAP_STALE_THRESHOLD_MS,
  periodicPlan,
  planForRequests,
  sweepKindsOf,
  sweepNowRequestProblem,
  SWEEPER_HISTORY_BUDGET,
  type RecoverySweeperStatus,
} from '../../src/domain/recoverySweeper.ts';
import { recoverySweeperTexts } from '../../src/domain/texts.ts';

describe('a pass for the requests waiting when it starts', () => {
  it('runs the whole chain with the periodic threshold when nothing is asked', () => {
    expect(planForRequests([undefined], [])).toEqual({ trigger: 'operator', sweeps: ['reap', 'reconcile'], staleThresholdMs: PERIODIC_REAP_STALE_THRESHOLD_MS });
  });

  it('serves every waiting request: the halves any asked for, in R68 order, and the smallest threshold', () => {
    expect(planForRequests([{ sweeps: ['reconcile'] }, { sweeps: ['reap'], staleThresholdMs: 60_000 }], [])).toEqual({ trigger: 'operator', sweeps: ['reap', 'reconcile'], staleThresholdMs: 60_000 });
  });

  it('is a startup pass when a starting Vigil is among the requests (R68: no staleness threshold)', () => {
    expect(planForRequests([{ sweeps: ['reap'] }, { staleThresholdMs: 0, trigger: 'startup' }], [])).toEqual({ trigger: 'startup', sweeps: ['reap', 'reconcile'], staleThresholdMs: 0 });
  });

  it('leaves paused halves to an operator: a startup pass skips them, an operator request runs them', () => {
    expect(planForRequests([{ staleThresholdMs: 0, trigger: 'startup' }], ['reconcile'])).toMatchObject({ sweeps: ['reap'] });
    expect(planForRequests([{ trigger: 'startup' }], ['reap', 'reconcile'])).toMatchObject({ sweeps: [] });
    expect(planForRequests([{ trigger: 'startup' }, { sweeps: ['reconcile'] }], ['reap', 'reconcile'])).toMatchObject({ trigger: 'startup', sweeps: ['reconcile'] });
    expect(planForRequests([{}], ['reap', 'reconcile'])).toMatchObject({ sweeps: ['reap', 'reconcile'] });
  });
});

describe('the periodic pass', () => {
  it('runs the halves that are not paused, and nothing when both are', () => {
    expect(periodicPlan([])).toEqual({ trigger: 'periodic', sweeps: ['reap', 'reconcile'], staleThresholdMs: 300_000 });
    expect(periodicPlan(['reap'])).toMatchObject({ sweeps: ['reconcile'] });
    expect(periodicPlan(['reconcile', 'reap'])).toBeNull();
  });

  it('reads a pause or resume selection as both halves when it names none, and drops unknown ones', () => {
    expect(sweepKindsOf(undefined)).toEqual(['reap', 'reconcile']);
    expect(sweepKindsOf({})).toEqual(['reap', 'reconcile']);
    expect(sweepKindsOf({ sweeps: ['reconcile', 'bogus' as never] })).toEqual(['reconcile']);
  });
});

describe('a sweepNow request', () => {
  it('may be missing or name any subset of the fields', () => {
    expect(sweepNowRequestProblem(undefined)).toBeNull();
    expect(sweepNowRequestProblem({})).toBeNull();
    expect(sweepNowRequestProblem({ sweeps: ['reap'], staleThresholdMs: 0, trigger: 'startup' })).toBeNull();
  });

  it('is refused with a sentence naming what is wrong', () => {
    expect(sweepNowRequestProblem({ sweeps: 'reap' as never })).toBe('sweeps must be a list of reap, reconcile');
    expect(sweepNowRequestProblem({ staleThresholdMs: -1 })).toBe('staleThresholdMs must be a non-negative integer');
    expect(sweepNowRequestProblem({ trigger: 'periodic' as never })).toBe('trigger must be startup or operator');
    expect(sweepNowRequestProblem({ companyId: 'x' } as never)).toBe('sweepNow does not know companyId');
    expect(sweepNowRequestProblem([] as never)).toMatch(/^sweepNow takes an object/);
  });
});

describe('continue-as-new', () => {
  it('is due at the event or the byte budget, whichever comes first', () => {
    expect(historyBudgetReached({ historyLength: 4_095, historySize: 1_000 }, SWEEPER_HISTORY_BUDGET)).toBe(false);
    expect(historyBudgetReached({ historyLength: 4_096, historySize: 1_000 }, SWEEPER_HISTORY_BUDGET)).toBe(true);
    expect(historyBudgetReached({ historyLength: 10, historySize: 4 * 1024 * 1024 }, SWEEPER_HISTORY_BUDGET)).toBe(true);
  });
});

describe('what Temporal UI shows as the current details', () => {
  const status: RecoverySweeperStatus = {
    intervalMs: 30_000,
    paused: ['reconcile'],
    nextDueAt: '2026-01-01T00:00:30.000Z',
    passes: { periodic: 12, startup: 1, operator: 2 },
    execution: 3,
    lastPass: { trigger: 'periodic', sweeps: ['reap'], startedAt: '2026-01-01T00:00:00.000Z', durationMs: 41, counts: { reaped: 2, promotedRetries: 0 }, failedSteps: [] },
  };

  it('says the interval, what is paused, when the next pass is due, the last pass and the counters', () => {
    expect(recoverySweeperTexts.currentDetails(status)).toBe(
      [
        '**Every 30 s** · **paused: reconcile** · next pass 2026-01-01T00:00:30.000Z',
        'Last pass (periodic, reap) at 2026-01-01T00:00:00.000Z, 41 ms: reaped 2',
        'Passes: 12 periodic · 1 at startup · 2 on demand · execution 3 of this sweeper',
      ].join('\n\n'),
    );
  });

  it('names failed steps and says so when a pass had nothing to do', () => {
    const details = recoverySweeperTexts.currentDetails({ ...status, paused: [], lastPass: { ...status.lastPass!, counts: { reaped: 0 }, failedSteps: ['reconcileStrandedAssignedIssues'] } });
    expect(details).toContain('41 ms: nothing to do · **failed: reconcileStrandedAssignedIssues**');
    expect(details.split('\n')[0]).toBe('**Every 30 s** · next pass 2026-01-01T00:00:30.000Z');
  });
});
