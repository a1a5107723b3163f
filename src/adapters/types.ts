/**
 * The contract between an agent adapter and the activity that runs it (spec/API.md "The `process`
 * adapter"). Adapters know nothing of the database or Temporal: they start the agent, stream its
 * redacted output, and report how it ended.
 */

import type { AgentUsage } from './agentStream.ts';
import type { SessionUsageTotals } from '../domain/sessionUsage.ts';

/** `adapterConfig` of an agent with `adapterType: "process"`. */
export interface ProcessAdapterConfig {
  command: string;
  args?: string[];
  /** Default: the worker's current directory. */
  cwd?: string;
  /** Extra environment for the child. Keys starting with `VIGIL_` are ignored: a config cannot spoof its run identity. */
  env?: Record<string, string>;
  /** Seconds before the process group is terminated; 0 or absent = no timeout (R13). */
  timeoutSec?: number;
  /** Seconds between SIGTERM and SIGKILL; default 20, minimum 1 (R13, R14). */
  graceSec?: number;
}

export interface AdapterOutputChunk {
  stream: 'stdout' | 'stderr';
  /** Already redacted. */
  text: string;
  ts: Date;
}

export interface AdapterSpawnInfo {
  pid: number;
  /** The child leads its own process group, so this equals `pid`. */
  processGroupId: number;
  startedAt: Date;
}

export interface AdapterInvocation {
  config: ProcessAdapterConfig;
  /**
   * The `VIGIL_*` variables built by the caller (API.md). Child env = inherited env (minus
   * Vigil's own `VIGIL_*` and `DATABASE_URL`) + `config.env` (minus `VIGIL_*`) + this, so an agent
   * config can never spoof its run id or token.
   */
  env: Record<string, string>;
  /** Exact strings to redact from all output (the run token); `VIGIL_API_KEY` is added anyway. */
  secrets: string[];
  /** Aborted = cancel: the whole group is terminated (grace max(1, graceSec)), then `cancelled`. */
  signal: AbortSignal;
  /** Awaited right after spawn, before any output is delivered; the caller records pid/pgid. */
  onSpawn(info: AdapterSpawnInfo): Promise<void>;
  /** Redacted output, in arrival order; may be called often (the caller batches). */
  onOutput(chunk: AdapterOutputChunk): void;
  /**
   * The environment the child inherits before `config.env` and `env` apply. Default:
   * the worker's own environment.
   */
  baseEnv?: Record<string, string | undefined>;
}

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
