/**
 * The runs whose workflow histories are committed under test/replay/, each driven the way a user
 * or an agent would drive it: through Vigil's REST API, with the real fake-agent scripts of
 * test/fixtures/agents/. Every scenario works in a company of its own and names the workflow(s)
 * to record; the recorder waits for them to close and exports them.
 *
 * One exception to "only the API": the scheduled retry's row is seeded with a due time 3 s away
 * (as test/recovery/recoverySweeps.test.ts does), because the real ladder's first delay is 2 min.
 * Its workflow is started by the same code as every other run and waits on the same durable timer.
 * The recovery sweeper is driven through Temporal, as an operator or a starting Vigil drives it.
 * So is the timer tick: its agent's heartbeat Schedule is fired with `trigger()`, after the agent's
 * creation time is moved back an hour (a seed, so its interval has elapsed).
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { runWorkflowId } from '../../src/domain/runWorkflowId.ts';
import { LIVE_RUN_STATUSES } from '../../src/domain/runStatus.ts';
import { ensureRecoverySweeper, runStartupRecovery } from '../../src/temporal/recoverySweeperClient.ts';
import { pauseSweepsSignal, recoverySweeperStatusQuery, resumeSweepsSignal, sweepNowUpdate } from '../../src/workflows/recoverySweeper.ts';
import { sleep } from '../../src/platform/processes.ts';
import { isProcessGroupAlive } from '../../src/adapters/processGroup.ts';
import { HeartbeatSchedules } from '../../src/temporal/heartbeatSchedules.ts';
import { createLogger } from '../../src/logger.ts';
import { ApiClient } from '../../test/support/apiClient.ts';
import { RECORDING_TASK_QUEUE, SWEEPER_ID_PREFIX, type RecordingStack } from './recordingStack.ts';

export type RecordingContext = RecordingStack & { log: (line: string) => void };

/** One history to record: `test/replay/<file>.json` ← the workflow `workflowId` (its run `runId`, else the latest). */
export interface Recording {
  file: string;
  workflowId: string;
  runId?: string;
}

export interface Scenario {
  /** Names of the files it records (also what `npm run replay:record -- <name>` selects). */
  files: string[];
  /** Recorded before the others start, so that no scenario's runs show up in it. */
  first?: boolean;
  drive(ctx: RecordingContext): Promise<Recording[]>;
}

interface Run {
  id: string;
  status: string;
  errorCode: string | null;
  processGroupId: number | null;
}

const agentScript = (name: string) => fileURLToPath(new URL(`../../test/fixtures/agents/${name}`, import.meta.url));

