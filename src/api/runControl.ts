/**
 * Starting and stopping runs on behalf of API callers: a wake becomes a run row and then its
 * workflow; a cancel goes through the run's workflow so the process group dies before the run is
 * written `cancelled` (R14), with a direct fallback when no worker answers.
 */
import { UNWATCHED_CANCEL_GRACE_SEC } from '../domain/runTimeouts.ts';
import type { Client } from '@temporalio/client';
import type { PrismaClient } from '../store/db.ts';
import type { ActivityDeps } from '../activities/deps.ts';
import type { Logger } from '../logger.ts';
import { enqueueWakeup, type AgentRow, type EnqueueResult, type WakeRequest } from '../store/wakeups.ts';
import { cancelRunViaWorkflow, startRunWorkflows, type RunWorkflowSettings } from '../temporal/runWorkflows.ts';
import { finishRunOutsideWorkflow } from '../activities/finalizeRun.ts';
import { resumeQueuedRuns } from '../activities/resumeQueuedRuns.ts';
import { spawnedOnThisHost, terminateProcessGroup } from '../adapters/processGroup.ts';
import { isCancellableRunStatus } from '../domain/runStatus.ts';
import { ServiceUnavailableError } from '../errors.ts';
import { runTexts } from '../domain/texts.ts';

export interface RunControlDeps {
  prisma: PrismaClient;
  temporal: Client;
  workflowSettings: RunWorkflowSettings;
  activityDeps: ActivityDeps;
  logger: Logger;
  /** How long a cancel waits for the run's workflow before acting directly. */
  cancelTimeoutMs?: number;
}

export class RunControl {
  constructor(private readonly deps: RunControlDeps) {}

  /**
   * R71 then the workflow: new runs start executing; coalesced/deferred/skipped ones don't. If
   * Temporal cannot be reached, the run stays queued (it is committed) and the caller learns so;
   * `resumeQueuedRuns` starts it once Temporal answers again.
   */
  async wake(agent: string | AgentRow, request: WakeRequest): Promise<EnqueueResult> {
    const result = await enqueueWakeup(this.deps.prisma, agent, request);
    if (result.kind === 'queued') {
      try {
        // The run it has just created, in hand: started the one way every run starts, without reading it again.
        await startRunWorkflows(this.deps.temporal, this.deps.workflowSettings, [{ run: result.run, issueIdentifier: result.issueIdentifier ?? null }]);
      } catch (error) {
        this.deps.logger.error('could not start a run workflow', { runId: result.run.id, error: error instanceof Error ? error.message : String(error) });
        throw new ServiceUnavailableError(runTexts.workflowNotStarted, { runId: result.run.id }, 'temporal_unavailable');
      }
    }
    return result;
  }

  /** R68/R69's queue resumer for this instance, a company or an agent. */
  resumeQueuedRuns(scope: { companyId?: string; agentId?: string } = {}): Promise<number> {
    return resumeQueuedRuns(this.deps.activityDeps, scope);
  }

  /** Starts the workflows of runs already in the database (idempotent). */
  startWorkflows(runIds: string[]): Promise<void> {
    return this.deps.activityDeps.executions.start(runIds);
  }

  /** R14: returns the run row after the cancel (unchanged when it was not cancellable). */
  async cancel(runId: string, reason: string) {
    const { prisma } = this.deps;
    const run = await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: runId } });
    if (!isCancellableRunStatus(run.status)) return run;
    const viaWorkflow = await cancelRunViaWorkflow(this.deps.temporal, runId, reason, this.deps.cancelTimeoutMs ?? 15_000);
    const after = await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: runId } });
    if (!isCancellableRunStatus(after.status)) return after;
    // No workflow answered (closed without finalizing, or no worker alive): act directly.
    this.deps.logger.warn('cancelling run without its workflow', { runId, workflow: viaWorkflow });
    // R14 step 2 without a handle: SIGTERM the recorded group, SIGKILL after the grace — only on the
    // host that spawned it, where the pid means that process.
    const group = after.processGroupId ?? after.processPid;
    if (group !== null && spawnedOnThisHost(after.processHost)) await terminateProcessGroup(group, { graceMs: UNWATCHED_CANCEL_GRACE_SEC * 1000 });
    await finishRunOutsideWorkflow(this.deps.activityDeps, { runId, outcome: { kind: 'cancelled', reason } });
    return prisma.heartbeatRun.findUniqueOrThrow({ where: { id: runId } });
  }
}
