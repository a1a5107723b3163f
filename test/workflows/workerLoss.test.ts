/**
 * A worker that dies mid-run surfaces through the adapter activity's heartbeat timeout. Its agent
 * outlives it on its host (issue 13); when no worker comes back to that host within the reattach
 * window (a host gone), the run becomes failed / process_lost without any sweep, finalized by
 * another worker on the queue.
 */
import { afterAll, describe, expect, it, inject } from 'vitest';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { startVigilProcess } from '../support/vigilProcess.ts';
import { eventually, givenAgent, givenCompany, isGroupAlive, waitForRunStatus } from '../support/fixtures.ts';
import { terminateProcessGroup } from '../../src/adapters/processGroup.ts';
import { generateAdminToken } from '../../src/auth/tokens.ts';
import { createPrismaClient } from '../../src/store/db.ts';
import type { MetricValueWithName } from 'prom-client';

const HEARTBEAT_TIMEOUT_MS = 2_000;
const REATTACH_WINDOW_MS = 2_000;
const prisma = createPrismaClient(inject('databaseUrl'));
const cleanups: Array<() => Promise<unknown>> = [];

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await prisma.$disconnect();
});

/** Vigil (API + worker) in a child process, so the test can SIGKILL it, on a host no other worker of the test is on. */
async function startDoomedVigil(taskQueue: string, adminToken: string) {
  const doomed = await startVigilProcess({
    taskQueue,
    adminToken,
    adapterHeartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
    label: 'vigil-doomed',
    agentHosting: { hostId: `doomed-${randomUUID()}`, reattachWindowMs: REATTACH_WINDOW_MS },
  });
  cleanups.push(doomed.stop);
  return doomed;
}

/** The detection-time histogram of one loss path, as a Vigil's own registry holds it. */
async function lossDetection(vigil: TestVigil, path: string): Promise<{ count: number; sum: number }> {
  const { values } = await vigil.vigil.metrics.registry.getSingleMetric('vigil_process_loss_detection_seconds')!.get();
  const of = (name: string) => (values as MetricValueWithName<string>[]).find((value) => value.metricName === name && value.labels.path === path)?.value ?? 0;
  return { count: of('vigil_process_loss_detection_seconds_count'), sum: of('vigil_process_loss_detection_seconds_sum') };
}

