/**
 * Runs the agent's adapter process for a claimed run. The activity heartbeats while the child
 * lives (on output and on a 1 s tick), so a dead worker surfaces to the workflow as a heartbeat
 * timeout, and a cancellation reaches the child through the heartbeat response: the whole
 * process group is killed before the activity reports the cancellation. Each heartbeat says when
 * it was sent, and a lost process's result or failure says when it was lost: the moment travels
 * in the value to finalize's detection-time histogram.
 *
 * Attach-or-spawn (issue 13): the agent is started by the host's supervisor, keyed by the run,
 * and outlives this worker. Each heartbeat also names this host's task queue, so when the worker
 * dies (a heartbeat timeout) or detaches on a deploy (`WorkerDetached`), the workflow runs this
 * activity again on the same host, and the new attempt attaches to the agent still running (or
 * to its recorded exit): the run keeps its id, and its output is recorded once.
 */
import { hostname } from 'node:os';
import { ApplicationFailure, Context, CancelledFailure } from '@temporalio/activity';
import type { ActivityDeps } from './deps.ts';
import {
  WORKER_DETACHED_FAILURE,
  WORKER_SHUTDOWN_BEFORE_START_FAILURE,
  WORKER_SHUTDOWN_FAILURE,
  type AdapterHeartbeat,
  type AdapterResultPayload,
  type WorkerDetachedDetails,
  type WorkerShutdownDetails,
} from '../domain/runOutcome.ts';
import { AgentDetachedError } from '../adapters/superviseProcess.ts';
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
import { TERMINAL_RUN_STATUSES, tracksLocalChild } from '../domain/runStatus.ts';
import { UNWATCHED_CANCEL_GRACE_SEC } from '../domain/runTimeouts.ts';
import { terminateAgent } from './terminateAgent.ts';
import { RunOutputRecorder } from './runOutputRecorder.ts';
import { runLogFields } from '../runLogContext.ts';
import { idempotencyPrefix } from '../domain/idempotencyPrefix.ts';
import { lineageRootRunId } from '../store/runLineage.ts';
import { readRunWithAgent } from '../store/runWithAgent.ts';

const LIVENESS_TICK_MS = 1_000;

/** How the workflow calls the activity; `reattachable`: it sends a detached run back to its host (older workflows do not). */
export interface ExecuteOptions {
  reattachable?: boolean;
}