async function call<T = any>(client: ApiClient, method: 'GET' | 'POST', route: string, body?: unknown): Promise<T> {
  const response = await client.request<T>(method, route, body);
  if (response.status >= 300) throw new Error(`${method} ${route} → ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

async function until<T>(what: string, check: () => Promise<T | null | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** A company and an agent running `script` (the `process` adapter unless told otherwise). */
async function givenAgent(api: ApiClient, script: string, options: { adapterType?: string; env?: Record<string, string>; timeoutSec?: number; graceSec?: number } = {}) {
  const prefix = `R${randomBytes(3).toString('hex').toUpperCase()}`;
  const company = await call(api, 'POST', '/api/companies', { name: `Replay ${prefix}`, issuePrefix: prefix });
  const { adapterType = 'process', ...config } = options;
  const agent = await call(api, 'POST', `/api/companies/${company.id}/agents`, {
    name: `${script.replace(/\.sh$/, '')}-agent`,
    role: 'engineer',
    adapterType,
    adapterConfig: { command: agentScript(script), ...config },
  });
  return { companyId: company.id as string, agentId: agent.id as string };
}

/** An issue assigned as `todo`: the API wakes its agent, and the run's workflow starts on that API's task queue. */
async function givenAssignedIssue(api: ApiClient, companyId: string, agentId: string, title: string) {
  const issue = await call(api, 'POST', `/api/companies/${companyId}/issues`, { title, status: 'todo', assigneeAgentId: agentId });
  return issue.id as string;
}

async function runsOfIssue(ctx: RecordingContext, issueId: string): Promise<Run[]> {
  return call<Run[]>(ctx.admin, 'GET', `/api/issues/${issueId}/runs`);
}

async function firstRunOf(ctx: RecordingContext, issueId: string): Promise<Run> {
  return until(`a run for issue ${issueId}`, async () => (await runsOfIssue(ctx, issueId)).at(-1));
}

/** The run, once its agent process is up (its process group is known). */
async function runningProcess(ctx: RecordingContext, runId: string): Promise<Run & { processGroupId: number }> {
  return until(`run ${runId} to have a live process`, async () => {
    const run = await call<Run>(ctx.admin, 'GET', `/api/heartbeat-runs/${runId}`);
    return run.status === 'running' && run.processGroupId ? (run as Run & { processGroupId: number }) : null;
  });
}

/** Workflows close once Vigil has finished their run; the history is complete from then on. */
async function workflowClosed(ctx: RecordingContext, workflowId: string) {
  await ctx.vigil.temporal.workflow.getHandle(workflowId).result();
}

/** Cancels whatever the company still has live, so nothing outlives the recording. */
async function stopCompanyWork(ctx: RecordingContext, companyId: string) {
  const live = await call<Run[]>(ctx.admin, 'GET', `/api/companies/${companyId}/heartbeat-runs?status=${LIVE_RUN_STATUSES.join(',')}`);
  for (const run of live) await call(ctx.admin, 'POST', `/api/heartbeat-runs/${run.id}/cancel`, {});
}

/**
 * After all scenarios: cancels every run still live anywhere (follow-ups a finalize started,
 * recovery dispatches), until none has appeared for a second, so no agent outlives the stack.
 */
export async function stopAllWork(ctx: RecordingContext) {
  let quietSince = Date.now();
  for (const deadline = Date.now() + 60_000; Date.now() - quietSince < 1_000; await sleep(200)) {
    if (Date.now() > deadline) throw new Error('Runs kept appearing after the scenarios ended');
    const live = await ctx.vigil.prisma.heartbeatRun.findMany({ where: { status: { in: [...LIVE_RUN_STATUSES] } }, select: { id: true } });
    if (live.length > 0) quietSince = Date.now();
    for (const run of live) await call(ctx.admin, 'POST', `/api/heartbeat-runs/${run.id}/cancel`, {});
  }
}

/** A run from one agent process to its end, recorded as `file`. */
function oneRun(file: string, script: string, options: Parameters<typeof givenAgent>[2] = {}, whileRunning?: (ctx: RecordingContext, run: Run) => Promise<void>): Scenario {
  return {
    files: [file],
    async drive(ctx) {
      const { companyId, agentId } = await givenAgent(ctx.admin, script, options);
      const run = await firstRunOf(ctx, await givenAssignedIssue(ctx.admin, companyId, agentId, `Replay scenario: ${file}`));
      if (whileRunning) await whileRunning(ctx, await runningProcess(ctx, run.id));
      await workflowClosed(ctx, runWorkflowId(run.id));
      await stopCompanyWork(ctx, companyId);
      return [{ file, workflowId: runWorkflowId(run.id) }];
    },
  };
}

/**
 * The agent is killed from outside (SIGKILL to its process group) three times in a row: run 1 is
 * `process_lost` and retried once (R22); run 2, the retry, fails and gets a continuation; run 3,
 * the continuation, fails too, so its finalize escalates (R32: issue blocked, recovery issue).
 */
const processLossAndEscalation: Scenario = {
  files: ['process-loss-retry', 'escalation'],
  async drive(ctx) {
    const { companyId, agentId } = await givenAgent(ctx.admin, 'sleep.sh', { env: { SLEEP_SEC: '120' }, graceSec: 1 });
    const issueId = await givenAssignedIssue(ctx.admin, companyId, agentId, 'Replay scenario: killed three times');
    const killed: Run[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const next = await until(`run ${attempt} of the killed issue`, async () => (await runsOfIssue(ctx, issueId)).find((run) => !killed.some((k) => k.id === run.id)));
      const running = await runningProcess(ctx, next.id);
      process.kill(-running.processGroupId, 'SIGKILL');
      await workflowClosed(ctx, runWorkflowId(running.id));
      killed.push(running);
      ctx.log(`  killed run ${attempt} (${running.id})`);
    }
    // The recovery issue's dispatch run sleeps too.
    await stopCompanyWork(ctx, companyId);
    return [
      { file: 'process-loss-retry', workflowId: runWorkflowId(killed[0].id) },
      { file: 'escalation', workflowId: runWorkflowId(killed[2].id) },
    ];
  },
};

/** An overloaded upstream (R35): the run fails `transient_upstream` and its finalize schedules a retry. */
const transientFailure: Scenario = {
  files: ['transient-failure'],
  async drive(ctx) {
    const { companyId, agentId } = await givenAgent(ctx.admin, 'overloaded.sh', { adapterType: 'codex_local' });
    const run = await firstRunOf(ctx, await givenAssignedIssue(ctx.admin, companyId, agentId, 'Replay scenario: overloaded upstream'));
    await workflowClosed(ctx, runWorkflowId(run.id));
    // Its scheduled retry would wait 2 minutes: cancel it (scheduled-retry records one through).
    await stopCompanyWork(ctx, companyId);
    return [{ file: 'transient-failure', workflowId: runWorkflowId(run.id) }];
  },
};

/**
 * A scheduled retry (R38–R40) from start to end: its workflow claims, finds it not yet due, waits on
 * a durable timer, promotes it, runs the agent (now answering) and finalizes. The row is the one
 * scheduleTransientRetry writes, due in 3 s instead of 2 min.
 */
const scheduledRetry: Scenario = {
  files: ['scheduled-retry'],
  async drive(ctx) {
    const { companyId, agentId } = await givenAgent(ctx.admin, 'succeed.sh', { adapterType: 'codex_local' });
    const prisma = ctx.vigil.prisma;
    const issue = await call(ctx.admin, 'POST', `/api/companies/${companyId}/issues`, { title: 'Replay scenario: scheduled retry', status: 'backlog', assigneeAgentId: agentId });
    await prisma.issue.update({ where: { id: issue.id }, data: { status: 'in_progress' } });
    const dueAt = new Date(Date.now() + 3_000);
    const schedule = { retryReason: 'transient_failure', errorFamily: 'transient_upstream', scheduledRetryAttempt: 1, scheduledRetryAt: dueAt.toISOString(), codexTransientFallbackMode: 'same_session' };
    const retry = await prisma.heartbeatRun.create({
      data: {
        companyId, agentId, status: 'scheduled_retry', invocationSource: 'automation', triggerDetail: 'system',
        scheduledRetryAt: dueAt, scheduledRetryAttempt: 1, scheduledRetryReason: 'transient_failure',
        contextSnapshot: { issueId: issue.id, taskId: issue.id, ...schedule, wakeReason: 'transient_failure_retry' },
      },
    });
    await prisma.issue.update({ where: { id: issue.id }, data: { executionRunId: retry.id } });
    await ctx.vigil.runControl.startWorkflows([retry.id]);
    await workflowClosed(ctx, runWorkflowId(retry.id));
    await stopCompanyWork(ctx, companyId);
    return [{ file: 'scheduled-retry', workflowId: runWorkflowId(retry.id) }];
  },
};

/** Kills the agent's process group if it is still there (it was started by a worker now gone). */
function endProcessGroup(pgid: number) {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // already ended by Vigil
  }
}

/**
 * The worker holding the run is SIGKILLed mid-run (a crashed host) and its agent dies with it:
 * the adapter activity stops heartbeating, the heartbeat timeout fires (ACTIVITY_TASK_TIMED_OUT),
 * and the next worker of the host finds the agent gone (issue 13: it reattaches to nothing), so
 * the run is finalized `process_lost` and its retry started (R21/R22).
 */
const workerLost: Scenario = {
  files: ['worker-lost'],
  async drive(ctx) {
    const taskQueue = 'vigil-runs-worker-lost';
    const doomed = await ctx.spawnVigilOn(taskQueue, 2_000);
    const { companyId, agentId } = await givenAgent(doomed.admin, 'sleep.sh', { env: { SLEEP_SEC: '120' }, graceSec: 1 });
    const run = await runningProcess(ctx, (await firstRunOf(ctx, await givenAssignedIssue(doomed.admin, companyId, agentId, 'Replay scenario: worker lost'))).id);
    await doomed.kill();
    // Since issue 13 the agent outlives its worker (the reattach scenario): here it is lost too.
    endProcessGroup(run.processGroupId);
    await ctx.startVigilOn(taskQueue, 2_000);
    await workflowClosed(ctx, runWorkflowId(run.id));
    endProcessGroup(run.processGroupId);
    await stopCompanyWork(ctx, companyId);
    return [{ file: 'worker-lost', workflowId: runWorkflowId(run.id) }];
  },
};

/**
 * The worker holding the run shuts down in VIGIL_SHUTDOWN_MODE=kill (deploy-detach records the
 * default, detach): after its grace period the adapter activity kills the agent and fails with
 * WorkerShutdown (ACTIVITY_TASK_FAILED); the next worker on the queue finalizes the run
 * `process_lost` (R21).
 */
const workerShutdown: Scenario = {
  files: ['worker-shutdown'],
  async drive(ctx) {
    const taskQueue = 'vigil-runs-worker-shutdown';
    const leaving = await ctx.startVigilOn(taskQueue, 5_000, { shutdownMode: 'kill' });
    const leavingApi = new ApiClient(leaving.apiUrl, ctx.admin.token);
    const { companyId, agentId } = await givenAgent(leavingApi, 'sleep.sh', { env: { SLEEP_SEC: '120' }, graceSec: 1 });
    const run = await runningProcess(ctx, (await firstRunOf(ctx, await givenAssignedIssue(leavingApi, companyId, agentId, 'Replay scenario: worker shut down'))).id);
    await leaving.stop();
    await ctx.startVigilOn(taskQueue, 5_000, { shutdownMode: 'kill' });
    await workflowClosed(ctx, runWorkflowId(run.id));
    endProcessGroup(run.processGroupId);
    await stopCompanyWork(ctx, companyId);
    return [{ file: 'worker-shutdown', workflowId: runWorkflowId(run.id) }];
  },
};

/** The run once it has ended, which must be `status`: a scenario that went another way is not recorded. */
async function endedAs(ctx: RecordingContext, runId: string, status: string): Promise<Run> {
  const run = await call<Run>(ctx.admin, 'GET', `/api/heartbeat-runs/${runId}`);
  if (run.status !== status) throw new Error(`Run ${runId} ended ${run.status} (${run.errorCode}), expected ${status}`);
  return run;
}

/** An agent that outlives its worker: ticks for ~`ticks / 2` s, then reports its result (test/fixtures/agents/counts-slowly.sh). */
const ticker = (ticks: number) => ({ env: { TICKS: String(ticks), TICK_SEC: '0.5' }, graceSec: 1 });

/**
 * Issue 13, a crash: the worker holding the run is SIGKILLed mid-run; the agent runs on under the
 * host's supervisor. The adapter activity times out on its heartbeat, the workflow schedules it
 * again on the host's task queue (`…@host:record-host`), and another worker of the same host (same
 * host id and supervisor) reattaches: the run ends `succeeded` with the agent's own result.
 */
const reattach: Scenario = {
  files: ['reattach'],
  async drive(ctx) {
    const taskQueue = 'vigil-runs-reattach';
    const doomed = await ctx.spawnVigilOn(taskQueue, 2_000);
    const { companyId, agentId } = await givenAgent(doomed.admin, 'counts-slowly.sh', ticker(40));
    const run = await runningProcess(ctx, (await firstRunOf(ctx, await givenAssignedIssue(doomed.admin, companyId, agentId, 'Replay scenario: reattach'))).id);
    await doomed.kill();
    await ctx.startVigilOn(taskQueue, 2_000);
    await workflowClosed(ctx, runWorkflowId(run.id));
    await endedAs(ctx, run.id, 'succeeded');
    await stopCompanyWork(ctx, companyId);
    return [{ file: 'reattach', workflowId: runWorkflowId(run.id) }];
  },
};

/**
 * Issue 13, a deploy: the worker holding the run stops in VIGIL_SHUTDOWN_MODE=detach (what SIGTERM
 * does): its adapter activity leaves the agent to the supervisor and fails with WorkerDetached at
 * once; the workflow schedules it again on the host's task queue, where the next worker of the host
 * reattaches: the run ends `succeeded`.
 */
const deployDetach: Scenario = {
  files: ['deploy-detach'],
  async drive(ctx) {
    const taskQueue = 'vigil-runs-deploy-detach';
    const leaving = await ctx.startVigilOn(taskQueue, 5_000, { shutdownMode: 'detach' });
    const leavingApi = new ApiClient(leaving.apiUrl, ctx.admin.token);
    const { companyId, agentId } = await givenAgent(leavingApi, 'counts-slowly.sh', ticker(30));
    const run = await runningProcess(ctx, (await firstRunOf(ctx, await givenAssignedIssue(leavingApi, companyId, agentId, 'Replay scenario: deploy detaches'))).id);
    await leaving.stop();
    await ctx.startVigilOn(taskQueue, 5_000, { shutdownMode: 'detach' });
    await workflowClosed(ctx, runWorkflowId(run.id));
    await endedAs(ctx, run.id, 'succeeded');
    await stopCompanyWork(ctx, companyId);
    return [{ file: 'deploy-detach', workflowId: runWorkflowId(run.id) }];
  },
};

/**
 * Issue 13, R14 with no worker watching the agent: the worker holding the run is SIGKILLed, a new
 * worker of the host comes up, and the run is cancelled before the adapter activity's heartbeat
 * timeout. The cancel is requested of an activity no worker runs; when it times out, the workflow
 * ends the agent's group through `terminateAgent` on the host's task queue, and the run is `cancelled`.
 */
const cancelUnwatched: Scenario = {
  files: ['cancel-unwatched'],
  async drive(ctx) {
    const taskQueue = 'vigil-runs-cancel-unwatched';
    // Long enough for the new worker to start and the cancel to land before the heartbeat timeout.
    const heartbeatTimeoutMs = 10_000;
    const doomed = await ctx.spawnVigilOn(taskQueue, heartbeatTimeoutMs);
    const { companyId, agentId } = await givenAgent(doomed.admin, 'counts-slowly.sh', ticker(240));
    const run = await runningProcess(ctx, (await firstRunOf(ctx, await givenAssignedIssue(doomed.admin, companyId, agentId, 'Replay scenario: cancel unwatched'))).id);
    await doomed.kill();
    await ctx.startVigilOn(taskQueue, heartbeatTimeoutMs);
    await call(ctx.admin, 'POST', `/api/heartbeat-runs/${run.id}/cancel`, { reason: 'recorded cancel while unwatched' });
    await workflowClosed(ctx, runWorkflowId(run.id));
    await endedAs(ctx, run.id, 'cancelled');
    await until('the cancelled agent group to be gone', async () => ((await isProcessGroupAlive(run.processGroupId)) ? null : true), 30_000);
    await stopCompanyWork(ctx, companyId);
    return [{ file: 'cancel-unwatched', workflowId: runWorkflowId(run.id) }];
  },
};

/**
 * The recovery sweeper (R68), one execution of it from start to continue-as-new: a startup pass
 * as a starting Vigil asks for it (it reaps a run whose workflow was terminated and starts the
 * retry), periodic passes on the durable timer, `pause`, a `sweepNow` while paused, `resume`, and
 * the continue-as-new its history budget triggers. Interval and budget are small so that all
 * happens in seconds; the sweeper is scoped to the scenario's company so it leaves the others alone.
 */
const recoverySweeper: Scenario = {
  files: ['recovery-sweeper'],
  async drive(ctx) {
    const { companyId, agentId } = await givenAgent(ctx.admin, 'sleep.sh', { env: { SLEEP_SEC: '120' }, graceSec: 1 });
    const run = await runningProcess(ctx, (await firstRunOf(ctx, await givenAssignedIssue(ctx.admin, companyId, agentId, 'Replay scenario: recovery sweeper'))).id);
    // The run's workflow is lost (terminated) and its agent dies: the row says running, nothing runs it.
    await ctx.vigil.temporal.workflow.getHandle(runWorkflowId(run.id)).terminate('replay scenario: the run workflow is lost');
    endProcessGroup(run.processGroupId);

    const idPrefix = `${SWEEPER_ID_PREFIX}scenario-`;
    const sweeper = await ensureRecoverySweeper(ctx.vigil.temporal, {
      taskQueue: RECORDING_TASK_QUEUE,
      idPrefix,
      intervalMs: 300,
      companyId,
      historyBudget: { events: 150, bytes: 4 * 1024 * 1024 },
    });
    const { runId } = await sweeper.describe();
    const startup = await runStartupRecovery(ctx.vigil.temporal, idPrefix);
    if (startup.reap?.reaped !== 1) throw new Error(`The startup pass reaped ${startup.reap?.reaped} runs, expected the lost one: ${JSON.stringify(startup)}`);
    const status = () => sweeper.query(recoverySweeperStatusQuery);
    await until('two periodic passes', async () => ((await status()).passes.periodic >= 2 ? true : null));
    await sweeper.signal(pauseSweepsSignal);
    await until('the sweeper to pause', async () => ((await status()).nextDueAt === null ? true : null));
    await sweeper.executeUpdate(sweepNowUpdate, { args: [{ sweeps: ['reconcile'] }] });
    await sweeper.signal(resumeSweepsSignal);
    await until('the sweeper to continue as new', async () => ((await status()).execution > 1 ? true : null));
    await sweeper.terminate('replay scenario recorded');
    await stopCompanyWork(ctx, companyId);
    return [{ file: 'recovery-sweeper', workflowId: sweeper.workflowId, runId }];
  },
};

/**
 * One agent's timer tick (R70): the agent's heartbeat Schedule, made by the same code the agent
 * routes use, fired once; the tick enqueues the timer wake and starts the run's workflow, which
 * runs to the end before the recording finishes.
 */
const timerTick: Scenario = {
  files: ['timer-tick'],
  async drive(ctx) {
    const { companyId, agentId } = await givenAgent(ctx.admin, 'succeed.sh');
    const hourAgo = new Date(Date.now() - 3_600_000);
    await ctx.vigil.prisma.agent.update({ where: { id: agentId }, data: { runtimeConfig: { heartbeat: { enabled: true, intervalSec: 1_800 } }, createdAt: hourAgo } });
    const schedules = new HeartbeatSchedules({ client: ctx.vigil.temporal, prisma: ctx.vigil.prisma, logger: createLogger('error') }, { taskQueue: RECORDING_TASK_QUEUE, idPrefix: SWEEPER_ID_PREFIX, companyId });
    if ((await schedules.sync(agentId)) !== 'create') throw new Error('The timer agent got no heartbeat Schedule');
    const schedule = ctx.vigil.temporal.schedule.getHandle(schedules.scheduleId(agentId));
    try {
      await schedule.trigger();
      const tick = await until('the triggered tick', async () => (await schedule.describe()).info.recentActions.at(-1)?.action.workflow);
      const result = await ctx.vigil.temporal.workflow.getHandle(tick.workflowId, tick.firstExecutionRunId).result();
      if (result.outcome !== 'queued') throw new Error(`The tick did not queue a run: ${JSON.stringify(result)}`);
      await workflowClosed(ctx, runWorkflowId(result.runId));
      return [{ file: 'timer-tick', workflowId: tick.workflowId, runId: tick.firstExecutionRunId }];
    } finally {
      await schedule.delete();
      await stopCompanyWork(ctx, companyId);
    }
  },
};

export const SCENARIOS: Scenario[] = [
  oneRun('success', 'succeed.sh'),
  oneRun('failure', 'fail.sh'),
  oneRun('cancel', 'sleep.sh', { env: { SLEEP_SEC: '120' }, graceSec: 1 }, async (ctx, run) => {
    await call(ctx.admin, 'POST', `/api/heartbeat-runs/${run.id}/cancel`, { reason: 'recorded cancel' });
  }),
  oneRun('timeout', 'sleep.sh', { env: { SLEEP_SEC: '120' }, timeoutSec: 1, graceSec: 1 }),
  processLossAndEscalation,
  transientFailure,
  scheduledRetry,
  workerLost,
  workerShutdown,
  reattach,
  deployDetach,
  cancelUnwatched,
  recoverySweeper,
  timerTick,
];
