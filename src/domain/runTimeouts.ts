/**
 * R12–R14: how long an agent's run may take, read one way everywhere — the limits the adapters
 * enforce, the claim hands to the run workflow, the workflow bounds its adapter activity by, and
 * the stop metadata reports. Pure and dependency-free so workflows may import it.
 */

/** R13/R14: seconds between SIGTERM and SIGKILL when the config sets none. */
export const DEFAULT_GRACE_SEC = 20;

/**
 * R14 step 2 when no workflow answers a cancel (the API's fallback), and for an agent whose run
 * such a cancel already ended (issue 13): SIGTERM to the group, SIGKILL after this many seconds.
 */
export const UNWATCHED_CANCEL_GRACE_SEC = 2;

/** R12/R13: `timeoutSec` floored and clamped to ≥ 0; 0 means no timeout. */
export function effectiveTimeoutSec(config: { timeoutSec?: number }): number {
  const raw = Number(config.timeoutSec ?? 0);
  return Number.isFinite(raw) && raw > 0 ? Math.floor(raw) : 0;
}

/** R13/R14: default 20 s, at least 1 s. */
export function effectiveGraceSec(config: { graceSec?: number }): number {
  const raw = Number(config.graceSec ?? DEFAULT_GRACE_SEC);
  return Number.isFinite(raw) ? Math.max(1, raw) : DEFAULT_GRACE_SEC;
}

/**
 * Slack past timeout + grace before the adapter activity counts as wedged: the adapter still
 * has to reap the group, drain its pipes and return its result.
 */
const ADAPTER_ACTIVITY_SLACK_SEC = 120;

/**
 * The adapter activity's start-to-close bound. The adapter enforces `timeoutSec` itself (R13);
 * this bound only catches a wedged activity, so a run without a timeout gets a month.
 */
export function adapterActivityTimeout(limits: { timeoutSec: number; graceSec: number }): string {
  return limits.timeoutSec > 0 ? `${limits.timeoutSec + limits.graceSec + ADAPTER_ACTIVITY_SLACK_SEC} seconds` : '30 days';
}

/** Default `timeoutSec` when the adapter config has none (R12: 0 = no timeout, openclaw_gateway 120). */
function defaultTimeoutSec(adapterType: string): number {
  return adapterType === 'openclaw_gateway' ? 120 : 0;
}

/**
 * R12: the timeout a run's stop metadata reports, read from the agent's stored `adapterConfig`
 * of any adapter type (`http` counts milliseconds, `timeoutMs`).
 */
export function reportedTimeout(adapterType: string, adapterConfig: Record<string, unknown>): { sec: number; ms: number | undefined; source: 'config' | 'default' } {
  if (adapterType === 'http') {
    const present = 'timeoutMs' in adapterConfig;
    const ms = Math.max(0, Math.floor(Number(adapterConfig.timeoutMs ?? 0) || 0));
    return { sec: Math.floor(ms / 1000), ms, source: present ? 'config' : 'default' };
  }
  const present = 'timeoutSec' in adapterConfig;
  const raw = present ? Number(adapterConfig.timeoutSec) : defaultTimeoutSec(adapterType);
  return { sec: effectiveTimeoutSec({ timeoutSec: raw }), ms: undefined, source: present ? 'config' : 'default' };
}
