/**
 * Cost events through the board API: what boards read (tokens, rounded cents, exact dollars,
 * estimated or reported), the filters and the limit, who may read them, and that a run's own
 * usage row sits beside the events a run token posts for its run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { givenAgent, givenCompany, givenIssue, type CompanyFixture } from '../support/fixtures.ts';
import { recordRunUsage } from '../../src/store/runCosts.ts';
import { loadRunTokenSecret, mintRunToken } from '../../src/auth/tokens.ts';

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

type CostRow = Record<string, unknown> & { id: string; heartbeatRunId: string | null; source: string; occurredAt: string };

/**
 * An agent (paused: nothing here executes) with an issue and a finished run row, whose finalize
 * recorded its usage as a coding-agent run's does.
 */
async function givenAgentWithRunUsage(usage: { costUsd: number; estimated: boolean }, occurredAt = new Date()) {
  const prisma = vigil.vigil.prisma;
  const agent = await givenAgent(acme, { status: 'paused' });
  const issue = await givenIssue(acme, { title: 'Costly' });
  const run = await prisma.heartbeatRun.create({
    data: { companyId: acme.company.id, agentId: agent.id, status: 'succeeded', finishedAt: new Date(), contextSnapshot: { issueId: issue.id, taskKey: issue.id } },
  });
  await recordRunUsage(prisma, {
    run: { id: run.id, companyId: acme.company.id, agentId: agent.id, issueId: issue.id },
    usage: { provider: 'openai', model: 'gpt-5-codex', inputTokens: 1200, cachedInputTokens: 300, outputTokens: 450, ...usage },
    occurredAt,
  });
  const asRun = vigil.admin.as(mintRunToken(await loadRunTokenSecret(prisma, null), run.id));
  return { agent, issue, run, asRun };
}

const list = (query = '') => acme.board.get<CostRow[]>(`/api/companies/${acme.company.id}/cost-events${query ? `?${query}` : ''}`);

