/**
 * Starting and cancelling run workflows from outside (API, sweeps, finalize, the queue resumer).
 * The database row is created first; starting `run-<runId>` is idempotent, so a retry after a
 * crash never starts a second one. Every run starts through `startRunWorkflows` (one place): the
 * API with the run it has just created, `executions.start` with the runs it has read.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { heartbeatRunWorkflow, cancelRunUpdate, slotFreedSignal } from '../workflows/heartbeatRun.ts';
import { runWorkflowId } from '../domain/runWorkflowId.ts';
import { asObject, stringOrNull } from '../store/json.ts';
import { mapBounded } from '../platform/concurrency.ts';

/**
 * Parallel starts against the Temporal frontend: enough to hide the round trips, few enough to
 * be polite. 16, 32 and 64 start 1,000 workflows equally fast on the dev server (its CPU is the
 * bound, bench/workflowStartVariants.ts).
 */
export const START_CONCURRENCY = 32;

export interface RunWorkflowSettings {
  taskQueue: string;
  adapterHeartbeatTimeoutMs: number;
  /** Issue 13: how long a run waits for a worker on its agent's host (0 or absent: it does not). */
  reattachWindowMs?: number;
}

export interface RunForWorkflow {
  id: string;
  companyId: string;
  agentId: string;
  status: string;
  contextSnapshot: unknown;
  retryOfRunId?: string | null;
}

function startOptions(settings: RunWorkflowSettings, run: RunForWorkflow, issueIdentifier: string | null | undefined) {
  const context = asObject(run.contextSnapshot);
  const issueId = stringOrNull(context.issueId);
  const retryKind = stringOrNull(context.retryReason);
  return {
    workflowId: runWorkflowId(run.id),
    taskQueue: settings.taskQueue,
    args: [{ runId: run.id, adapterHeartbeatTimeoutMs: settings.adapterHeartbeatTimeoutMs, reattachWindowMs: settings.reattachWindowMs }] as [Parameters<typeof heartbeatRunWorkflow>[0]],
    searchAttributes: {
      VigilCompanyId: [run.companyId],
      VigilAgentId: [run.agentId],
      VigilRunStatus: [run.status],
      ...(issueId ? { VigilIssueId: [issueId] } : {}),
      ...(issueIdentifier ? { VigilIssueIdentifier: [issueIdentifier] } : {}),
      // Follow-up runs name the run they retry, so Temporal UI finds a run's whole lineage.
      ...(run.retryOfRunId ? { VigilRetryOfRunId: [run.retryOfRunId] } : {}),
      ...(retryKind ? { VigilRetryKind: [retryKind] } : {}),
    },
    // The memo travels with the run into Temporal UI and `temporal workflow describe`.
    memo: { runId: run.id, agentId: run.agentId, issueIdentifier: issueIdentifier ?? null, wakeReason: stringOrNull(context.wakeReason), retryOfRunId: run.retryOfRunId ?? null },
    // The one line Temporal UI shows for the run in its workflow list.
    staticSummary: [issueIdentifier ?? 'no issue', stringOrNull(context.wakeReason) ?? 'wake', retryKind].filter(Boolean).join(' · '),
  };
}

/** A run to start, with its issue's identifier for the search attributes, memo and summary. */
export interface RunToStart {
  run: RunForWorkflow;
  issueIdentifier: string | null;
}

/**
 * Starts each run's workflow, or — when it is already running (waiting for a slot, R69) — tells
 * it a slot may be free: one signalWithStart per run, so one call covers both a follow-up run and
 * a queued run that may now claim, and a second start of the same run never starts a second
 * workflow. At most START_CONCURRENCY at a time; the first failure rejects (the runs stay queued
 * in the database for `resumeQueuedRuns`).
 */
export async function startRunWorkflows(client: Client, settings: RunWorkflowSettings, runs: readonly RunToStart[]): Promise<void> {
  await mapBounded(runs, START_CONCURRENCY, ({ run, issueIdentifier }) =>
    client.workflow.signalWithStart(heartbeatRunWorkflow, { ...startOptions(settings, run, issueIdentifier), signal: slotFreedSignal, signalArgs: [] }),
  );
}

export type CancelViaWorkflow = 'cancelled' | 'workflow_closed' | 'unreachable';

/**
 * Asks the run's workflow to cancel it (R14). Resolves once the workflow has killed the process
 * group and written the run; `unreachable` when no worker answered within `timeoutMs`.
 */
export async function cancelRunViaWorkflow(client: Client, runId: string, reason: string, timeoutMs: number): Promise<CancelViaWorkflow> {
  const handle = client.workflow.getHandle(runWorkflowId(runId));
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  try {
    await client.withAbortSignal(abort.signal, () => handle.executeUpdate(cancelRunUpdate, { args: [{ reason }] }));
    return 'cancelled';
  } catch (error) {
    if (abort.signal.aborted) return 'unreachable';
    // Never started, or already completed: the server answers "not found" for updates to both.
    if (error instanceof WorkflowNotFoundError) return 'workflow_closed';
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
