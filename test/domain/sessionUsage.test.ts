/** A resumed session is billed once: session-wide figures are reduced to the run's own. */
import { describe, expect, it } from 'vitest';
import { runUsageOf } from '../../src/domain/sessionUsage.ts';
import type { AgentUsage } from '../../src/adapters/agentStream.ts';

const usage = (overrides: Partial<AgentUsage>): AgentUsage => ({ provider: 'openai', model: 'm', inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, costUsd: null, ...overrides });

describe("a run's own usage", () => {
  it('is what a fresh session reported', () => {
    const { run, sessionTotals } = runUsageOf({ tokens: 'session', cost: 'run' }, usage({ inputTokens: 40, cachedInputTokens: 10, outputTokens: 8 }), null);
    expect(run).toMatchObject({ inputTokens: 40, cachedInputTokens: 10, outputTokens: 8 });
    expect(sessionTotals).toEqual({ inputTokens: 40, cachedInputTokens: 10, outputTokens: 8, costUsd: null });
  });

  it("subtracts the session's earlier totals from Codex's thread-wide tokens after a resume", () => {
    // Recorded: the resumed thread reported 65/10/14 after a first run of 40/10/8.
    const { run, sessionTotals } = runUsageOf({ tokens: 'session', cost: 'run' }, usage({ inputTokens: 65, cachedInputTokens: 10, outputTokens: 14 }), { inputTokens: 40, cachedInputTokens: 10, outputTokens: 8, costUsd: null });
    expect(run).toMatchObject({ inputTokens: 25, cachedInputTokens: 0, outputTokens: 6 });
    expect(sessionTotals).toMatchObject({ inputTokens: 65, cachedInputTokens: 10, outputTokens: 14 });
  });

  it("subtracts Claude's session-wide cost but keeps its per-run tokens, adding them to the totals", () => {
    const reported = usage({ provider: 'anthropic', inputTokens: 12, outputTokens: 7, costUsd: 0.0005 });
    const { run, sessionTotals } = runUsageOf({ tokens: 'run', cost: 'session' }, reported, { inputTokens: 30, cachedInputTokens: 0, outputTokens: 9, costUsd: 0.0002 });
    expect(run.inputTokens).toBe(12);
    expect(run.costUsd).toBeCloseTo(0.0003, 10);
    expect(sessionTotals).toEqual({ inputTokens: 42, cachedInputTokens: 0, outputTokens: 16, costUsd: 0.0005 });
  });

  it('never bills a negative amount when the totals went down (another session after all)', () => {
    const { run } = runUsageOf({ tokens: 'session', cost: 'session' }, usage({ inputTokens: 5, costUsd: 0.1 }), { inputTokens: 50, cachedInputTokens: 0, outputTokens: 0, costUsd: 0.5 });
    expect(run).toMatchObject({ inputTokens: 0, costUsd: 0 });
  });
});