export async function executeAdapter(deps: ActivityDeps, runId: string, options: ExecuteOptions = {}): Promise<AdapterResultPayload> {
  const ctx = Context.current();
  const found = await readRunWithAgent(deps.prisma, runId);
  if (!found) throw new Error(`Run ${runId} or its agent not found`);
  const { run, agent } = found;
  // `claude_local` and `codex_local` run their CLI; every other local-child adapter type runs its
  // configured command as a process (API.md).
  if (!tracksLocalChild(agent.adapterType)) {
    throw new Error(`Adapter type "${agent.adapterType}" is not available on this worker`);
  }
  if ((TERMINAL_RUN_STATUSES as readonly string[]).includes(run.status)) {
    // Ended while no worker watched its agent (the API's cancel fallback, R14): the agent ends too
    // (issue 13), and finalize finds the run's status standing (R5).
    await terminateAgent(deps, { runId, graceSec: UNWATCHED_CANCEL_GRACE_SEC });
    throw ApplicationFailure.create({ type: 'RunAlreadyEnded', message: `The run is already ${run.status}`, nonRetryable: true });
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
    // Issue 14 §3: the stem of the agent's `Idempotency-Key`s, the same for every retry and
    // continuation of this run's lineage (src/domain/idempotencyPrefix.ts).
    // A run that retries nothing is its own lineage's root (no statement spent on most runs).
    VIGIL_IDEMPOTENCY_PREFIX: idempotencyPrefix({ issueId, rootRunId: run.retryOfRunId === null ? runId : await lineageRootRunId(deps.prisma, runId) }),
  };
  if (issueId) env.VIGIL_ISSUE_ID = issueId;

  const log = deps.logger.child(runLogFields(run));
  const logRef = runLogRef(run.companyId, runId);
  // The last one Temporal records is the moment a worker that dies was last known alive, and
  // names the host where its agent runs on (issue 13).
  const hostQueue = deps.agents.hostQueue;
  const heartbeat = () => ctx.heartbeat({ aliveAt: new Date().toISOString(), hostQueue } satisfies AdapterHeartbeat);
  const recorder = new RunOutputRecorder(deps.prisma, deps.logStore, { id: runId, companyId: run.companyId, agentId: agent.id, logRef }, heartbeat);
  const ticker = setInterval(heartbeat, LIVENESS_TICK_MS);
  // At once (the SDK sends a first heartbeat unthrottled): a worker that dies in the first second
  // still leaves Temporal a moment it was alive.
  heartbeat();
  let spawned = false;
  const releases: Array<() => Promise<void>> = [];
  try {
    const hooks: Omit<AdapterInvocation, 'config'> = {
      env,
      secrets: [token],
      signal: ctx.cancellationSignal,
      // A run whose agent was recorded as started is only ever attached to, never started again.
      supervision: { key: runId, mayStart: run.processPid === null },
      supervisorDir: deps.agents.supervisorDir,
      unattendedMs: deps.agents.reattachWindowMs,
      // Only a workflow that sends the run back to this host may leave its agent running.
      detach: options.reattachable ? deps.agents.detach : undefined,
      onReleasable: (release) => releases.push(release),
      onSpawn: async ({ pid, processGroupId, startedAt, startTicks, reattached }) => {
        spawned = true;
        // Before any output is delivered: what earlier workers stored is not stored again.
        if (reattached) await recorder.resume(deps.logStore);
        // R18/R19: where the process is, and which worker watches it now (written again on a
        // reattach: the worker that started it may have died before it could record it).
        await recordProcessSpawned(deps.prisma, {
          runId,
          pid,
          processGroupId,
          startedAt,
          startTicks: startTicks ?? null,
          host: hostname(),
          workerId: deps.workerId,
          logStore: LOG_STORE,
          logRef,
          event: reattached
            ? { companyId: run.companyId, runId, agentId: agent.id, eventType: 'adapter.reattach', message: runTexts.adapterReattached(pid), payload: { processPid: pid, processGroupId } }
            : {
                companyId: run.companyId,
                runId,
                agentId: agent.id,
                eventType: 'adapter.invoke',
                message: runTexts.adapterInvoked(pid),
                payload: { processPid: pid, processGroupId, adapterType: agent.adapterType },
              },
        });
        heartbeat();
        if (reattached) deps.metrics.agentHandover('reattached');
        log.info(reattached ? 'reattached to agent process' : 'agent process started', { pid, processGroupId, adapterType: agent.adapterType });
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
    if (result.cancelled && ctx.cancellationSignal.aborted) {
      // The group is gone. A worker shutting down is not a cancel anyone asked for: the run's
      // process was lost (R21). Otherwise let the workflow see the cancellation it requested.
      // (A reattached agent ended by a cancel this attempt never got returns its result: cancelled, R5.)
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
  } catch (error) {
    if (!(error instanceof AgentDetachedError)) throw error;
    if (!spawned && run.processPid === null) {
      // Detached before the agent was ever started: any worker may start it (a handover, not a reattach).
      throw ApplicationFailure.create({ type: WORKER_SHUTDOWN_BEFORE_START_FAILURE, message: runTexts.workerShutDownBeforeStart, nonRetryable: true, details: [{ lostAt: new Date().toISOString() } satisfies WorkerShutdownDetails] });
    }
    // A deploy (issue 13): the agent runs on under the supervisor; the workflow reattaches on this host.
    await recorder.flush();
    deps.metrics.agentHandover('detached');
    log.info('detached from agent process; the next worker on this host reattaches', { pid: error.pid, hostQueue });
    const details: WorkerDetachedDetails = { hostQueue, aliveAt: new Date().toISOString() };
    throw ApplicationFailure.create({ type: WORKER_DETACHED_FAILURE, message: runTexts.workerDetached, nonRetryable: true, details: [details] });
  } finally {
    clearInterval(ticker);
    await recorder.flush();
    // Whatever the agent ended as, its output is recorded now: the supervisor may forget it and its files.
    for (const release of releases.splice(0)) await release();
  }
}
