/**
 * R12: the stop metadata merged into `resultJson` on every terminal write.
 */
import type { RunStatus } from './runStatus.ts';
import { reportedTimeout } from './runTimeouts.ts';

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
  const timeout = reportedTimeout(input.adapterType, input.adapterConfig);
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
