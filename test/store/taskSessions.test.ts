/**
 * R72's saved sessions in PostgreSQL: one per (agent, adapter type, task), replaced by the next
 * run's, cleared by id or by task, with the legacy `agent_runtime_state.session_id` in step.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPrismaClient, type PrismaClient } from '../../src/store/db.ts';
import { clearTaskSession, clearTaskSessions, latestTaskSession, listTaskSessions, readTaskSession, saveTaskSession } from '../../src/store/taskSessions.ts';
import { DEFAULT_TASK_KEY } from '../../src/domain/sessionResume.ts';

let prisma: PrismaClient;

beforeAll(() => {
  prisma = createPrismaClient(inject('databaseUrl'), 2);
});

afterAll(async () => {
  await prisma?.$disconnect();
});

/** A company, a `claude_local` agent in it and one finished run of that agent. */
async function givenAgentWithRun() {
  const company = await prisma.company.create({ data: { name: 'Sessions', issuePrefix: `S${randomBytes(4).toString('hex').toUpperCase()}` } });
  const agent = await prisma.agent.create({ data: { companyId: company.id, name: 'coder', adapterType: 'claude_local' } });
  const run = await prisma.heartbeatRun.create({ data: { companyId: company.id, agentId: agent.id, status: 'succeeded' } });
  const key = (taskKey: string) => ({ agentId: agent.id, adapterType: 'claude_local', taskKey });
  const save = (taskKey: string, sessionId: string, extra: { cwd?: string; model?: string | null; runId?: string } = {}) =>
    saveTaskSession(prisma, { ...key(taskKey), companyId: company.id, sessionId, cwd: extra.cwd ?? '/repo', model: extra.model ?? null, runId: extra.runId ?? run.id });
  const legacySessionId = async () => (await prisma.agentRuntimeState.findUnique({ where: { agentId: agent.id } }))?.sessionId;
  return { company, agent, run, key, save, legacySessionId };
}