describe('a worker that dies mid-run', () => {
  it('surfaces as a heartbeat timeout; no worker back on its host within the window: process_lost, and exactly one retry runs', async () => {
    const taskQueue = `vigil-test-${randomUUID()}`;
    const doomed = await startDoomedVigil(taskQueue, generateAdminToken());
    const acme = await givenCompany(doomed.admin);
    const agent = await givenAgent(acme, { script: 'sleep.sh', env: { SLEEP_SEC: '120' } });
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
    expect(woken.status).toBe(202);
    const running = await eventually(async () => {
      const row = await prisma.heartbeatRun.findUnique({ where: { id: woken.body.id } });
      return row?.processGroupId ? row : null;
    }, 30_000, 'the agent to start on the doomed worker');
    // The agent runs detached in its own group and outlives its worker; end it after the test.
    cleanups.push(async () => (await isGroupAlive(running.processGroupId!)) && terminateProcessGroup(running.processGroupId!, { graceMs: 500 }));

    doomed.child.kill('SIGKILL');
    await once(doomed.child, 'exit');
    const killedAt = Date.now();
    // Another worker on the same task queue (another host) finalizes the run once the heartbeat
    // timeout has fired and the reattach window has passed with no worker on the agent's host.
    const replacement = await startTestVigil({ adapterHeartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS, taskQueue });
    cleanups.push(() => replacement.stop());

    const run = await waitForRunStatus(prisma, running.id, ['succeeded', 'failed', 'cancelled', 'timed_out'], 60_000);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'process_lost' });
    expect(run.error).toBe(`Process lost -- the worker running it stopped heartbeating (child pid ${running.processPid}); retrying once`);
    // The dead worker's agent is on this host: it was ended before the retry could start a second one.
    expect(await isGroupAlive(running.processGroupId!)).toBe(false);
    expect(run.resultJson).toMatchObject({ stopReason: 'process_lost', workerLost: 'no worker came back to the agent process within the reattach window' });
    expect(run.finishedAt!.getTime()).toBeGreaterThan(killedAt);
    const workflowResult = await replacement.vigil.temporal.workflow.getHandle(`run-${run.id}`).result();
    expect(workflowResult).toEqual({ runId: run.id, status: 'failed', errorCode: 'process_lost' });
    // Measured from the last heartbeat Temporal recorded (its own timestamp, carried by the timeout):
    // at least the heartbeat timeout, and that heartbeat was at most one throttle interval
    // (0.8 × the timeout) plus one 1 s tick older than the kill.
    const detected = await eventually(async () => {
      const histogram = await lossDetection(replacement, 'heartbeat_timeout');
      return histogram.count > 0 ? histogram : null;
    }, 10_000, 'the detection time to be recorded');
    expect(detected.count).toBe(1);
    expect(detected.sum).toBeGreaterThanOrEqual(HEARTBEAT_TIMEOUT_MS / 1000);
    expect(detected.sum).toBeLessThanOrEqual((Date.now() - killedAt + 2 * HEARTBEAT_TIMEOUT_MS) / 1000);

    // Exactly one retry run (R22/R23), its own workflow, named after the run it retries.
    const retries = await prisma.heartbeatRun.findMany({ where: { agentId: agent.id, id: { not: run.id } } });
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ retryOfRunId: run.id, processLossRetryCount: 1 });
    const retryRunning = await waitForRunStatus(prisma, retries[0].id, ['running'], 30_000);
    const retryWorkflow = await replacement.vigil.temporal.workflow.getHandle(`run-${retryRunning.id}`).describe();
    expect(retryWorkflow.searchAttributes).toMatchObject({ VigilRetryOfRunId: [run.id], VigilRetryKind: ['process_lost'] });
    await replacement.admin.post(`/api/heartbeat-runs/${retryRunning.id}/cancel`, {});
    expect(await prisma.heartbeatRun.count({ where: { agentId: agent.id } })).toBe(2);
  });

  it('ends the runs of a worker shut down mid-run as process_lost, with their process groups killed', async () => {
    const taskQueue = `vigil-test-${randomUUID()}`;
    const stopping = await startTestVigil({ adapterHeartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS, taskQueue });
    cleanups.push(() => stopping.stop());
    const acme = await givenCompany(stopping.admin);
    const agent = await givenAgent(acme, { script: 'sleep.sh', env: { SLEEP_SEC: '120' }, graceSec: 1 });
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
    const running = await eventually(async () => {
      const row = await prisma.heartbeatRun.findUnique({ where: { id: woken.body.id } });
      return row?.processGroupId ? row : null;
    }, 30_000, 'the agent to start');

    // A deploy: the worker shuts down; after its grace period the agent's group is killed.
    const stopStartedAt = Date.now();
    await stopping.stop();
    const stoppedAt = Date.now();
    expect(await isGroupAlive(running.processGroupId!)).toBe(false);
    const replacement = await startTestVigil({ adapterHeartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS, taskQueue });
    cleanups.push(() => replacement.stop());
    const run = await waitForRunStatus(prisma, running.id, ['succeeded', 'failed', 'cancelled', 'timed_out'], 60_000);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'process_lost' });
    expect(run.resultJson).toMatchObject({ stopReason: 'process_lost', workerLost: 'worker shut down while the agent process was running' });
    // Measured from the moment the shutting-down worker ended the group (carried by its failure):
    // inside the shutdown, so the span is at least from its end to the write, at most from its start.
    const detected = await eventually(async () => {
      const histogram = await lossDetection(replacement, 'worker_shutdown');
      return histogram.count > 0 ? histogram : null;
    }, 10_000, 'the detection time to be recorded');
    expect(detected.count).toBe(1);
    expect(detected.sum).toBeGreaterThanOrEqual((run.finishedAt!.getTime() - stoppedAt) / 1000);
    expect(detected.sum).toBeLessThanOrEqual((Date.now() - stopStartedAt) / 1000);
  });
});
