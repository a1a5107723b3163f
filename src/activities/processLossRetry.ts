/**
 * R22/R23: a run whose local child process was lost gets exactly one automatic retry per lineage.
 * Used by the finalize pipeline (a child killed by a signal nobody sent, a worker that stopped
 * heartbeating) and by the orphan reaper (a dead recorded pid).
 */
import type { Prisma } from '../store/db.ts';
import { asObject, boundIssueId } from '../store/json.ts';
import { createSystemRun, moveExecutionLock } from '../store/systemRuns.ts';
import { appendRunEvent } from '../store/runEvents.ts';
import { tracksLocalChild } from '../domain/runStatus.ts';
import { processLossRetryRun } from '../domain/processLossRetryRun.ts';

type Tx = Prisma.TransactionClient;

export interface LostRun {
  id: string;
  companyId: string;
  agentId: string;
  contextSnapshot: unknown;
  processPid: number | null;
  processGroupId: number | null;
  processLossRetryCount: number;
}

/** R22: a local-child adapter, a recorded pid or group, and no process-loss retry in the lineage yet. */
export function processLossRetryAllowed(run: LostRun, adapterType: string | null): boolean {
  return adapterType !== null && tracksLocalChild(adapterType) && (run.processPid !== null || run.processGroupId !== null) && run.processLossRetryCount < 1;
}

/** R23: the retry run, in the caller's transaction. Returns the new run's id. */
export async function queueProcessLossRetry(tx: Tx, run: LostRun, agent: { id: string; name: string }): Promise<string> {
  const issueId = boundIssueId(run.contextSnapshot);
  // The same contents the orphan reaper's batches write (domain/processLossRetryRun.ts).
  const contents = processLossRetryRun({ id: run.id, contextSnapshot: asObject(run.contextSnapshot), processLossRetryCount: run.processLossRetryCount }, issueId);
  const retry = await createSystemRun(tx, {
    companyId: run.companyId,
    agentId: agent.id,
    wake: { reason: contents.wakeReason, payload: contents.wakePayload },
    run: {
      contextSnapshot: contents.contextSnapshot,
      retryOfRunId: contents.retryOfRunId,
      processLossRetryCount: contents.processLossRetryCount,
    },
  });
  // The lock follows the retry only if the lost run still held it; checkoutRunId stays.
  if (issueId) await moveExecutionLock(tx, { issueId, newRunId: retry.id, agentName: agent.name, onlyFrom: run.id });
  await appendRunEvent(tx, { companyId: run.companyId, runId: retry.id, agentId: agent.id, ...contents.event });
  return retry.id;
}
