/**
 * R69's rank of an agent's queued runs (src/store/agentSlots.ts): issue-bound and ready with the
 * issue in progress first, then issue-bound and ready, then not issue-bound, then issue-bound but
 * blocked by an unresolved issue; ties by issue priority, then age; and only as many as the
 * agent's free slots.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPrismaClient, type PrismaClient } from '../../src/store/db.ts';
import { claimableQueuedRunIds } from '../../src/store/agentSlots.ts';

let prisma: PrismaClient;

beforeAll(() => {
  prisma = createPrismaClient(inject('databaseUrl'), 4);
});

afterAll(async () => {
  await prisma?.$disconnect();
});

describe('claimableQueuedRunIds (R69)', () => {
  it('ranks ready in-progress work first and blocked work last, and hands out only the free slots', async () => {
    const company = await prisma.company.create({ data: { name: 'Slots', issuePrefix: `S${randomBytes(4).toString('hex').toUpperCase()}` } });
    const agent = await prisma.agent.create({ data: { companyId: company.id, name: 'ranked' } });
    const issue = (title: string, status: 'todo' | 'in_progress', priority: 'low' | 'high' = 'low') =>
      prisma.issue.create({ data: { companyId: company.id, title, status, priority, assigneeAgentId: agent.id } });
    const blocker = await issue('the blocker', 'todo');
    const blocked = await issue('blocked', 'in_progress', 'high');
    await prisma.issueRelation.create({ data: { companyId: company.id, issueId: blocker.id, relatedIssueId: blocked.id, type: 'blocks' } });
    const todoLow = await issue('todo, low', 'todo');
    const todoHigh = await issue('todo, high', 'todo', 'high');
    const inProgress = await issue('in progress', 'in_progress');
    const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds));
    const queued = async (issueId: string | null, seconds: number) =>
      (await prisma.heartbeatRun.create({ data: { companyId: company.id, agentId: agent.id, status: 'queued', contextSnapshot: issueId ? { issueId } : {}, createdAt: at(seconds) } })).id;
    // Created oldest first in the order the rank must undo.
    const blockedRun = await queued(blocked.id, 1);
    const unboundRun = await queued(null, 2);
    const todoLowRun = await queued(todoLow.id, 3);
    const todoHighRun = await queued(todoHigh.id, 4);
    const inProgressRun = await queued(inProgress.id, 5);

    const all = await prisma.$transaction((tx) => claimableQueuedRunIds(tx, agent.id, 10));
    expect(all).toEqual([inProgressRun, todoHighRun, todoLowRun, unboundRun, blockedRun]);

    // One run of the agent is running: with 3 slots, only the first two ranked may start.
    await prisma.heartbeatRun.create({ data: { companyId: company.id, agentId: agent.id, status: 'running' } });
    expect(await prisma.$transaction((tx) => claimableQueuedRunIds(tx, agent.id, 3))).toEqual([inProgressRun, todoHighRun]);

    // A done blocker no longer blocks (R75): the run ranks with the ready in-progress work.
    await prisma.issue.update({ where: { id: blocker.id }, data: { status: 'done' } });
    expect(await prisma.$transaction((tx) => claimableQueuedRunIds(tx, agent.id, 3))).toEqual([blockedRun, inProgressRun]);
  });
});
