/**
 * An agent's runtime state and task sessions through the board API (R72): what a board reads,
 * how it resets sessions, and how a wakeup asks for a fresh one. Sessions are saved the way a
 * coding-agent run's finalize saves them (src/store/taskSessions.ts), on runs of the real stack.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { givenAgent, givenCompany, givenIssue, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import { saveTaskSession } from '../../src/store/taskSessions.ts';
import { loadRunTokenSecret, mintRunToken } from '../../src/auth/tokens.ts';
import { DEFAULT_TASK_KEY } from '../../src/domain/sessionResume.ts';
import { TERMINAL_RUN_STATUSES } from '../../src/domain/runStatus.ts';

let vigil: TestVigil;
let acme: CompanyFixture;
let globex: CompanyFixture;

beforeAll(async () => {
  vigil = await startTestVigil();
  [acme, globex] = await Promise.all([givenCompany(vigil.admin), givenCompany(vigil.admin)]);
});

afterAll(async () => {
  await vigil?.stop();
});

/** An agent with one finished run (so it has a runtime-state row), and a way to save its sessions. */
async function givenAgentAfterOneRun() {
  const agent = await givenAgent(acme, { script: 'succeed.sh' });
  const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
  expect(woken.status, JSON.stringify(woken.body)).toBe(202);
  const run = await waitForRunStatus(vigil.vigil.prisma, woken.body.id, TERMINAL_RUN_STATUSES);
  const saveSession = (taskKey: string, sessionId: string, cwd = '/work/repo', model: string | null = 'claude-sonnet-4') =>
    saveTaskSession(vigil.vigil.prisma, { companyId: agent.companyId, agentId: agent.id, adapterType: 'process', taskKey, sessionId, cwd, model, runId: run.id });
  return { agent, run, saveSession };
}

describe('GET /api/agents/:agentId/runtime-state', () => {
  it('answers a zeroed state with null timestamps for an agent no run has finished for', async () => {
    const agent = await givenAgent(acme, { status: 'paused' });
    const response = await acme.board.get(`/api/agents/${agent.id}/runtime-state`);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body).toEqual({
      agentId: agent.id,
      companyId: acme.company.id,
      adapterType: 'process',
      sessionId: null,
      stateJson: {},
      lastRunId: null,
      lastRunStatus: null,
      totalInputTokens: 0,
      totalOutputTokens: 0,
      totalCachedInputTokens: 0,
      totalCostCents: 0,
      totalCostUsdMicros: 0,
      lastError: null,
      createdAt: null,
      updatedAt: null,
      sessionDisplayId: null,
      sessionParamsJson: null,
    });
    // A read writes nothing.
    expect(await vigil.vigil.prisma.agentRuntimeState.count({ where: { agentId: agent.id } })).toBe(0);
  });

  it("shows the last run, the totals as numbers and the agent's most recently updated session", async () => {
    const { agent, run, saveSession } = await givenAgentAfterOneRun();
    await saveSession('issue-a', 'sess-a');
    await saveSession('issue-b', 'sess-b', '/work/other', null);
    const response = await acme.board.get(`/api/agents/${agent.id}/runtime-state`);
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({
      agentId: agent.id,
      lastRunId: run.id,
      lastRunStatus: run.status,
      sessionId: 'sess-b',
      sessionDisplayId: 'sess-b',
      sessionParamsJson: { sessionId: 'sess-b', cwd: '/work/other', model: null },
      totalInputTokens: expect.any(Number),
      totalCostUsdMicros: expect.any(Number),
      createdAt: expect.any(String),
    });
  });

  it('is for boards of the agent’s company only', async () => {
    const { agent, run } = await givenAgentAfterOneRun();
    expect((await globex.board.get(`/api/agents/${agent.id}/runtime-state`)).status).toBe(404);
    expect((await acme.board.get(`/api/agents/${randomUUID()}/runtime-state`)).status).toBe(404);
    const asRun = vigil.admin.as(mintRunToken(await loadRunTokenSecret(vigil.vigil.prisma, null), run.id));
    expect((await asRun.get(`/api/agents/${agent.id}/runtime-state`)).status).toBe(403);
    expect((await vigil.admin.get(`/api/agents/${agent.id}/runtime-state`)).status).toBe(200);
    expect((await acme.board.get(`/api/agents/not-a-uuid/runtime-state`)).body).toMatchObject({ code: 'invalid_request', details: [{ field: 'agentId' }] });
  });
});

