/**
 * The hot paths lock-and-read and write-and-read rows with raw SQL (src/store/modelRows.ts): the
 * row they hand on must equal, field for field and type for type, what Prisma's model query
 * returns for the same row: the models the hot paths read this way, with every kind of column filled.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPrismaClient, type PrismaClient } from '../../src/store/db.ts';
import { modelRow } from '../../src/store/modelRows.ts';
import { readRunWithAgent } from '../../src/store/runWithAgent.ts';

let prisma: PrismaClient;

beforeAll(() => {
  prisma = createPrismaClient(inject('databaseUrl'), 4);
});

afterAll(async () => {
  await prisma?.$disconnect();
});


describe('modelRow', () => {
  it('reads a run, an agent, an issue and a wake exactly as the model queries do', async () => {
    const company = await prisma.company.create({ data: { name: 'Rows', issuePrefix: `R${randomBytes(4).toString('hex').toUpperCase()}` } });
    const agent = await prisma.agent.create({
      data: { companyId: company.id, name: 'rows', adapterType: 'process', adapterConfig: { command: '/bin/true', env: { A: '1' } }, lastHeartbeatAt: new Date() },
    });
    const issue = await prisma.issue.create({ data: { companyId: company.id, title: 'Rows', status: 'in_progress', assigneeAgentId: agent.id, startedAt: new Date() } });
    const wake = await prisma.agentWakeupRequest.create({
      data: { companyId: company.id, agentId: agent.id, source: 'assignment', payload: { issueId: issue.id }, requestedByActorType: 'system', runId: randomUUID() },
    });
    const run = await prisma.heartbeatRun.create({
      data: {
        companyId: company.id,
        agentId: agent.id,
        status: 'running',
        wakeupRequestId: wake.id,
        contextSnapshot: { issueId: issue.id, nested: { list: [1, 'two', null] } },
        resultJson: { summary: 'ok' },
        logBytes: 12345678901n,
        lastOutputBytes: 7n,
        livenessState: 'advanced',
        startedAt: new Date(),
        processPid: 4242,
      },
    });
    const cases: Array<[string, string, () => Promise<unknown>]> = [
      ['heartbeat_runs', run.id, () => prisma.heartbeatRun.findUnique({ where: { id: run.id } })],
      ['agents', agent.id, () => prisma.agent.findUnique({ where: { id: agent.id } })],
      ['issues', issue.id, () => prisma.issue.findUnique({ where: { id: issue.id } })],
      ['agent_wakeup_requests', wake.id, () => prisma.agentWakeupRequest.findUnique({ where: { id: wake.id } })],
    ];
    for (const [table, id, viaModel] of cases) {
      const rows = await prisma.$queryRawUnsafe<Array<Record<string, unknown>>>(`SELECT * FROM ${table} WHERE id = $1::uuid`, id);
      expect(modelRow(rows[0]), table).toStrictEqual(await viaModel());
    }
    // A run with its agent in one read (the adapter activity's): both as the model queries read them.
    expect(await readRunWithAgent(prisma, run.id)).toStrictEqual({
      run: await prisma.heartbeatRun.findUnique({ where: { id: run.id } }),
      agent: await prisma.agent.findUnique({ where: { id: agent.id } }),
    });
    expect(await readRunWithAgent(prisma, randomUUID())).toBeNull();
  });
});
