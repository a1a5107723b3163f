/**
 * R15's budget hard stop for work in flight: a cost event that makes a hard limit reached cancels
 * the runs in the limit's scope (`stopReason: "budget_paused"`, no recovery) and its pending wakes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { eventually, givenAgent, givenCompany, givenIssue, isGroupAlive, waitForIssueRun, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';

let vigil: TestVigil;

beforeAll(async () => {
  vigil = await startTestVigil();
});

afterAll(async () => {
  await vigil?.stop();
});

async function runningOn(acme: CompanyFixture, agentId: string) {
  const issue = await givenIssue(acme, { status: 'todo', assigneeAgentId: agentId });
  const queued = await waitForIssueRun(vigil.vigil.prisma, issue.id);
  const run = await waitForRunStatus(vigil.vigil.prisma, queued.id, ['running']);
  await eventually(async () => (await vigil.vigil.prisma.heartbeatRun.findUnique({ where: { id: run.id } }))?.processGroupId ?? null, 10_000, 'the process to start');
  return { issue, run };
}

describe('R15: a budget hard stop cancels work in flight', () => {
  it("cancels the agent's running run with budget_paused once a cost event reaches its hard limit, and nothing recovers it", async () => {
    const acme = await givenCompany(vigil.admin);
    const agent = await givenAgent(acme, { script: 'sleep.sh', env: { SLEEP_SEC: '60' }, graceSec: 1 });
    const bystander = await givenAgent(acme, { script: 'sleep.sh', env: { SLEEP_SEC: '60' }, graceSec: 1 });
    const { issue, run } = await runningOn(acme, agent.id);
    const other = await runningOn(acme, bystander.id);
    const policy = await acme.board.post(`/api/companies/${acme.company.id}/budget-policies`, { scopeType: 'agent', scopeId: agent.id, windowKind: 'lifetime', amount: 100 });
    expect(policy.status).toBe(201);

    // Below the limit: nothing happens.
    expect((await acme.board.post(`/api/companies/${acme.company.id}/cost-events`, { agentId: agent.id, provider: 'anthropic', model: 'm', costCents: 60 })).status).toBe(201);
    expect((await vigil.vigil.prisma.heartbeatRun.findUniqueOrThrow({ where: { id: run.id } })).status).toBe('running');

    // Reaching it cancels the agent's run, not the other agent's.
    expect((await acme.board.post(`/api/companies/${acme.company.id}/cost-events`, { agentId: agent.id, provider: 'anthropic', model: 'm', costCents: 40 })).status).toBe(201);
    const cancelled = await waitForRunStatus(vigil.vigil.prisma, run.id, ['cancelled']);
    expect(cancelled.error).toBe('Cancelled due to budget pause');
    expect(cancelled.resultJson).toMatchObject({ stopReason: 'budget_paused' });
    expect(await isGroupAlive(run.processGroupId ?? cancelled.processGroupId!)).toBe(false);
    // No recovery: no follow-up run, the issue is not blocked.
    expect(await vigil.vigil.prisma.heartbeatRun.count({ where: { agentId: agent.id, id: { not: run.id }, status: { in: ['queued', 'running', 'scheduled_retry'] } } })).toBe(0);
    expect((await vigil.vigil.prisma.issue.findUniqueOrThrow({ where: { id: issue.id } })).status).not.toBe('blocked');
    expect((await vigil.vigil.prisma.heartbeatRun.findUniqueOrThrow({ where: { id: other.run.id } })).status).toBe('running');

    // A new wake is refused by R74 while the limit stands.
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { payload: { issueId: issue.id } });
    expect(woken.status).toBe(409);
    await acme.board.post(`/api/heartbeat-runs/${other.run.id}/cancel`, {});
  });

  it("a company limit cancels every agent's runs", async () => {
    const acme = await givenCompany(vigil.admin);
    const first = await givenAgent(acme, { script: 'sleep.sh', env: { SLEEP_SEC: '60' }, graceSec: 1 });
    const second = await givenAgent(acme, { script: 'sleep.sh', env: { SLEEP_SEC: '60' }, graceSec: 1 });
    const a = await runningOn(acme, first.id);
    const b = await runningOn(acme, second.id);
    expect((await acme.board.post(`/api/companies/${acme.company.id}/budget-policies`, { scopeType: 'company', scopeId: acme.company.id, windowKind: 'calendar_month_utc', amount: 5 })).status).toBe(201);
    expect((await acme.board.post(`/api/companies/${acme.company.id}/cost-events`, { agentId: first.id, provider: 'openai', model: 'm', costCents: 5 })).status).toBe(201);
    for (const run of [a.run, b.run]) {
      const ended = await waitForRunStatus(vigil.vigil.prisma, run.id, ['cancelled']);
      expect(ended.resultJson).toMatchObject({ stopReason: 'budget_paused' });
    }
  });
});