describe('GET /api/companies/:companyId/cost-events', () => {
  it("shows a run's usage with its exact, estimated dollars beside the cents it rounds to", async () => {
    const { agent, issue, run } = await givenAgentWithRunUsage({ costUsd: 0.004321, estimated: true });
    const response = await list(`runId=${run.id}`);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body).toEqual([
      expect.objectContaining({
        companyId: acme.company.id,
        agentId: agent.id,
        issueId: issue.id,
        heartbeatRunId: run.id,
        provider: 'openai',
        biller: 'openai',
        billingType: 'metered_api',
        model: 'gpt-5-codex',
        inputTokens: 1200,
        cachedInputTokens: 300,
        outputTokens: 450,
        costCents: 0,
        costUsdMicros: 4321,
        costUsd: 0.004321,
        estimated: true,
        source: 'run',
      }),
    ]);
  });

  it('shows events posted in cents with their dollars, and a run token’s posts beside its run’s own usage', async () => {
    const { agent, run, asRun } = await givenAgentWithRunUsage({ costUsd: 1.5, estimated: false });
    const posted = await asRun.post(`/api/companies/${acme.company.id}/cost-events`, { agentId: agent.id, provider: 'search-api', model: 'web', costCents: 7, inputTokens: 3 });
    expect(posted.status, JSON.stringify(posted.body)).toBe(201);
    expect(posted.body).toMatchObject({ heartbeatRunId: run.id, costCents: 7, costUsd: 0.07, costUsdMicros: null, estimated: false, source: 'api' });
    expect((await asRun.post(`/api/companies/${acme.company.id}/cost-events`, { agentId: agent.id, provider: 'search-api', model: 'web', costCents: 1 })).status).toBe(201);

    const rows = (await list(`runId=${run.id}`)).body;
    expect(rows.map((row) => row.source).sort()).toEqual(['api', 'api', 'run']);
    expect(rows.find((row) => row.source === 'run')).toMatchObject({ costCents: 150, costUsdMicros: 1_500_000, costUsd: 1.5, estimated: false });
  });

  it('filters by agent, issue and run, newest first', async () => {
    const older = await givenAgentWithRunUsage({ costUsd: 0.01, estimated: true }, new Date(Date.now() - 60_000));
    const newer = await givenAgentWithRunUsage({ costUsd: 0.02, estimated: true });
    await acme.board.post(`/api/companies/${acme.company.id}/cost-events`, { agentId: older.agent.id, issueId: newer.issue.id, provider: 'p', model: 'm', costCents: 3, occurredAt: new Date(Date.now() - 30_000).toISOString() });

    const byAgent = (await list(`agentId=${older.agent.id}`)).body;
    expect(byAgent.map((row) => [row.source, row.heartbeatRunId])).toEqual([['api', null], ['run', older.run.id]]);
    const byIssue = (await list(`issueId=${newer.issue.id}`)).body;
    expect(byIssue.map((row) => [row.source, row.heartbeatRunId])).toEqual([['run', newer.run.id], ['api', null]]);
    expect((await list(`runId=${newer.run.id}&agentId=${older.agent.id}`)).body).toEqual([]);
    expect((await list(`runId=${randomUUID()}`)).body).toEqual([]);

    const all = (await list()).body;
    const times = all.map((row) => Date.parse(row.occurredAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('answers 100 events by default and at most 500, newest first', async () => {
    const company = await givenCompany(vigil.admin);
    const agent = await givenAgent(company, { status: 'paused' });
    const base = Date.now();
    await vigil.vigil.prisma.costEvent.createMany({
      data: Array.from({ length: 120 }, (_, i) => ({ companyId: company.company.id, agentId: agent.id, provider: 'p', model: 'm', costCents: i, occurredAt: new Date(base - i * 1000) })),
    });
    const url = (query: string) => `/api/companies/${company.company.id}/cost-events${query}`;
    const byDefault = await company.board.get<CostRow[]>(url(''));
    expect(byDefault.body).toHaveLength(100);
    expect(byDefault.body[0]).toMatchObject({ costCents: 0 });
    expect(byDefault.body[99]).toMatchObject({ costCents: 99 });
    expect((await company.board.get(url('?limit=500'))).body).toHaveLength(120);
    expect((await company.board.get(url('?limit=2'))).body.map((row: CostRow) => row.costCents)).toEqual([0, 1]);
    for (const limit of ['0', '501', 'many']) {
      const bad = await company.board.get(url(`?limit=${limit}`));
      expect(bad.status, limit).toBe(400);
      expect(bad.body.details[0].field).toBe('limit');
    }
  });

  it('is open to boards and run tokens of the company only, and refuses unknown or malformed filters', async () => {
    const { asRun } = await givenAgentWithRunUsage({ costUsd: 0.5, estimated: false });
    expect((await asRun.get(`/api/companies/${acme.company.id}/cost-events`)).status).toBe(200);
    expect((await asRun.get(`/api/companies/${globex.company.id}/cost-events`)).status).toBe(403);
    expect((await globex.board.get(`/api/companies/${acme.company.id}/cost-events`)).status).toBe(403);
    expect((await globex.board.get(`/api/companies/${globex.company.id}/cost-events`)).body).toEqual([]);
    expect((await vigil.admin.get(`/api/companies/${randomUUID()}/cost-events`)).status).toBe(404);
    expect((await acme.board.as(null).get(`/api/companies/${acme.company.id}/cost-events`)).status).toBe(401);
    for (const [query, field] of [['agentId=nope', 'agentId'], ['runId=1', 'runId'], ['issueId=PAP-1', 'issueId'], ['since=yesterday', 'since']]) {
      const bad = await acme.board.get(`/api/companies/${acme.company.id}/cost-events?${query}`);
      expect(bad.status, query).toBe(400);
      expect(bad.body.details.map((d: { field: string }) => d.field), query).toContain(field);
    }
  });
});
