/**
 * R23: the contents of the one process-loss retry — its wake's reason and payload, the new run's
 * context, lineage and count, and the warn event it starts with. Pure; the orphan reaper's batches
 * write them (src/store/reapSettlement.ts) with the same columns `createSystemRun` writes.
 */
import { PROCESS_LOST_RETRY } from './recoveryKinds.ts';
import { recoveryEventTexts } from './recoveryTexts.ts';
import type { RunEventContent } from './runEndingFields.ts';

export interface ProcessLossRetryRun {
  wakeReason: string;
  wakePayload: Record<string, unknown>;
  contextSnapshot: Record<string, unknown>;
  retryOfRunId: string;
  processLossRetryCount: number;
  /** R23: seq 1 of the retry run. */
  event: RunEventContent;
}

export function processLossRetryRun(
  lost: { id: string; contextSnapshot: Record<string, unknown>; processLossRetryCount: number },
  issueId: string | null,
): ProcessLossRetryRun {
  return {
    wakeReason: PROCESS_LOST_RETRY.wakeReason,
    wakePayload: { ...(issueId ? { issueId } : {}), retryOfRunId: lost.id },
    contextSnapshot: {
      ...lost.contextSnapshot,
      retryOfRunId: lost.id,
      wakeReason: PROCESS_LOST_RETRY.wakeReason,
      retryReason: PROCESS_LOST_RETRY.retryReason,
    },
    retryOfRunId: lost.id,
    // R22: one process-loss retry per lineage.
    processLossRetryCount: lost.processLossRetryCount + 1,
    event: { eventType: 'lifecycle', level: 'warn', message: recoveryEventTexts.processLossRetryQueued, payload: { retryOfRunId: lost.id } },
  };
}