describe('GET /api/agents/:agentId/task-sessions', () => {
  it('lists the sessions newest first, showing only sessionId, cwd and model of their params', async () => {
    const { agent, run, saveSession } = await givenAgentAfterOneRun();
    await saveSession('issue-a', 'sess-a');
    await saveSession(DEFAULT_TASK_KEY, 'sess-agent');
    // Params holding more than Vigil writes (an env with a key): never shown.
    await vigil.vigil.prisma.agentTaskSession.update({
      where: { companyId_agentId_adapterType_taskKey: { companyId: acme.company.id, agentId: agent.id, adapterType: 'process', taskKey: 'issue-a' } },
      data: {
        sessionParamsJson: { sessionId: 'sess-a', cwd: '/work/repo', model: 'claude-sonnet-4', env: { ANTHROPIC_API_KEY: 'sk-ant-api03-secretsecretsecret' }, usageTotals: { inputTokens: 5 } },
        lastError: 'upstream said: Bearer abcdefghijklmnopqrstuvwxyz0123456789',
      },
    });
    const response = await acme.board.get(`/api/agents/${agent.id}/task-sessions`);
    expect(response.status).toBe(200);
    expect(response.body.map((s: { taskKey: string }) => s.taskKey)).toEqual(['issue-a', DEFAULT_TASK_KEY]);
    expect(response.body[0]).toMatchObject({
      agentId: agent.id,
      adapterType: 'process',
      sessionDisplayId: 'sess-a',
      lastRunId: run.id,
      sessionParamsJson: { sessionId: 'sess-a', cwd: '/work/repo', model: 'claude-sonnet-4' },
    });
    expect(Object.keys(response.body[0].sessionParamsJson).sort()).toEqual(['cwd', 'model', 'sessionId']);
    expect(JSON.stringify(response.body)).not.toMatch(/sk-ant-api03|abcdefghijklmnopqrstuvwxyz0123456789/);
  });

  it('is empty for an agent without sessions, and 404 for another company', async () => {
    const agent = await givenAgent(acme, { status: 'paused' });
    expect((await acme.board.get(`/api/agents/${agent.id}/task-sessions`)).body).toEqual([]);
    expect((await globex.board.get(`/api/agents/${agent.id}/task-sessions`)).status).toBe(404);
  });
});

describe('POST /api/agents/:agentId/runtime-state/reset-session', () => {
  it("clears one task's session, then all, answering the state and how many it cleared", async () => {
    const { agent, saveSession } = await givenAgentAfterOneRun();
    await saveSession('issue-a', 'sess-a');
    await saveSession('issue-b', 'sess-b');
    await saveSession(DEFAULT_TASK_KEY, 'sess-agent');

    const one = await acme.board.post(`/api/agents/${agent.id}/runtime-state/reset-session`, { taskKey: DEFAULT_TASK_KEY });
    expect(one.status, JSON.stringify(one.body)).toBe(200);
    // The legacy session id falls back to the newest session still standing.
    expect(one.body).toMatchObject({ agentId: agent.id, clearedTaskSessions: 1, sessionId: 'sess-b', sessionDisplayId: 'sess-b' });
    expect((await acme.board.get(`/api/agents/${agent.id}/task-sessions`)).body.map((s: { taskKey: string }) => s.taskKey)).toEqual(['issue-b', 'issue-a']);

    const all = await acme.board.post(`/api/agents/${agent.id}/runtime-state/reset-session`, {});
    expect(all.body).toMatchObject({ clearedTaskSessions: 2, sessionId: null, sessionDisplayId: null, sessionParamsJson: null });
    expect((await acme.board.get(`/api/agents/${agent.id}/task-sessions`)).body).toEqual([]);
    expect((await acme.board.post(`/api/agents/${agent.id}/runtime-state/reset-session`, {})).body).toMatchObject({ clearedTaskSessions: 0 });
  });

  it('answers a zeroed state for an agent without one, and refuses bad input, run tokens and other companies', async () => {
    const agent = await givenAgent(acme, { status: 'paused' });
    const reset = await acme.board.post(`/api/agents/${agent.id}/runtime-state/reset-session`, {});
    expect(reset.body).toMatchObject({ agentId: agent.id, clearedTaskSessions: 0, totalCostCents: 0, createdAt: null });

    const bad = await acme.board.post(`/api/agents/${agent.id}/runtime-state/reset-session`, { taskKey: 5 });
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ code: 'invalid_request', details: [expect.objectContaining({ field: 'taskKey' })] });
    expect((await acme.board.post(`/api/agents/${agent.id}/runtime-state/reset-session`, { taskKey: '' })).status).toBe(400);
    expect((await acme.board.post(`/api/agents/${agent.id}/runtime-state/reset-session`, { everything: true })).body.details[0].field).toBe('everything');
    expect((await globex.board.post(`/api/agents/${agent.id}/runtime-state/reset-session`, {})).status).toBe(404);

    const { agent: worker, run } = await givenAgentAfterOneRun();
    const asRun = vigil.admin.as(mintRunToken(await loadRunTokenSecret(vigil.vigil.prisma, null), run.id));
    expect((await asRun.post(`/api/agents/${worker.id}/runtime-state/reset-session`, {})).status).toBe(403);
  });
});

