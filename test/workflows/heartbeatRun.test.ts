/**
 * One heartbeat run, end to end: the API creates the run, its Temporal workflow claims it,
 * executes a real agent process, and finalizes it — against the real PostgreSQL and Temporal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVigil, TEST_TEMPORAL_UI_URL, type TestVigil } from '../support/harness.ts';
import { enqueueWakeup } from '../../src/store/wakeups.ts';
import { hostname } from 'node:os';
import {
  eventually,
  givenAgent,
  givenCompany,
  givenIssue,
  isGroupAlive,
  isPidAlive,
  waitForIssueRun,
  waitForRunStatus,
  type CompanyFixture,
} from '../support/fixtures.ts';

let vigil: TestVigil;
let acme: CompanyFixture;

beforeAll(async () => {
  vigil = await startTestVigil();
  acme = await givenCompany(vigil.admin);
});

afterAll(async () => {
  await vigil?.stop();
});

describe('a heartbeat run on Temporal', () => {
  it('succeeds, posts its summary as a comment and releases everything it held', async () => {
    const agent = await givenAgent(acme, { script: 'succeed.sh', role: 'engineer' });
    const issue = await givenIssue(acme, { status: 'todo', assigneeAgentId: agent.id });
    const queued = await waitForIssueRun(vigil.vigil.prisma, issue.id);
    expect(queued.invocationSource).toBe('assignment');
    const run = await waitForRunStatus(vigil.vigil.prisma, queued.id, ['succeeded', 'failed', 'cancelled', 'timed_out']);

    expect(run.status).toBe('succeeded');
    expect(run.errorCode).toBeNull();
    expect(run.exitCode).toBe(0);
    expect(run.processPid).toBeGreaterThan(0);
    expect(run.processGroupId).toBe(run.processPid);
    expect(run.resultJson).toMatchObject({ summary: 'Fixed the flaky test', stopReason: 'completed', timeoutFired: false, timeoutConfigured: false, timeoutSource: 'default', effectiveTimeoutSec: 0 });

    const prisma = vigil.vigil.prisma;
    // R8 step 5: the summary becomes the agent's comment, attributed to the run.
    const comments = await prisma.issueComment.findMany({ where: { issueId: issue.id } });
    expect(comments).toHaveLength(1);
    expect(comments[0]).toMatchObject({ body: 'Fixed the flaky test', authorAgentId: agent.id, createdByRunId: run.id });
    // R9 checkout, R28 release: the issue is in progress, checked out by the run, lock released.
    const after = await prisma.issue.findUniqueOrThrow({ where: { id: issue.id } });
    expect(after).toMatchObject({ status: 'in_progress', checkoutRunId: run.id, executionRunId: null });
    // R2/R10/R11: wake completed, agent idle with a heartbeat, first-heartbeat telemetry names the role.
    expect((await prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: run.wakeupRequestId! } })).status).toBe('completed');
    const agentRow = await prisma.agent.findUniqueOrThrow({ where: { id: agent.id } });
    expect(agentRow.status).toBe('idle');
    expect(agentRow.lastHeartbeatAt).not.toBeNull();
    const telemetry = await prisma.activityLog.findMany({ where: { agentId: agent.id, action: 'telemetry.agent_first_heartbeat' } });
    expect(telemetry).toHaveLength(1);
    expect(telemetry[0].details).toEqual({ agentRole: 'engineer', agentId: agent.id });
    // R27: one lease, acquired and released.
    const leases = await prisma.environmentLease.findMany({ where: { heartbeatRunId: run.id } });
    expect(leases.map((l) => l.status)).toEqual(['released']);
    expect(leases[0].releasedAt).not.toBeNull();

    // The board sees the run, its workflow, its events and its log.
    const detail = await acme.board.get(`/api/heartbeat-runs/${run.id}`);
    expect(detail.status).toBe(200);
    expect(detail.body.workflowId).toBe(`run-${run.id}`);
    expect(detail.body.temporalUiUrl).toBe(`${TEST_TEMPORAL_UI_URL}/namespaces/default/workflows/run-${run.id}`);
    const events = await acme.board.get(`/api/heartbeat-runs/${run.id}/events`);
    const messages = events.body.map((e: { message: string }) => e.message);
    expect(messages[0]).toBe('run started');
    expect(messages).toContain('run succeeded');
    expect(events.body.some((e: { eventType: string; stream: string; message: string }) => e.eventType === 'log' && e.stream === 'stdout' && e.message.includes('editing src/flaky.test.ts'))).toBe(true);
    expect(events.body.map((e: { seq: number }) => e.seq)).toEqual([...events.body.keys()].map((i) => i + 1));
    const log = await acme.board.get(`/api/heartbeat-runs/${run.id}/log`);
    expect(log.status).toBe(200);
    expect(log.body.content).toContain('editing src/flaky.test.ts');
    expect(log.body.nextOffset).toBeNull();

    // Temporal: the workflow completed and carries the run's search attributes.
    const handle = vigil.vigil.temporal.workflow.getHandle(`run-${run.id}`);
    expect(await handle.result()).toEqual({ runId: run.id, status: 'succeeded', errorCode: null });
    const description = await handle.describe();
    expect(description.status.name).toBe('COMPLETED');
    expect(description.searchAttributes).toMatchObject({ VigilCompanyId: [acme.company.id], VigilAgentId: [agent.id], VigilIssueId: [issue.id], VigilRunStatus: ['succeeded'] });
    const listed = await eventually(async () => {
      const found: string[] = [];
      for await (const wf of vigil.vigil.temporal.workflow.list({ query: `VigilIssueId = '${issue.id}' AND VigilRunStatus = 'succeeded'` })) found.push(wf.workflowId);
      return found.length ? found : null;
    }, 10_000, 'the run to be filterable by search attributes');
    expect(listed).toEqual([`run-${run.id}`]);
  });

  it('fails with adapter_failed when the agent exits non-zero', async () => {
    const agent = await givenAgent(acme, { script: 'fail.sh' });
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { reason: 'manual_check' });
    expect(woken.status).toBe(202);
    const run = await waitForRunStatus(vigil.vigil.prisma, woken.body.id, ['succeeded', 'failed', 'cancelled', 'timed_out']);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'adapter_failed', exitCode: 3 });
    expect(run.error).toMatch(/exit/i);
    expect(run.resultJson).toMatchObject({ stopReason: 'adapter_failed', timeoutFired: false });
    expect(run.livenessState).toBe('failed');
    expect(run.livenessReason).toBe('Run ended with failed (adapter_failed)');
    const prisma = vigil.vigil.prisma;
    expect((await prisma.agent.findUniqueOrThrow({ where: { id: agent.id } })).status).toBe('error');
    expect((await prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: run.wakeupRequestId! } })).status).toBe('failed');
    expect((await prisma.environmentLease.findMany({ where: { heartbeatRunId: run.id } })).map((l) => l.status)).toEqual(['failed']);
  });

  it('marks an overloaded upstream failure as transient_upstream', async () => {
    const agent = await givenAgent(acme, { script: 'overloaded.sh' });
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
    const run = await waitForRunStatus(vigil.vigil.prisma, woken.body.id, ['succeeded', 'failed', 'cancelled', 'timed_out']);
    expect(run.status).toBe('failed');
    expect(run.resultJson).toMatchObject({ errorFamily: 'transient_upstream' });
  });

  it('times out: SIGTERM to the group, SIGKILL after graceSec, timed_out with timeoutFired', async () => {
    const agent = await givenAgent(acme, { script: 'stubborn.sh', timeoutSec: 1, graceSec: 1 });
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
    const run = await waitForRunStatus(vigil.vigil.prisma, woken.body.id, ['succeeded', 'failed', 'cancelled', 'timed_out']);
    expect(run).toMatchObject({ status: 'timed_out', errorCode: 'timeout' });
    expect(run.resultJson).toMatchObject({ stopReason: 'timeout', timeoutFired: true, timeoutConfigured: true, timeoutSource: 'config', effectiveTimeoutSec: 1 });
    expect(await isGroupAlive(run.processGroupId!)).toBe(false);
    expect((await vigil.vigil.prisma.environmentLease.findMany({ where: { heartbeatRunId: run.id } })).map((l) => l.status)).toEqual(['failed']);
  });

  it('cancels a running run: the process group is gone before the run is cancelled', async () => {
    const agent = await givenAgent(acme, { script: 'stubborn.sh', graceSec: 1 });
    const issue = await givenIssue(acme, { status: 'todo', assigneeAgentId: agent.id });
    const queued = await waitForIssueRun(vigil.vigil.prisma, issue.id);
    const running = await eventually(async () => {
      const row = await vigil.vigil.prisma.heartbeatRun.findUnique({ where: { id: queued.id } });
      return row?.status === 'running' && row.processGroupId ? row : null;
    }, 20_000, 'the agent process to start');
    expect(await isGroupAlive(running.processGroupId!)).toBe(true);

    const cancelled = await acme.board.post(`/api/heartbeat-runs/${running.id}/cancel`, {});
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', errorCode: 'cancelled', error: 'Cancelled by control plane' });
    expect(cancelled.body.resultJson).toMatchObject({ stopReason: 'cancelled', timeoutFired: false });
    // The whole group — leader and the grandchild that ignores SIGTERM — is gone.
    expect(await isPidAlive(running.processPid!)).toBe(false);
    expect(await isGroupAlive(running.processGroupId!)).toBe(false);
    const prisma = vigil.vigil.prisma;
    expect((await prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: running.wakeupRequestId! } })).status).toBe('cancelled');
    expect((await prisma.environmentLease.findMany({ where: { heartbeatRunId: running.id } })).map((l) => l.status)).toEqual(['released']);
    // Liveness is not classified on the cancel path (R14).
    expect((await prisma.heartbeatRun.findUniqueOrThrow({ where: { id: running.id } })).livenessState).toBeNull();

    // Cancelling a finished run is a no-op that returns it unchanged.
    const again = await acme.board.post(`/api/heartbeat-runs/${running.id}/cancel`, {});
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('cancelled');
    expect(again.body.finishedAt).toBe(cancelled.body.finishedAt);
  });

  it('records the child dying from a signal nobody sent as process_lost', async () => {
    const agent = await givenAgent(acme, { script: 'sleep.sh' });
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
    const running = await eventually(async () => {
      const row = await vigil.vigil.prisma.heartbeatRun.findUnique({ where: { id: woken.body.id } });
      return row?.processPid ? row : null;
    }, 20_000, 'the agent process to start');
    process.kill(running.processPid!, 'SIGKILL');
    const run = await waitForRunStatus(vigil.vigil.prisma, running.id, ['succeeded', 'failed', 'cancelled', 'timed_out']);
    expect(run).toMatchObject({ status: 'failed', errorCode: 'process_lost', error: `Process lost -- child pid ${running.processPid} is no longer running; retrying once` });
    expect(run.resultJson).toMatchObject({ stopReason: 'process_lost' });
    // R22/R23: exactly one retry, which runs (and, being a retry, would not be retried again).
    const retries = await vigil.vigil.prisma.heartbeatRun.findMany({ where: { retryOfRunId: run.id } });
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ processLossRetryCount: 1, invocationSource: 'automation', triggerDetail: 'system' });
    expect(retries[0].contextSnapshot).toMatchObject({ retryReason: 'process_lost', wakeReason: 'process_lost_retry', retryOfRunId: run.id });
    await acme.board.post(`/api/heartbeat-runs/${retries[0].id}/cancel`, {});
  });

  it('gives the agent its VIGIL_* environment', async () => {
    // The agent's config may add variables but cannot spoof Vigil's own.
    const agent = await givenAgent(acme, { script: 'print-env.sh', env: { VIGIL_RUN_ID: 'spoofed', EXTRA: 'kept', PRINT_ENV_EXTRA: 'EXTRA DATABASE_URL' } });
    const issue = await givenIssue(acme, { status: 'todo', assigneeAgentId: agent.id });
    const run = await waitForRunStatus(vigil.vigil.prisma, (await waitForIssueRun(vigil.vigil.prisma, issue.id)).id, ['succeeded', 'failed']);
    const { env, extra } = run.resultJson as { env: Record<string, string>; extra: Record<string, string> };
    expect(extra).toEqual({ EXTRA: 'kept' });
    expect(env).toMatchObject({
      VIGIL_API_URL: vigil.apiUrl,
      VIGIL_RUN_ID: run.id,
      VIGIL_AGENT_ID: agent.id,
      VIGIL_COMPANY_ID: acme.company.id,
      VIGIL_ISSUE_ID: issue.id,
      VIGIL_WAKE_REASON: 'issue_assigned',
    });
    expect(JSON.parse(env.VIGIL_CONTEXT)).toMatchObject({ issueId: issue.id, wakeReason: 'issue_assigned', source: 'issue.create' });
    // The token is there for the agent, and redacted everywhere Vigil writes it down.
    expect(env.VIGIL_API_KEY).toBe('[REDACTED]');
  });

  it('lets the agent call the API with its run token, attributed to the agent and the run', async () => {
    const agent = await givenAgent(acme, { script: 'comment-via-api.sh' });
    const issue = await givenIssue(acme, { status: 'todo', assigneeAgentId: agent.id });
    const run = await waitForRunStatus(vigil.vigil.prisma, (await waitForIssueRun(vigil.vigil.prisma, issue.id)).id, ['succeeded', 'failed']);
    expect(run.status).toBe('succeeded');
    const comments = await vigil.vigil.prisma.issueComment.findMany({ where: { issueId: issue.id }, orderBy: { createdAt: 'asc' } });
    expect(comments[0]).toMatchObject({ body: 'Progress note from the agent itself', authorAgentId: agent.id, createdByRunId: run.id });
    // The run had already commented, so its summary is not posted again (R8 step 5).
    expect(comments).toHaveLength(1);
  });

  it('gives the agent its environment and a run token that works against the API but is never shown', async () => {
    const agent = await givenAgent(acme, { script: 'echo-token.sh' });
    const issue = await givenIssue(acme, { status: 'todo', assigneeAgentId: agent.id });
    const queued = await waitForIssueRun(vigil.vigil.prisma, issue.id);
    const run = await waitForRunStatus(vigil.vigil.prisma, queued.id, ['succeeded', 'failed', 'cancelled', 'timed_out']);
    const log = await acme.board.get(`/api/heartbeat-runs/${run.id}/log`);
    expect(log.body.content).toContain('[REDACTED]');
    expect(log.body.content).not.toMatch(/vgr_/);
    const events = await acme.board.get(`/api/heartbeat-runs/${run.id}/events?limit=1000`);
    expect(JSON.stringify(events.body)).not.toMatch(/vgr_/);
    expect(JSON.stringify((await acme.board.get(`/api/heartbeat-runs/${run.id}`)).body)).not.toMatch(/vgr_/);
    const comments = await vigil.vigil.prisma.issueComment.findMany({ where: { issueId: issue.id } });
    expect(JSON.stringify(comments)).not.toMatch(/vgr_/);
  });

  it('cancels directly when the run has no live workflow (never started, or already closed)', async () => {
    const prisma = vigil.vigil.prisma;
    // A queued run whose workflow was never started.
    const agent = await givenAgent(acme);
    const result = await enqueueWakeup(prisma, agent.id, { source: 'on_demand', triggerDetail: 'manual', payload: { taskId: 'never-started' } });
    if (result.kind !== 'queued') throw new Error(result.kind);
    const cancelled = await acme.board.post(`/api/heartbeat-runs/${result.run.id}/cancel`, {});
    expect(cancelled.body).toMatchObject({ status: 'cancelled', errorCode: 'cancelled', error: 'Cancelled by control plane' });
    expect((await prisma.agentWakeupRequest.findUniqueOrThrow({ where: { id: result.run.wakeupRequestId! } })).status).toBe('cancelled');

    // A row the database still calls running although its workflow has completed.
    const done = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { payload: { taskId: 'closed' } });
    await waitForRunStatus(prisma, done.body.id, ['succeeded']);
    await prisma.heartbeatRun.update({ where: { id: done.body.id }, data: { status: 'running', finishedAt: null } });
    const closed = await acme.board.post(`/api/heartbeat-runs/${done.body.id}/cancel`, {});
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({ status: 'cancelled', errorCode: 'cancelled' });
  });

  it('starts the workflows of queued runs that have none (after Temporal was out of reach)', async () => {
    const company = await givenCompany(vigil.admin);
    const agent = await givenAgent(company);
    const prisma = vigil.vigil.prisma;
    const stranded = await enqueueWakeup(prisma, agent.id, { source: 'on_demand', triggerDetail: 'manual', payload: { taskId: 'stranded' } });
    if (stranded.kind !== 'queued') throw new Error(stranded.kind);
    expect(await vigil.vigil.runControl.resumeQueuedRuns({ companyId: company.company.id })).toBe(1);
    expect((await waitForRunStatus(prisma, stranded.run.id, ['succeeded', 'failed'])).status).toBe('succeeded');
    // Starting again is harmless: the workflow id is the run's.
    await vigil.vigil.runControl.startWorkflows([stranded.run.id]);
  });

  it('records the host whose worker spawned the agent', async () => {
    const agent = await givenAgent(acme);
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
    const run = await waitForRunStatus(vigil.vigil.prisma, woken.body.id, ['succeeded']);
    expect(run.processHost).toBe(hostname());
  });
});
