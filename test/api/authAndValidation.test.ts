/**
 * The API's edges: the three kinds of credentials, company isolation, and every kind of bad
 * input answered with a clear 4xx naming what is wrong — never a 500 or a stack trace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { givenAgent, givenCompany, givenIssue, waitForIssueRun, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import { mintRunToken, loadRunTokenSecret } from '../../src/auth/tokens.ts';

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

describe('authentication', () => {
  it('answers health without credentials and everything else only with a bearer token', async () => {
    const anonymous = vigil.admin.as(null);
    const health = await anonymous.get('/api/health');
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ status: 'ok', db: 'ok', temporal: 'ok' });
    const denied = await anonymous.get('/api/companies');
    expect(denied.status).toBe(401);
    expect(denied.body.code).toBe('unauthorized');
    expect((await vigil.admin.as('vgb_not-a-real-key').get('/api/companies')).status).toBe(401);
    expect((await vigil.admin.as('garbage').get(`/api/companies/${acme.company.id}/agents`)).status).toBe(401);
  });

  it('keeps admin routes for the admin token', async () => {
    expect((await acme.board.get('/api/companies')).status).toBe(403);
    expect((await acme.board.post('/api/companies', { name: 'x', issuePrefix: 'XX' })).status).toBe(403);
    expect((await acme.board.post(`/api/companies/${acme.company.id}/board-keys`, {})).status).toBe(403);
    const companies = await vigil.admin.get('/api/companies');
    expect(companies.status).toBe(200);
    expect(companies.body.map((c: { id: string }) => c.id)).toEqual(expect.arrayContaining([acme.company.id, globex.company.id]));
  });

  it('never stores or shows a board key after creating it', async () => {
    const created = await vigil.admin.post(`/api/companies/${acme.company.id}/board-keys`, { name: 'ci' });
    expect(created.body.key).toMatch(/^vgb_/);
    const row = await vigil.vigil.prisma.boardApiKey.findUniqueOrThrow({ where: { id: created.body.id } });
    expect(row.keyHash).not.toContain(created.body.key);
    expect(JSON.stringify(row)).not.toContain(created.body.key);
  });
});

describe('company isolation', () => {
  it("never lets company A's key read or change company B", async () => {
    const theirAgent = await givenAgent(globex);
    const theirIssue = await givenIssue(globex, { title: 'secret plan' });
    // A path naming the other company: 403.
    expect((await acme.board.get(`/api/companies/${globex.company.id}/agents`)).status).toBe(403);
    expect((await acme.board.get(`/api/companies/${globex.company.id}/issues`)).status).toBe(403);
    expect((await acme.board.post(`/api/companies/${globex.company.id}/issues`, { title: 'x' })).status).toBe(403);
    // An entity of the other company: 404, as if it did not exist.
    expect((await acme.board.get(`/api/agents/${theirAgent.id}`)).status).toBe(404);
    expect((await acme.board.post(`/api/agents/${theirAgent.id}/wakeup`, {})).status).toBe(404);
    expect((await acme.board.post(`/api/agents/${theirAgent.id}/pause`, {})).status).toBe(404);
    expect((await acme.board.get(`/api/issues/${theirIssue.id}`)).status).toBe(404);
    expect((await acme.board.get(`/api/issues/${theirIssue.identifier}`)).status).toBe(404);
    expect((await acme.board.patch(`/api/issues/${theirIssue.id}`, { title: 'mine now' })).status).toBe(404);
    expect((await acme.board.post(`/api/issues/${theirIssue.id}/comments`, { body: 'hi' })).status).toBe(404);
    // Assigning our issue to their agent is refused.
    const cross = await acme.board.post(`/api/companies/${acme.company.id}/issues`, { title: 'x', assigneeAgentId: theirAgent.id });
    expect(cross.status).toBe(422);
    expect((await vigil.vigil.prisma.issue.findUniqueOrThrow({ where: { id: theirIssue.id } })).title).toBe('secret plan');
  });

  it('scopes a run token to its company, agent and run, and keeps admin routes closed to it', async () => {
    const agent = await givenAgent(acme, { script: 'succeed.sh' });
    const issue = await givenIssue(acme, { status: 'todo', assigneeAgentId: agent.id });
    const run = await waitForRunStatus(vigil.vigil.prisma, (await waitForIssueRun(vigil.vigil.prisma, issue.id)).id, ['succeeded', 'failed']);
    const secret = await loadRunTokenSecret(vigil.vigil.prisma, null);
    const asRun = vigil.admin.as(mintRunToken(secret, run.id));
    expect((await asRun.get(`/api/issues/${issue.id}`)).status).toBe(200);
    const comment = await asRun.post(`/api/issues/${issue.id}/comments`, { body: 'progress from the agent' });
    expect(comment.status).toBe(201);
    expect(comment.body).toMatchObject({ authorAgentId: agent.id, createdByRunId: run.id, authorUserId: null });
    expect((await asRun.get(`/api/companies/${globex.company.id}/issues`)).status).toBe(403);
    expect((await asRun.get('/api/companies')).status).toBe(403);
    expect((await asRun.post(`/api/companies/${acme.company.id}/agents`, { name: 'x', adapterConfig: { command: 'true' } })).status).toBe(403);
    expect((await asRun.post(`/api/heartbeat-runs/${run.id}/cancel`, {})).status).toBe(403);
    // A forged signature is not a token.
    expect((await vigil.admin.as(`vgr_${run.id}.forged`).get(`/api/issues/${issue.id}`)).status).toBe(401);
    // Expired: the run finished longer ago than the grace.
    await vigil.vigil.prisma.heartbeatRun.update({ where: { id: run.id }, data: { finishedAt: new Date(Date.now() - 3_600_000) } });
    expect((await asRun.get(`/api/issues/${issue.id}`)).status).toBe(401);
  });
});

describe('bad input', () => {
  it('rejects malformed bodies with 400 naming the fields, and nothing is written', async () => {
    const before = await vigil.vigil.prisma.issue.count({ where: { companyId: acme.company.id } });
    const unknown = await acme.board.post(`/api/companies/${acme.company.id}/issues`, { title: 'x', colour: 'red' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.code).toBe('invalid_request');
    expect(JSON.stringify(unknown.body.details)).toContain('colour');
    const wrongType = await acme.board.post(`/api/companies/${acme.company.id}/issues`, { title: 42 });
    expect(wrongType.status).toBe(400);
    expect(wrongType.body.details[0].field).toBe('title');
    const badEnum = await acme.board.post(`/api/companies/${acme.company.id}/issues`, { title: 'x', status: 'doing' });
    expect(badEnum.status).toBe(400);
    expect(badEnum.body.details[0].field).toBe('status');
    const badUuid = await acme.board.post(`/api/companies/${acme.company.id}/issues`, { title: 'x', assigneeAgentId: 'agent-7' });
    expect(badUuid.status).toBe(400);
    expect(badUuid.body.details[0].field).toBe('assigneeAgentId');
    const badJson = await acme.board.request('POST', `/api/companies/${acme.company.id}/issues`, undefined, { rawBody: '{"title": ' });
    expect(badJson.status).toBe(400);
    expect(badJson.body.code).toBe('invalid_json');
    const agentWithoutCommand = await acme.board.post(`/api/companies/${acme.company.id}/agents`, { name: 'a', adapterType: 'process', adapterConfig: {} });
    expect(agentWithoutCommand.status).toBe(400);
    expect(agentWithoutCommand.body.details[0].field).toBe('adapterConfig.command');
    const agent = await givenAgent(acme);
    const badBinding = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { payload: { issueId: 'PAP-1' } });
    expect(badBinding.status).toBe(400);
    expect(badBinding.body.details[0].field).toBe('payload.issueId');
    const badSource = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { source: 'cron' });
    expect(badSource.status).toBe(400);
    expect(await vigil.vigil.prisma.issue.count({ where: { companyId: acme.company.id } })).toBe(before);
  });

  it('rejects bad path and query parameters with 400', async () => {
    expect((await acme.board.get('/api/agents/not-a-uuid')).body).toMatchObject({ code: 'invalid_request' });
    expect((await acme.board.get('/api/heartbeat-runs/123')).status).toBe(400);
    expect((await acme.board.get('/api/issues/%20drop%20table')).status).toBe(400);
    expect((await acme.board.get(`/api/companies/${acme.company.id}/issues?limit=0`)).status).toBe(400);
    expect((await acme.board.get(`/api/companies/${acme.company.id}/issues?status=doing`)).status).toBe(400);
    expect((await acme.board.get(`/api/companies/${acme.company.id}/issues?sort=title`)).status).toBe(400);
    expect((await acme.board.get(`/api/companies/${acme.company.id}/agents?x=1`)).status).toBe(400);
  });

  it('answers unknown ids with 404, oversized bodies with 413 and unknown routes with 404', async () => {
    expect((await acme.board.get(`/api/agents/${randomUUID()}`)).status).toBe(404);
    expect((await acme.board.get(`/api/issues/${acme.company.issuePrefix}-99999`)).status).toBe(404);
    expect((await acme.board.post(`/api/heartbeat-runs/${randomUUID()}/cancel`, {})).status).toBe(404);
    const huge = await acme.board.post(`/api/companies/${acme.company.id}/issues`, { title: 'x', description: 'y'.repeat(1_100_000) });
    expect(huge.status).toBe(413);
    expect((await acme.board.get('/api/nothing-here')).status).toBe(404);
  });

  it('answers rule conflicts with 409 and 422', async () => {
    const paused = await givenAgent(acme, { status: 'paused' });
    const wake = await acme.board.post(`/api/agents/${paused.id}/wakeup`, {});
    expect(wake.status).toBe(409);
    expect(wake.body.error).toBe('Agent is not invokable in its current state');
    const duplicate = await vigil.admin.post('/api/companies', { name: 'dup', issuePrefix: acme.company.issuePrefix });
    expect(duplicate.status).toBe(409);
    const a = await givenIssue(acme, { title: 'a' });
    const b = await givenIssue(acme, { title: 'b', blockedByIssueIds: [a.id] });
    const cycle = await acme.board.patch(`/api/issues/${a.id}`, { blockedByIssueIds: [b.id] });
    expect(cycle.status).toBe(422);
    expect(cycle.body.code).toBe('blocker_cycle');
    const self = await acme.board.patch(`/api/issues/${a.id}`, { blockedByIssueIds: [a.id] });
    expect(self.status).toBe(422);
    const twoAssignees = await acme.board.post(`/api/companies/${acme.company.id}/issues`, { title: 'x', assigneeAgentId: paused.id, assigneeUserId: 'u1' });
    expect(twoAssignees.status).toBe(422);
    const startBlocked = await acme.board.patch(`/api/issues/${b.id}`, { status: 'in_progress', assigneeUserId: 'u1' });
    expect(startBlocked.status).toBe(409);
    expect(startBlocked.body.unresolvedBlockerIssueIds).toEqual([a.id]);
  });
});
