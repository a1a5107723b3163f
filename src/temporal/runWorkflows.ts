/**
 * Starting and cancelling run workflows from outside (API, sweeps). The database row is created
 * first; starting `run-<runId>` is idempotent, so a retry after a crash never starts a second one.
 */
import { WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { heartbeatRunWorkflow, cancelRunUpdate, slotFreedSignal } from '../workflows/heartbeatRun.ts';
import { runWorkflowId } from '../domain/runWorkflowId.ts';
import { asObject, stringOrNull } from '../store/json.ts';

export interface RunWorkflowSettings {
  taskQueue: string;
  adapterHeartbeatTimeoutMs: number;
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
    args: [{ runId: run.id, adapterHeartbeatTimeoutMs: settings.adapterHeartbeatTimeoutMs }] as [Parameters<typeof heartbeatRunWorkflow>[0]],
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

export async function startRunWorkflow(client: Client, settings: RunWorkflowSettings, run: RunForWorkflow, issueIdentifier?: string | null) {
  try {
    await client.workflow.start(heartbeatRunWorkflow, startOptions(settings, run, issueIdentifier));
  } catch (error) {
    if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
  }
}

/**
 * Starts the run's workflow, or — when it is already running (waiting for a slot) — tells it a
 * slot may be free. One call covers both a follow-up run and a queued run that may now claim.
 */
export async function startOrNudgeRunWorkflow(client: Client, settings: RunWorkflowSettings, run: RunForWorkflow, issueIdentifier?: string | null) {
  await client.workflow.signalWithStart(heartbeatRunWorkflow, { ...startOptions(settings, run, issueIdentifier), signal: slotFreedSignal, signalArgs: [] });
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