describe('task sessions (R72)', () => {
  it('saves the reported session per task, replaces it on the next save, and reads it back', async () => {
    const { agent, run, key, save, legacySessionId } = await givenAgentWithRun();
    expect(await readTaskSession(prisma, key('issue-1'))).toBeNull();

    await save('issue-1', 'sess-a', { cwd: '/repo', model: 'sonnet' });
    expect(await readTaskSession(prisma, key('issue-1'))).toEqual({ sessionId: 'sess-a', cwd: '/repo', model: 'sonnet', usageTotals: null });
    expect(await legacySessionId()).toBe('sess-a');

    await save('issue-1', 'sess-b', { cwd: '/repo', model: 'sonnet' });
    const rows = await listTaskSessions(prisma, agent.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ taskKey: 'issue-1', sessionDisplayId: 'sess-b', lastRunId: run.id, sessionParamsJson: { sessionId: 'sess-b', cwd: '/repo', model: 'sonnet' } });
    expect(await legacySessionId()).toBe('sess-b');
    // Another adapter type's session of the same task is another slot.
    expect(await readTaskSession(prisma, { ...key('issue-1'), adapterType: 'codex_local' })).toBeNull();
  });

  it('keeps one session per task, and the legacy session id is the last one saved', async () => {
    const { agent, save, legacySessionId } = await givenAgentWithRun();
    await save('issue-1', 'sess-1');
    await save(DEFAULT_TASK_KEY, 'sess-agent');
    expect((await listTaskSessions(prisma, agent.id)).map((row) => row.taskKey)).toEqual([DEFAULT_TASK_KEY, 'issue-1']);
    expect((await latestTaskSession(prisma, agent.id))?.sessionDisplayId).toBe('sess-agent');
    expect(await legacySessionId()).toBe('sess-agent');
  });

  it('clears a rejected session only while it is still the saved one', async () => {
    const { key, save, legacySessionId } = await givenAgentWithRun();
    await save('issue-1', 'sess-new');
    // A resume of the old id was refused, but a newer session was saved meanwhile: it stays.
    expect(await clearTaskSession(prisma, { ...key('issue-1'), sessionId: 'sess-old' })).toBe(false);
    expect((await readTaskSession(prisma, key('issue-1')))?.sessionId).toBe('sess-new');

    expect(await clearTaskSession(prisma, { ...key('issue-1'), sessionId: 'sess-new' })).toBe(true);
    expect(await readTaskSession(prisma, key('issue-1'))).toBeNull();
    expect(await legacySessionId()).toBeNull();
  });

  it('clears a task after max turns without naming the id, and the legacy id falls back to the newest remaining session', async () => {
    const { key, save, legacySessionId } = await givenAgentWithRun();
    await save('issue-1', 'sess-1');
    await save('issue-2', 'sess-2');
    expect(await clearTaskSession(prisma, key('issue-2'))).toBe(true);
    expect(await legacySessionId()).toBe('sess-1');
  });

  it('resets all of an agent’s sessions, or one task’s, and counts them', async () => {
    const { agent, save, legacySessionId } = await givenAgentWithRun();
    await save('issue-1', 'sess-1');
    await save('issue-2', 'sess-2');
    await save(DEFAULT_TASK_KEY, 'sess-3');
    expect(await clearTaskSessions(prisma, { agentId: agent.id, taskKey: 'issue-2' })).toBe(1);
    expect((await listTaskSessions(prisma, agent.id)).map((row) => row.taskKey).sort()).toEqual([DEFAULT_TASK_KEY, 'issue-1'].sort());
    expect(await legacySessionId()).toBe('sess-3');
    expect(await clearTaskSessions(prisma, { agentId: agent.id, taskKey: 'no-such-task' })).toBe(0);
    expect(await clearTaskSessions(prisma, { agentId: agent.id })).toBe(2);
    expect(await listTaskSessions(prisma, agent.id)).toEqual([]);
    expect(await legacySessionId()).toBeNull();
  });

  it('keeps the session usage totals for the next resumed run', async () => {
    const { company, run, key } = await givenAgentWithRun();
    const usageTotals = { inputTokens: 120, cachedInputTokens: 30, outputTokens: 40, costUsd: 0.0123 };
    await saveTaskSession(prisma, { ...key('issue-1'), companyId: company.id, sessionId: 'thread-1', cwd: '/repo', model: null, runId: run.id, usageTotals });
    expect(await readTaskSession(prisma, key('issue-1'))).toEqual({ sessionId: 'thread-1', cwd: '/repo', model: null, usageTotals });
  });

  it('works inside a transaction, and a rolled-back save leaves nothing', async () => {
    const { company, run, key } = await givenAgentWithRun();
    await expect(
      prisma.$transaction(async (tx) => {
        await saveTaskSession(tx, { ...key('issue-1'), companyId: company.id, sessionId: 'sess-tx', cwd: null, model: null, runId: run.id });
        expect((await readTaskSession(tx, key('issue-1')))?.sessionId).toBe('sess-tx');
        throw new Error('roll back');
      }),
    ).rejects.toThrow('roll back');
    expect(await readTaskSession(prisma, key('issue-1'))).toBeNull();
  });

  it('keeps the session when its run is deleted (last run id set null)', async () => {
    const { company, agent, key, save } = await givenAgentWithRun();
    const doomed = await prisma.heartbeatRun.create({ data: { companyId: company.id, agentId: agent.id, status: 'failed' } });
    await save('issue-1', 'sess-1', { runId: doomed.id });
    await prisma.heartbeatRun.delete({ where: { id: doomed.id } });
    expect((await listTaskSessions(prisma, agent.id))[0]).toMatchObject({ sessionDisplayId: 'sess-1', lastRunId: null });
    expect((await readTaskSession(prisma, key('issue-1')))?.sessionId).toBe('sess-1');
  });
});