describe('POST /api/agents/:agentId/wakeup with forceFreshSession (R72)', () => {
  it("puts forceFreshSession into the run's context, and only when asked", async () => {
    const agent = await givenAgent(acme, { script: 'succeed.sh' });
    const fresh = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { reason: 'start over', forceFreshSession: true });
    expect(fresh.status, JSON.stringify(fresh.body)).toBe(202);
    expect(fresh.body.contextSnapshot).toMatchObject({ forceFreshSession: true, wakeReason: 'start over' });
    // No issue or task: the run's session slot is the agent-wide default (taskKeyOf → __agent__).
    expect(fresh.body.contextSnapshot).not.toHaveProperty('taskKey');
    const stored = await vigil.vigil.prisma.heartbeatRun.findUniqueOrThrow({ where: { id: fresh.body.id } });
    expect(stored.contextSnapshot).toMatchObject({ forceFreshSession: true });
    await waitForRunStatus(vigil.vigil.prisma, fresh.body.id, TERMINAL_RUN_STATUSES);

    const plain = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { forceFreshSession: false });
    expect(plain.status).toBe(202);
    expect(plain.body.contextSnapshot).not.toHaveProperty('forceFreshSession');
    await waitForRunStatus(vigil.vigil.prisma, plain.body.id, TERMINAL_RUN_STATUSES);

    const bad = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { forceFreshSession: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.body.details).toEqual([expect.objectContaining({ field: 'forceFreshSession' })]);
  });

  it('carries it for an issue-bound wake, whose task key is the issue (R71)', async () => {
    const agent = await givenAgent(acme, { script: 'succeed.sh' });
    const issue = await givenIssue(acme, { title: 'Redo from scratch' });
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { payload: { issueId: issue.id }, forceFreshSession: true });
    expect(woken.status, JSON.stringify(woken.body)).toBe(202);
    expect(woken.body.contextSnapshot).toMatchObject({ issueId: issue.id, taskKey: issue.id, forceFreshSession: true });
    await waitForRunStatus(vigil.vigil.prisma, woken.body.id, TERMINAL_RUN_STATUSES);
  });

  it("takes the payload's taskKey as the run's task key before taskId and issueId (R71)", async () => {
    const agent = await givenAgent(acme, { script: 'succeed.sh' });
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { payload: { taskKey: 'nightly-report', taskId: 'task-7' } });
    expect(woken.status, JSON.stringify(woken.body)).toBe(202);
    expect(woken.body.contextSnapshot).toMatchObject({ taskKey: 'nightly-report', taskId: 'task-7' });
    await waitForRunStatus(vigil.vigil.prisma, woken.body.id, TERMINAL_RUN_STATUSES);
  });
});
