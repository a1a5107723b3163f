/**
 * The Temporal side of "is this run executing?" and "make these runs execute", for code that
 * holds no workflow context: the orphan reaper (R16: a run is held while its workflow runs), the
 * sweeps and the API, which create follow-up runs in the database and then start them.
 */
import { WorkflowNotFoundError, WorkflowUpdateStage, type Client } from '@temporalio/client';
import type { PrismaClient } from '../store/db.ts';
import type { RunExecutions } from '../activities/deps.ts';
import { cancelRunUpdate } from '../workflows/heartbeatRun.ts';
import { runWorkflowId } from '../domain/runWorkflowId.ts';
import { startRunWorkflows, type RunWorkflowSettings } from './runWorkflows.ts';
import { boundIssueId } from '../store/json.ts';
import { mapBounded } from '../platform/concurrency.ts';

/** Parallel describes and cancel updates (starts: START_CONCURRENCY in runWorkflows.ts); enough to hide latency, few enough to be polite. */
const CONCURRENCY = 32;

export function createRunExecutions(client: Client, prisma: PrismaClient, settings: RunWorkflowSettings): RunExecutions {
  return {
    async held(runIds) {
      const held = new Set<string>();
      await mapBounded(runIds, CONCURRENCY, async (runId) => {
        try {
          const description = await client.workflow.getHandle(runWorkflowId(runId)).describe();
          if (description.status.name === 'RUNNING') held.add(runId);
        } catch (error) {
          if (!(error instanceof WorkflowNotFoundError)) throw error;
        }
      });
      return held;
    },
    async start(runIds) {
      if (runIds.length === 0) return;
      // Only runs still waiting to execute (R1): one that ended meanwhile is not started again.
      const runs = await prisma.heartbeatRun.findMany({
        where: { id: { in: [...new Set(runIds)] }, status: { in: ['queued', 'scheduled_retry'] } },
        select: { id: true, companyId: true, agentId: true, status: true, contextSnapshot: true, retryOfRunId: true },
      });
      const issueIds = runs.map((run) => boundIssueId(run.contextSnapshot)).filter((id): id is string => id !== null);
      const issues = issueIds.length > 0 ? await prisma.issue.findMany({ where: { id: { in: issueIds } }, select: { id: true, identifier: true } }) : [];
      const identifiers = new Map(issues.map((issue) => [issue.id, issue.identifier]));
      await startRunWorkflows(client, settings, runs.map((run) => ({ run, issueIdentifier: identifiers.get(boundIssueId(run.contextSnapshot) ?? '') ?? null })));
    },
    async requestCancel(runIds, reason) {
      const accepted: string[] = [];
      await mapBounded(runIds, CONCURRENCY, async (runId) => {
        try {
          // Accepted is enough: the run's workflow kills the process group and finalizes by itself.
          await client.workflow.getHandle(runWorkflowId(runId)).startUpdate(cancelRunUpdate, { args: [{ reason }], waitForStage: WorkflowUpdateStage.ACCEPTED });
          accepted.push(runId);
        } catch {
          // Its workflow has closed (the run ended meanwhile) or was never started: nothing to stop.
        }
      });
      return accepted;
    },
  };
}
