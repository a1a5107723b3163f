/**
 * R1: the run status machine, and the other small enumerations the rules branch on.
 * Pure and dependency-free so workflows may import it.
 */
export const RUN_STATUSES = ['queued', 'scheduled_retry', 'running', 'succeeded', 'failed', 'cancelled', 'timed_out'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export const TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['succeeded', 'failed', 'cancelled', 'timed_out'];
export const UNSUCCESSFUL_TERMINAL_RUN_STATUSES: readonly RunStatus[] = ['failed', 'cancelled', 'timed_out'];
/** Statuses that count as a live execution path for an issue (also: cancellable). */
export const LIVE_RUN_STATUSES: readonly RunStatus[] = ['queued', 'running', 'scheduled_retry'];

export function isTerminalRunStatus(status: string): boolean {
  return (TERMINAL_RUN_STATUSES as readonly string[]).includes(status);
}

export function isLiveRunStatus(status: string): boolean {
  return (LIVE_RUN_STATUSES as readonly string[]).includes(status);
}

export function isCancellableRunStatus(status: string): boolean {
  return (LIVE_RUN_STATUSES as readonly string[]).includes(status);
}

/** Agents in these statuses are not invokable (glossary, §1). */
export const NON_INVOKABLE_AGENT_STATUSES = ['paused', 'terminated', 'pending_approval'] as const;

export function isInvokableAgentStatus(status: string): boolean {
  return !(NON_INVOKABLE_AGENT_STATUSES as readonly string[]).includes(status);
}

/** Adapters whose recorded pids the reaper trusts (R17). `process` is Vigil's generic local child (API.md). */
export const LOCAL_CHILD_ADAPTER_TYPES = [
  'process',
  'claude_local',
  'codex_local',
  'cursor',
  'gemini_local',
  'hermes_local',
  'opencode_local',
  'pi_local',
] as const;

export function tracksLocalChild(adapterType: string): boolean {
  return (LOCAL_CHILD_ADAPTER_TYPES as readonly string[]).includes(adapterType);
}

/** R2 quirk fixed: a wake takes `completed` on success, `failed` for failed/timed_out, `cancelled` for cancelled. */
export function wakeStatusForRunOutcome(status: RunStatus): 'completed' | 'failed' | 'cancelled' {
  if (status === 'succeeded') return 'completed';
  if (status === 'cancelled') return 'cancelled';
  return 'failed';
}
