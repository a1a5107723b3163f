/**
 * Runs the agent's adapter process for a claimed run. The activity heartbeats while the child
 * lives (on output and on a 1 s tick), so a dead worker surfaces to the workflow as a heartbeat
 * timeout, and a cancellation reaches the child through the heartbeat response: the whole
 * process group is killed before the activity reports the cancellation. Each heartbeat says when
 * it was sent, and a lost process's result or failure says when it was lost: the moment travels
 * in the value to finalize's detection-time histogram.
 */
import { hostname } from 'node:os';
import { ApplicationFailure, Context, CancelledFailure } from '@temporalio/activity';
import type { ActivityDeps } from './deps.ts';
import {
  WORKER_SHUTDOWN_BEFORE_START_FAILURE,
  WORKER_SHUTDOWN_FAILURE,
  type AdapterHeartbeat,
  type AdapterResultPayload,
  type WorkerShutdownDetails,
} from '../domain/runOutcome.ts';
import { parseProcessAdapterConfig, runProcessAdapter } from '../adapters/process.ts';
import { parseAgentCliConfig, runAgentCli } from '../adapters/agentCli.ts';
import { agentCliFor } from '../adapters/agentClis.ts';
import type { AdapterInvocation } from '../adapters/types.ts';
import type { AdapterResult } from '../domain/adapterResult.ts';
import { prepareAgentCliRun } from './agentCliPreparation.ts';
import { mintRunToken } from '../auth/tokens.ts';
import { recordProcessSpawned } from '../store/runExecutionWrites.ts';
import { asObject, boundIssueId, stringOrNull } from '../store/json.ts';
import { LOG_STORE, runLogRef } from '../store/runLogStore.ts';
import { runTexts } from '../domain/texts.ts';
import { tracksLocalChild } from '../domain/runStatus.ts';
import { RunOutputRecorder } from './runOutputRecorder.ts';
import { runLogFields } from '../runLogContext.ts';

const LIVENESS_TICK_MS = 1_000;

export async function executeAdapter(deps: ActivityDeps, runId: string): Promise<AdapterResultPayload> {
  const ctx = Context.current();
  const run = await deps.prisma.heartbeatRun.findUniqueOrThrow({ where: { id: runId } });
  const agent = await deps.prisma.agent.findUniqueOrThrow({ where: { id: run.agentId } });
  // `claude_local` and `codex_local` run their CLI; every other local-child adapter type runs its
  // configured command as a process (API.md).
  if (!tracksLocalChild(agent.adapterType)) {
    throw new Error(`Adapter type "${agent.adapterType}" is not available on this worker`);
  }
  const context = asObject(run.contextSnapshot);
  const issueId = boundIssueId(context);
  const token = mintRunToken(deps.runTokenSecret, runId);
  const env: Record<string, string> = {
    VIGIL_API_URL: deps.apiUrl,
    VIGIL_API_KEY: token,
    VIGIL_RUN_ID: runId,
    VIGIL_AGENT_ID: agent.id,
    VIGIL_COMPANY_ID: agent.companyId,
    VIGIL_WAKE_REASON: stringOrNull(context.wakeReason) ?? '',
    VIGIL_CONTEXT: JSON.stringify(context),
  };
  if (issueId) env.VIGIL_ISSUE_ID = issueId;

  const log = deps.logger.child(runLogFields(run));
  const logRef = runLogRef(run.companyId, runId);
  // The last one Temporal records is the moment a worker that dies was last known alive.
  const heartbeat = () => ctx.heartbeat({ aliveAt: new Date().toISOString() } satisfies AdapterHeartbeat);
  const recorder = new RunOutputRecorder(deps.prisma, deps.logStore, { id: runId, companyId: run.companyId, agentId: agent.id, logRef }, heartbeat);
  const ticker = setInterval(heartbeat, LIVENESS_TICK_MS);
  // At once (the SDK sends a first heartbeat unthrottled): a worker that dies in the first second
  // still leaves Temporal a moment it was alive.
  heartbeat();
  let spawned = false;
  try {
    const hooks: Omit<AdapterInvocation, 'config'> = {
      env,
      secrets: [token],
      signal: ctx.cancellationSignal,
      onSpawn: async ({ pid, processGroupId, startedAt }) => {
        spawned = true;
        await recordProcessSpawned(deps.prisma, {
          runId,
          pid,
          processGroupId,
          startedAt,
          host: hostname(),
          workerId: deps.workerId,
          logStore: LOG_STORE,
          logRef,
          event: {
            companyId: run.companyId,
            runId,
            agentId: agent.id,
            eventType: 'adapter.invoke',
            message: runTexts.adapterInvoked(pid),
            payload: { processPid: pid, processGroupId, adapterType: agent.adapterType },
          },
        });
        heartbeat();
        log.info('agent process started', { pid, processGroupId, adapterType: agent.adapterType });
      },
      onOutput: (chunk) => recorder.record(chunk),
    };
    const cli = agentCliFor(agent.adapterType);
    let result: AdapterResult;
    if (cli) {
      const config = parseAgentCliConfig(agent.adapterConfig);
      const prepared = await prepareAgentCliRun(deps, run, agent, config);
      log.info('agent session', { cli: cli.name, resumeSessionId: prepared.resumeSessionId, why: prepared.session.why });
      result = await runAgentCli(cli, {
        ...hooks,
        config,
        prompt: prepared.prompt,
        resumeSessionId: prepared.resumeSessionId,
        sessionUsageBaseline: prepared.sessionUsageBaseline,
        onAgentMessage: (message) => recorder.recordAgentMessage(message),
      });
    } else {
      result = await runProcessAdapter({ ...hooks, config: parseProcessAdapterConfig(agent.adapterConfig) });
    }
    log.info('agent process ended', {
      exitCode: result.exitCode,
      signal: result.signal,
      timedOut: result.timedOut,
      cancelled: result.cancelled,
      processLost: result.processLost,
      durationMs: result.finishedAt.getTime() - result.startedAt.getTime(),
      error: result.errorMessage,
    });
    await recorder.close();
    if (result.cancelled) {
      // The group is gone. A worker shutting down is not a cancel anyone asked for: the run's
      // process was lost (R21). Otherwise let the workflow see the cancellation it requested.
      const reason = await ctx.cancelled.catch((failure: unknown) => (failure instanceof Error ? failure.message : String(failure)));
      // When the group was ended (before a start: when this worker gave the run up), for finalize.
      const lost: WorkerShutdownDetails = { lostAt: result.finishedAt.toISOString() };
      if (reason === 'WORKER_SHUTDOWN' && !spawned) {
        // A draining worker got the task but never started the agent: nothing was lost.
        throw ApplicationFailure.create({ type: WORKER_SHUTDOWN_BEFORE_START_FAILURE, message: runTexts.workerShutDownBeforeStart, nonRetryable: true, details: [lost] });
      }
      if (reason === 'WORKER_SHUTDOWN') {
        throw ApplicationFailure.create({ type: WORKER_SHUTDOWN_FAILURE, message: runTexts.workerShutDown, nonRetryable: true, details: [lost] });
      }
      throw new CancelledFailure('Run cancelled; adapter process group terminated');
    }
    const { startedAt: _started, finishedAt, ...payload } = result;
    // R21: the moment a lost process was lost travels with the result to finalize.
    return { ...payload, lostAt: result.processLost ? finishedAt.toISOString() : null };
  } finally {
    clearInterval(ticker);
    await recorder.flush();
  }
}
