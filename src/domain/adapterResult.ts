/**
 * How an agent adapter reports the end of its process (spec/API.md "The `process` adapter"): the
 * adapter activity hands it back (without its timestamps), `runOutcome.ts` turns it into the run's
 * terminal write (R5, R35) and the CLI bookkeeping into sessions and spend (R72). A shared type, so it lives in
 * `src/domain`: the adapters produce it, the activities and the pure run-outcome rules read it.
 */
import type { AgentUsage } from '../adapters/agentStream.ts';
import type { SessionUsageTotals } from './sessionUsage.ts';

export interface AdapterResult {
  exitCode: number | null;
  /** The signal that ended the group leader, if any. */
  signal: string | null;
  /** Killed because `timeoutSec` elapsed. */
  timedOut: boolean;
  /** Killed because the invocation's signal was aborted (or it was aborted before the start). */
  cancelled: boolean;
  /** The leader died from a signal nobody in Vigil sent (for example `kill -9` from outside). */
  processLost: boolean;
  /** `summary` of the last `"type":"result"` stdout line, else the last non-empty stdout text (≤ 4 KiB). */
  summary: string | null;
  /** The result line's other keys, plus capped `stdout`/`stderr` tails and cleanup notes. */
  resultJson: Record<string, unknown>;
  /** Human text for every outcome but success; redacted. */
  errorMessage: string | null;
  /** The result line's `errorCode` on failure; `process_lost` when `processLost`. */
  errorCode: string | null;
  /** R35's `transient_upstream`, or a usage limit with a reset time (`provider_quota`). */
  errorFamily: AdapterErrorFamily | null;
  /** ISO time: the result line's `retryNotBefore` / `transientRetryNotBefore`, or a provider's reset time. */
  retryNotBefore: string | null;
  /** Last ≤ 8 KiB of each stream, redacted. */
  stdoutExcerpt: string;
  stderrExcerpt: string;
  /** What a coding-agent CLI reported (session, usage); null for the `process` adapter. */
  agentCli: AgentCliReport | null;
  startedAt: Date;
  finishedAt: Date;
}

export type AdapterErrorFamily = 'transient_upstream' | 'provider_quota';

/** The session and spend of a coding-agent CLI's run (R72, cost events). */
export interface AgentCliReport {
  cli: 'claude' | 'codex';
  /** The session this run asked the CLI to resume (R72), null for a fresh one. */
  sessionIdBefore: string | null;
  /** The session the CLI reported for this run: only ids it printed itself. */
  sessionIdAfter: string | null;
  /** A resume the CLI refused: this id is cleared, and the run started a fresh session instead. */
  rejectedSessionId: string | null;
  /** The saved session must not be resumed again (max turns exhausted, a rejected resume). */
  clearSession: boolean;
  /** What the session ran under (the configured model, not the reported one): R72 starts fresh when they change. */
  cwd: string;
  configuredModel: string | null;
  /** The model the CLI reported. */
  model: string | null;
  /** This run's own usage (session-wide figures already reduced to the run). */
  usage: AgentUsage | null;
  /** What the session reported in total after this run: the baseline of its next resumed run. */
  sessionUsageTotals: SessionUsageTotals | null;
  numTurns: number | null;
}
