/**
 * One run's spend out of what a CLI reports. Some figures cover the whole session, not the run:
 * Codex's `turn.completed` usage after `exec resume` counts every turn of the thread, and Claude
 * Code's `total_cost_usd` the whole session (its `usage` tokens are the run's own). A resumed run
 * subtracts the totals its session had reached at the end of its previous run, so a long session
 * is billed once, not once per wake. Pure.
 */
import type { AgentUsage } from '../adapters/agentStream.ts';

/** What a CLI reports over a whole session, as of the end of a run. */
export interface SessionUsageTotals {
  inputTokens: number;
  cachedInputTokens: number;
  outputTokens: number;
  costUsd: number | null;
}

/** Which of a CLI's figures cover the whole session rather than the run. */
export interface UsageScope {
  tokens: 'run' | 'session';
  cost: 'run' | 'session';
}

const difference = (total: number, before: number): number => Math.max(0, total - before);

/**
 * The run's own usage and the session's totals after it. `baseline` is the resumed session's
 * totals (null for a fresh session, or a resume that ended in another session).
 */
export function runUsageOf(scope: UsageScope, reported: AgentUsage, baseline: SessionUsageTotals | null): { run: AgentUsage; sessionTotals: SessionUsageTotals } {
  const before = baseline ?? { inputTokens: 0, cachedInputTokens: 0, outputTokens: 0, costUsd: 0 };
  const tokensAreTotals = scope.tokens === 'session';
  const run: AgentUsage = {
    ...reported,
    inputTokens: tokensAreTotals ? difference(reported.inputTokens, before.inputTokens) : reported.inputTokens,
    cachedInputTokens: tokensAreTotals ? difference(reported.cachedInputTokens, before.cachedInputTokens) : reported.cachedInputTokens,
    outputTokens: tokensAreTotals ? difference(reported.outputTokens, before.outputTokens) : reported.outputTokens,
    costUsd:
      reported.costUsd === null ? null : scope.cost === 'session' ? difference(reported.costUsd, before.costUsd ?? 0) : reported.costUsd,
  };
  const sessionTotals: SessionUsageTotals = {
    inputTokens: tokensAreTotals ? reported.inputTokens : before.inputTokens + reported.inputTokens,
    cachedInputTokens: tokensAreTotals ? reported.cachedInputTokens : before.cachedInputTokens + reported.cachedInputTokens,
    outputTokens: tokensAreTotals ? reported.outputTokens : before.outputTokens + reported.outputTokens,
    costUsd: reported.costUsd === null ? null : scope.cost === 'session' ? reported.costUsd : (before.costUsd ?? 0) + reported.costUsd,
  };
  return { run, sessionTotals };
}
