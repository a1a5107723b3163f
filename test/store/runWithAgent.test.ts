/**
 * A run's ending locks its agent and then the run in one statement (`lockRunWithAgent`): the
 * order every writer keeps (src/store/locks.ts), so it cannot deadlock against a claim or an
 * enqueue, and both rows as they are after any wait.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPrismaClient, type PrismaClient } from '../../src/store/db.ts';
import { lockRun } from '../../src/store/locks.ts';
import { lockRunWithAgent } from '../../src/store/runWithAgent.ts';

let prisma: PrismaClient;

beforeAll(() => {
  prisma = createPrismaClient(inject('databaseUrl'), 6);
});

afterAll(async () => {
  await prisma?.$disconnect();
});

async function givenRun() {
  const company = await prisma.company.create({ data: { name: 'Locks', issuePrefix: `L${randomBytes(4).toString('hex').toUpperCase()}` } });
  const agent = await prisma.agent.create({ data: { companyId: company.id, name: 'locks', adapterType: 'process', adapterConfig: { command: '/bin/true' } } });
  const run = await prisma.heartbeatRun.create({ data: { companyId: company.id, agentId: agent.id, status: 'running', startedAt: new Date() } });
  return { agent, run };
}

/** Whether another transaction could take the agent's row lock right now. */
async function agentLockFree(agentId: string): Promise<boolean> {
  try {
    await prisma.$transaction((tx) => tx.$queryRaw`SELECT id FROM agents WHERE id = ${agentId}::uuid FOR NO KEY UPDATE NOWAIT`);
    return true;
  } catch {
    return false;
  }
}

describe('lockRunWithAgent', () => {
  it('reads both rows as the model queries do', async () => {
    const { agent, run } = await givenRun();
    const locked = await prisma.$transaction((tx) => lockRunWithAgent(tx, run.id));
    expect(locked).toStrictEqual({
      run: await prisma.heartbeatRun.findUnique({ where: { id: run.id } }),
      agent: await prisma.agent.findUnique({ where: { id: agent.id } }),
    });
  });

  it('holds the agent while it waits for the run, and returns the run as the holder left it', async () => {
    const { agent, run } = await givenRun();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let holding!: () => void;
    const held = new Promise<void>((resolve) => (holding = resolve));
    // Another transaction holds the run (not the agent) and changes it before it commits.
    const holder = prisma.$transaction(async (tx) => {
      await lockRun(tx, run.id);
      await tx.heartbeatRun.update({ where: { id: run.id }, data: { error: 'written by the holder' } });
      holding();
      await released;
    });
    await held;
    expect(await agentLockFree(agent.id)).toBe(true);
    const ending = prisma.$transaction((tx) => lockRunWithAgent(tx, run.id));
    // Agent first: while the statement waits for the run, the agent is already locked.
    const deadline = Date.now() + 10_000;
    while (await agentLockFree(agent.id)) {
      expect(Date.now(), 'the agent lock to be taken while the run is waited for').toBeLessThan(deadline);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    release();
    await holder;
    const locked = await ending;
    expect(locked?.run.error).toBe('written by the holder');
    expect(locked?.agent?.id).toBe(agent.id);
  });

  it('answers null for a run that does not exist', async () => {
    expect(await prisma.$transaction((tx) => lockRunWithAgent(tx, '00000000-0000-4000-8000-000000000000'))).toBeNull();
  });
});
