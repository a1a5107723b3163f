/**
 * R12: the stop metadata merged into `resultJson` on every terminal write.
 */
import type { RunStatus } from './runStatus.ts';

export type StopReason =
  | 'completed'
  | 'timeout'
  | 'process_lost'
  | 'adapter_failed'
  | 'budget_paused'
  | 'paused'
  | 'cancelled'
  | 'issue_dependencies_blocked'
  | 'issue_not_found'
  | 'issue_assignee_changed'
  | 'issue_terminal_status'
  | 'issue_review_participant_changed';

export interface StopMetadata {
  stopReason: StopReason;
  effectiveTimeoutSec: number;
  timeoutConfigured: boolean;
  timeoutSource: 'config' | 'default' | 'dependency_gate' | 'stale_queued_run_gate';
  timeoutFired: boolean;
  effectiveTimeoutMs?: number;
}

/** Default `timeoutSec` when the adapter config has none (R12: 0 = no timeout, openclaw_gateway 120). */
function defaultTimeoutSec(adapterType: string): number {
  return adapterType === 'openclaw_gateway' ? 120 : 0;
}

function effectiveTimeout(adapterType: string, adapterConfig: Record<string, unknown>) {
  if (adapterType === 'http') {
    const present = 'timeoutMs' in adapterConfig;
    const ms = Math.max(0, Math.floor(Number(adapterConfig.timeoutMs ?? 0) || 0));
    return { sec: Math.floor(ms / 1000), ms, source: present ? ('config' as const) : ('default' as const) };
  }
  const present = 'timeoutSec' in adapterConfig;
  const raw = present ? Number(adapterConfig.timeoutSec) : defaultTimeoutSec(adapterType);
  const sec = Math.max(0, Math.floor(Number.isFinite(raw) ? raw : 0));
  return { sec, ms: undefined, source: present ? ('config' as const) : ('default' as const) };
}

export function stopReasonFor(status: RunStatus, errorCode: string | null, cancelMessage: string | null): StopReason {
  switch (status) {
    case 'succeeded':
      return 'completed';
    case 'timed_out':
      return 'timeout';
    case 'failed':
      return errorCode === 'process_lost' ? 'process_lost' : 'adapter_failed';
    case 'cancelled': {
      const message = (cancelMessage ?? '').toLowerCase();
      if (message.includes('budget')) return 'budget_paused';
      if (message.includes('pause')) return 'paused';
      return 'cancelled';
    }
    default:
      return 'adapter_failed';
  }
}

export function buildStopMetadata(input: {
  adapterType: string;
  adapterConfig: Record<string, unknown>;
  stopReason: StopReason;
  timeoutSource?: StopMetadata['timeoutSource'];
}): StopMetadata {
  const timeout = effectiveTimeout(input.adapterType, input.adapterConfig);
  const metadata: StopMetadata = {
    stopReason: input.stopReason,
    effectiveTimeoutSec: timeout.sec,
    timeoutConfigured: timeout.sec > 0,
    timeoutSource: input.timeoutSource ?? timeout.source,
    timeoutFired: input.stopReason === 'timeout',
  };
  if (timeout.ms !== undefined) metadata.effectiveTimeoutMs = timeout.ms;
  return metadata;
}
