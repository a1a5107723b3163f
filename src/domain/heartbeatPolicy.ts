/**
 * R69/R70: an agent's `runtimeConfig.heartbeat` policy with its defaults and legacy aliases.
 */
export interface HeartbeatPolicy {
  enabled: boolean;
  intervalSec: number;
  wakeOnDemand: boolean;
  maxConcurrentRuns: number;
}

function bool(value: unknown): boolean | undefined {
  return typeof value === 'boolean' ? value : undefined;
}

export function heartbeatPolicyOf(runtimeConfig: unknown): HeartbeatPolicy {
  const root = runtimeConfig && typeof runtimeConfig === 'object' ? (runtimeConfig as Record<string, unknown>) : {};
  const hb = root.heartbeat && typeof root.heartbeat === 'object' ? (root.heartbeat as Record<string, unknown>) : {};
  const wakeOnDemand =
    bool(hb.wakeOnDemand) ?? bool(hb.wakeOnAssignment) ?? bool(hb.wakeOnOnDemand) ?? bool(hb.wakeOnAutomation) ?? true;
  const rawMax = Number(hb.maxConcurrentRuns);
  const maxConcurrentRuns = Number.isFinite(rawMax) && hb.maxConcurrentRuns !== undefined
    ? Math.min(10, Math.max(1, Math.floor(rawMax)))
    : 5;
  const rawInterval = Number(hb.intervalSec);
  return {
    enabled: bool(hb.enabled) ?? false,
    intervalSec: Number.isFinite(rawInterval) && rawInterval > 0 ? Math.floor(rawInterval) : 0,
    wakeOnDemand,
    maxConcurrentRuns,
  };
}

/** Agent name key stored on issues as the execution lock holder (DATA-MODEL §1.2). */
export function agentNameKey(name: string): string {
  return name.trim().toLowerCase();
}

/** Wakes that come from a comment on the issue (R4 4b, R67, R71). */
export const COMMENT_INTERACTION_REASONS = ['issue_commented', 'issue_reopened_via_comment', 'issue_comment_mentioned'];

export function isCommentInteractionWake(reason: string | null | undefined): boolean {
  return reason != null && COMMENT_INTERACTION_REASONS.includes(reason);
}
