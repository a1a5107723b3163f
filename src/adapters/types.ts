/**
 * The contract between an agent adapter and the activity that runs it (spec/API.md "The `process`
 * adapter"). Adapters know nothing of the database or Temporal: they start the agent, stream its
 * redacted output, and report how it ended (`AdapterResult`, src/domain/adapterResult.ts).
 */

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
  /** The leader's start in clock ticks since boot: with it the pid is trusted (issue 13). */
  startTicks?: number;
  /** Started before (by a worker that died or detached), this worker attached to it (issue 13). */
  reattached?: boolean;
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
  /**
   * Attach-or-spawn (issue 13): the supervisor knows the agent by `key` (the run's id); it is
   * started only when it never was and `mayStart`. Default: a fresh key, always started.
   */
  supervision?: { key: string; mayStart: boolean };
  /** The per-host supervisor's directory (VIGIL_SUPERVISOR_DIR); default: defaultSupervisorDir(). */
  supervisorDir?: string;
  /** With no worker attached for this long, the supervisor ends the agent (VIGIL_REATTACH_WINDOW_SEC). */
  unattendedMs?: number;
  /** Aborted: stop watching and leave the agent running (a deploy); the adapter throws AgentDetachedError. */
  detach?: AbortSignal;
  /** Called with the agent's release once it ended: the caller releases after it recorded the output. */
  onReleasable?(release: () => Promise<void>): void;
}
