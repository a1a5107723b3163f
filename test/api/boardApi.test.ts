/**
 * The board API's resources: issues (filters, detail, updates and their side effects), comments,
 * documents, agents (pause/resume) and wakeups (coalesce, defer, skip, idempotency).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { eventually, givenAgent, givenCompany, givenIssue, waitForIssueRun, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';

let vigil: TestVigil;
let acme: CompanyFixture;
import { TERMINAL_RUN_STATUSES as TERMINAL } from '../../src/domain/runStatus.ts';

beforeAll(async () => {
  vigil = await startTestVigil();
  acme = await givenCompany(vigil.admin);
});

afterAll(async () => {
  await vigil?.stop();
});

describe('issues', () => {
  it('numbers issues per company and finds them by id or identifier', async () => {
    const first = await givenIssue(acme, { title: 'first' });
    const second = await givenIssue(acme, { title: 'second' });
    const [, n1] = first.identifier.split('-');
    expect(second.identifier).toBe(`${acme.company.issuePrefix}-${Number(n1) + 1}`);
    const byIdentifier = await acme.board.get(`/api/issues/${second.identifier.toLowerCase()}`);
    expect(byIdentifier.status).toBe(200);
    expect(byIdentifier.body).toMatchObject({ id: second.id, blockedBy: [], blocks: [], activeRun: null });
  });

  it('filters, searches and pages the issue list', async () => {
    const agent = await givenAgent(acme, { status: 'paused' });
    const parent = await givenIssue(acme, { title: 'Quarterly epic' });
    const a = await givenIssue(acme, { title: 'Rotate the zebra logs', status: 'todo', parentId: parent.id, assigneeAgentId: agent.id });
    const b = await givenIssue(acme, { title: 'Zebra dashboard', status: 'blocked', parentId: parent.id });
    await givenIssue(acme, { title: 'Unrelated', status: 'done' });
    const list = (query: string) => acme.board.get(`/api/companies/${acme.company.id}/issues?${query}`);
    expect((await list(`parentId=${parent.id}`)).body.map((i: { id: string }) => i.id).sort()).toEqual([a.id, b.id].sort());
    expect((await list(`parentId=${parent.id}&status=todo,in_progress`)).body.map((i: { id: string }) => i.id)).toEqual([a.id]);
    expect((await list(`assigneeAgentId=${agent.id}`)).body.map((i: { id: string }) => i.id)).toEqual([a.id]);
    expect((await list('q=zebra')).body.map((i: { id: string }) => i.id).sort()).toEqual([a.id, b.id].sort());
    const page1 = (await list(`parentId=${parent.id}&limit=1`)).body;
    const page2 = (await list(`parentId=${parent.id}&limit=1&offset=1`)).body;
    expect(page1).toHaveLength(1);
    expect(page2).toHaveLength(1);
    expect(page1[0].id).not.toBe(page2[0].id);
    expect(page1[0]).toHaveProperty('activeRun', null);
    expect((await list('originKind=stranded_issue_recovery')).body).toEqual([]);
  });

  it('shows blockers both ways and applies R75 side effects on update', async () => {
    const blocker = await givenIssue(acme, { title: 'blocker' });
    const blocked = await givenIssue(acme, { title: 'blocked', blockedByIssueIds: [blocker.id] });
    const detail = (await acme.board.get(`/api/issues/${blocked.id}`)).body;
    expect(detail.blockedBy.map((i: { id: string }) => i.id)).toEqual([blocker.id]);
    expect((await acme.board.get(`/api/issues/${blocker.id}`)).body.blocks.map((i: { id: string }) => i.id)).toEqual([blocked.id]);

    const done = await acme.board.patch(`/api/issues/${blocker.id}`, { status: 'done' });
    expect(done.status).toBe(200);
    expect(done.body.completedAt).not.toBeNull();
    const reopened = await acme.board.patch(`/api/issues/${blocker.id}`, { status: 'todo' });
    expect(reopened.body.completedAt).toBeNull();
    const cleared = await acme.board.patch(`/api/issues/${blocked.id}`, { blockedByIssueIds: [] });
    expect(cleared.body.blockedBy).toEqual([]);
  });

  it('wakes the new assignee on assignment and the dependents when a blocker is done', async () => {
    const agent = await givenAgent(acme, { script: 'succeed.sh' });
    const blocker = await givenIssue(acme, { title: 'first do this' });
    const dependent = await givenIssue(acme, { title: 'then this', status: 'todo', assigneeAgentId: agent.id, blockedByIssueIds: [blocker.id] });
    const prisma = vigil.vigil.prisma;
    // Blocked at creation: the assignment wake is skipped, no run.
    const skipped = await eventually(() => prisma.agentWakeupRequest.findFirst({ where: { agentId: agent.id, reason: 'issue_dependencies_blocked' } }));
    expect(skipped.status).toBe('skipped');
    expect(await prisma.heartbeatRun.count({ where: { agentId: agent.id } })).toBe(0);

    await acme.board.patch(`/api/issues/${blocker.id}`, { status: 'done' });
    const run = await waitForIssueRun(prisma, dependent.id);
    expect(run.contextSnapshot).toMatchObject({ wakeReason: 'issue_blockers_resolved', issueId: dependent.id });
    await waitForRunStatus(prisma, run.id, TERMINAL);

    const other = await givenAgent(acme, { script: 'succeed.sh' });
    const issue = await givenIssue(acme, { title: 'reassign me', status: 'todo' });
    const assigned = await acme.board.patch(`/api/issues/${issue.id}`, { assigneeAgentId: other.id });
    expect(assigned.status).toBe(200);
    const assignmentRun = await waitForIssueRun(prisma, issue.id);
    expect(assignmentRun).toMatchObject({ agentId: other.id, invocationSource: 'assignment' });
    expect(assignmentRun.contextSnapshot).toMatchObject({ wakeReason: 'issue_assigned', source: 'issue.update' });
  });

  it('lists comments in either order and keeps document revisions', async () => {
    const issue = await givenIssue(acme, { title: 'write things down' });
    for (const body of ['one', 'two', 'three']) expect((await acme.board.post(`/api/issues/${issue.id}/comments`, { body })).status).toBe(201);
    expect((await acme.board.get(`/api/issues/${issue.id}/comments`)).body.map((c: { body: string }) => c.body)).toEqual(['three', 'two', 'one']);
    expect((await acme.board.get(`/api/issues/${issue.id}/comments?order=asc&limit=2`)).body.map((c: { body: string }) => c.body)).toEqual(['one', 'two']);
    const leaked = await acme.board.post(`/api/issues/${issue.id}/comments`, { body: 'use Authorization: Bearer sk-live-abcdefghijklmnop1234' });
    expect(leaked.body.body).not.toContain('sk-live-abcdefghijklmnop1234');

    const v1 = await acme.board.put(`/api/issues/${issue.id}/documents/plan`, { title: 'Plan', body: '1. look' });
    expect(v1.status).toBe(200);
    expect(v1.body).toMatchObject({ key: 'plan', revisionNumber: 1, body: '1. look' });
    const v2 = await acme.board.put(`/api/issues/${issue.id}/documents/plan`, { body: '1. look\n2. fix' });
    expect(v2.body).toMatchObject({ revisionNumber: 2, title: 'Plan' });
    const read = await acme.board.get(`/api/issues/${issue.identifier}/documents/plan`);
    expect(read.body).toMatchObject({ body: '1. look\n2. fix', revisionNumber: 2 });
    expect(await vigil.vigil.prisma.documentRevision.count({ where: { documentId: read.body.id } })).toBe(2);
    expect((await acme.board.get(`/api/issues/${issue.id}/documents/missing`)).status).toBe(404);
    expect((await acme.board.put(`/api/issues/${issue.id}/documents/Bad Key`, { body: 'x' })).status).toBe(400);
  });
});

describe('agents and wakeups', () => {
  it('updates an agent and redacts secrets in its adapter config', async () => {
    const agent = await givenAgent(acme, { env: { OPENAI_API_KEY: 'sk-proj-abcdefghijklmnopqrstu' } });
    const read = await acme.board.get(`/api/agents/${agent.id}`);
    expect(JSON.stringify(read.body)).not.toContain('sk-proj-abcdefghijklmnopqrstu');
    const renamed = await acme.board.patch(`/api/agents/${agent.id}`, { name: 'Renamed', runtimeConfig: { heartbeat: { maxConcurrentRuns: 2 } } });
    expect(renamed.body).toMatchObject({ name: 'Renamed', runtimeConfig: { heartbeat: { maxConcurrentRuns: 2 } } });
    expect((await acme.board.patch(`/api/agents/${agent.id}`, { adapterConfig: { args: ['x'] } })).status).toBe(400);
    const list = await acme.board.get(`/api/companies/${acme.company.id}/agents`);
    expect(list.body.some((a: { id: string }) => a.id === agent.id)).toBe(true);
  });

  it('pausing an agent cancels its running run with stopReason paused; resume makes it idle', async () => {
    const agent = await givenAgent(acme, { script: 'sleep.sh', graceSec: 1 });
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
    const prisma = vigil.vigil.prisma;
    await eventually(async () => (await prisma.heartbeatRun.findUnique({ where: { id: woken.body.id } }))?.processPid);
    const paused = await acme.board.post(`/api/agents/${agent.id}/pause`, {});
    expect(paused.body.status).toBe('paused');
    const run = await waitForRunStatus(prisma, woken.body.id, TERMINAL);
    expect(run).toMatchObject({ status: 'cancelled', error: 'Cancelled due to agent pause' });
    expect(run.resultJson).toMatchObject({ stopReason: 'paused' });
    expect((await prisma.agent.findUniqueOrThrow({ where: { id: agent.id } })).status).toBe('paused');
    expect((await acme.board.post(`/api/agents/${agent.id}/wakeup`, {})).status).toBe(409);
    const resumed = await acme.board.post(`/api/agents/${agent.id}/resume`, {});
    expect(resumed.body).toMatchObject({ status: 'idle', pausedAt: null });
  });

  it('coalesces a second wake for the same issue and agent, and defers one from another agent', async () => {
    const agent = await givenAgent(acme, { script: 'sleep.sh', env: { SLEEP_SEC: '30' }, graceSec: 1 });
    const helper = await givenAgent(acme, { script: 'succeed.sh' });
    const issue = await givenIssue(acme, { title: 'busy', status: 'todo', assigneeAgentId: agent.id });
    const prisma = vigil.vigil.prisma;
    const run = await waitForIssueRun(prisma, issue.id);
    await waitForRunStatus(prisma, run.id, ['running']);
    const again = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { payload: { issueId: issue.id } });
    expect(again.status).toBe(202);
    expect(again.body.id).toBe(run.id);
    expect(await prisma.agentWakeupRequest.count({ where: { runId: run.id, status: 'coalesced' } })).toBe(1);
    const deferred = await acme.board.post(`/api/agents/${helper.id}/wakeup`, { payload: { issueId: issue.id } });
    expect(deferred.body).toMatchObject({ status: 'skipped', reason: 'issue_execution_deferred', executionRunId: run.id, executionAgentId: agent.id });
    expect((await acme.board.get(`/api/issues/${issue.id}/active-run`)).body.id).toBe(run.id);
    expect((await acme.board.get(`/api/issues/${issue.id}/runs`)).body.map((r: { id: string }) => r.id)).toEqual([run.id]);
    await acme.board.post(`/api/heartbeat-runs/${run.id}/cancel`, {});
  });

  it('returns the same run for a repeated idempotency key, and skips wakes the agent does not accept', async () => {
    const agent = await givenAgent(acme, { script: 'succeed.sh' });
    const first = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { idempotencyKey: 'deploy-42' });
    const second = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { idempotencyKey: 'deploy-42' });
    expect(second.body.id).toBe(first.body.id);
    await acme.board.patch(`/api/agents/${agent.id}`, { runtimeConfig: { heartbeat: { wakeOnDemand: false } } });
    const refused = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
    expect(refused.status).toBe(202);
    expect(refused.body).toMatchObject({ status: 'skipped', reason: 'heartbeat.wakeOnDemand.disabled' });
  });

  it('lists runs with filters and reads the log in slices', async () => {
    const agent = await givenAgent(acme, { script: 'succeed.sh' });
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
    await waitForRunStatus(vigil.vigil.prisma, woken.body.id, TERMINAL);
    const runs = await acme.board.get(`/api/companies/${acme.company.id}/heartbeat-runs?agentId=${agent.id}&status=succeeded`);
    expect(runs.body.map((r: { id: string }) => r.id)).toEqual([woken.body.id]);
    const head = await acme.board.get(`/api/heartbeat-runs/${woken.body.id}/log?limitBytes=10`);
    expect(head.body.content).toHaveLength(10);
    expect(head.body.nextOffset).toBe(10);
    const rest = await acme.board.get(`/api/heartbeat-runs/${woken.body.id}/log?offset=10`);
    expect(head.body.content + rest.body.content).toContain('Fixed the flaky test');
    const events = await acme.board.get(`/api/heartbeat-runs/${woken.body.id}/events?afterSeq=1&limit=2`);
    expect(events.body.map((e: { seq: number }) => e.seq)).toEqual([2, 3]);
  });
});

describe('tree holds, budgets and environments', () => {
  it('pauses a subtree with a snapshot of its members, refuses wakes under it, and releases it once', async () => {
    const agent = await givenAgent(acme);
    const root = await givenIssue(acme, { title: 'epic' });
    const child = await givenIssue(acme, { title: 'child', parentId: root.id });
    const grandchild = await givenIssue(acme, { title: 'grandchild', parentId: child.id, assigneeAgentId: agent.id });
    const hold = await acme.board.post(`/api/issues/${root.identifier}/tree-holds`, { mode: 'pause', reason: 'freeze' });
    expect(hold.status).toBe(201);
    expect(hold.body).toMatchObject({ mode: 'pause', status: 'active', reason: 'freeze', rootIssueId: root.id });
    expect(hold.body.members.map((m: { issueId: string; depth: number }) => [m.issueId, m.depth])).toEqual([[root.id, 0], [child.id, 1], [grandchild.id, 2]]);
    // R67: a wake for held work is skipped and logged.
    const wake = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { payload: { issueId: grandchild.id } });
    expect(wake.body).toMatchObject({ status: 'skipped', reason: 'issue_tree_hold_active' });
    expect(await vigil.vigil.prisma.activityLog.count({ where: { entityId: grandchild.id, action: 'issue.tree_hold_wakeup_deferred' } })).toBe(1);

    const released = await acme.board.post(`/api/issues/${root.id}/tree-holds/${hold.body.id}/release`, { reason: 'done' });
    expect(released.body).toMatchObject({ status: 'released', releaseReason: 'done' });
    const again = await acme.board.post(`/api/issues/${root.id}/tree-holds/${hold.body.id}/release`, {});
    expect(again.body.releasedAt).toBe(released.body.releasedAt);
    expect((await acme.board.post(`/api/issues/${child.id}/tree-holds/${hold.body.id}/release`, {})).status).toBe(404);
    expect((await acme.board.post(`/api/issues/${root.id}/tree-holds`, { mode: 'cancel' })).status).toBe(400);
  });

  it('validates budget policies and cost events against the company', async () => {
    const agent = await givenAgent(acme);
    const route = `/api/companies/${acme.company.id}`;
    const policy = { scopeType: 'company', scopeId: acme.company.id, windowKind: 'calendar_month_utc', amount: 500, hardStopEnabled: true };
    const created = await acme.board.post(`${route}/budget-policies`, policy);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ metric: 'billed_cents', isActive: true, amount: 500 });
    expect((await acme.board.post(`${route}/budget-policies`, policy)).status).toBe(409);
    expect((await acme.board.post(`${route}/budget-policies`, { ...policy, scopeType: 'agent', scopeId: acme.company.id })).status).toBe(422);
    expect((await acme.board.post(`${route}/budget-policies`, { ...policy, amount: -1 })).status).toBe(400);
    const cost = await acme.board.post(`${route}/cost-events`, { agentId: agent.id, provider: 'openai', model: 'gpt', costCents: 12, occurredAt: '2026-11-01T10:00:00Z' });
    expect(cost.status).toBe(201);
    expect(cost.body).toMatchObject({ costCents: 12, occurredAt: '2026-11-01T10:00:00.000Z', heartbeatRunId: null });
    expect((await acme.board.post(`${route}/cost-events`, { agentId: '00000000-0000-4000-8000-000000000000', provider: 'x', model: 'y', costCents: 1 })).status).toBe(422);
    expect((await acme.board.post(`${route}/cost-events`, { agentId: agent.id, provider: 'x', model: 'y', costCents: 1, occurredAt: 'yesterday' })).status).toBe(400);
  });

  it("keeps one local environment per company and shows a run's leases", async () => {
    const other = await givenCompany(vigil.admin);
    const first = await other.board.post(`/api/companies/${other.company.id}/environments`, { name: 'Laptop', driver: 'local' });
    expect(first.status).toBe(201);
    expect((await other.board.post(`/api/companies/${other.company.id}/environments`, { name: 'Again', driver: 'local' })).status).toBe(409);
    expect((await other.board.post(`/api/companies/${other.company.id}/environments`, { name: 'Remote', driver: 'ssh' })).status).toBe(400);
    // Runs lease the company's local environment.
    const agent = await givenAgent(other);
    const woken = await other.board.post(`/api/agents/${agent.id}/wakeup`, {});
    await waitForRunStatus(vigil.vigil.prisma, woken.body.id, TERMINAL);
    const leases = await other.board.get(`/api/heartbeat-runs/${woken.body.id}/leases`);
    expect(leases.body).toHaveLength(1);
    expect(leases.body[0]).toMatchObject({ environmentId: first.body.id, status: 'released', heartbeatRunId: woken.body.id });
    expect((await acme.board.get(`/api/heartbeat-runs/${woken.body.id}/leases`)).status).toBe(404);
  });
});

describe('list contracts: filters, pages and bounds', () => {
  it('filters issues by user assignee and origin, and pages 50 at a time by default', async () => {
    const paged = await givenCompany(vigil.admin);
    const list = (query: string) => paged.board.get(`/api/companies/${paged.company.id}/issues?${query}`);
    const source = await givenIssue(paged, { title: 'stuck source' });
    const mine = await givenIssue(paged, { title: 'for a human', status: 'todo', assigneeUserId: 'user-42' });
    const recovery = await givenIssue(paged, { title: 'Recover stalled issue', parentId: source.id });
    // Only the recovery sweep writes origins; a fixture stands in for it.
    await vigil.vigil.prisma.issue.update({ where: { id: recovery.id }, data: { originKind: 'stranded_issue_recovery', originId: source.id } });
    for (let i = 0; i < 49; i += 1) await givenIssue(paged, { title: `filler ${i}` });

    expect((await list('assigneeUserId=user-42')).body.map((i: { id: string }) => i.id)).toEqual([mine.id]);
    expect((await list(`originKind=stranded_issue_recovery&originId=${source.id}`)).body.map((i: { id: string }) => i.id)).toEqual([recovery.id]);
    expect((await list('originKind=manual&originId=' + source.id)).body).toEqual([]);
    const firstPage = (await list('')).body;
    expect(firstPage).toHaveLength(50);
    const secondPage = (await list('offset=50')).body;
    expect(secondPage.map((i: { id: string }) => i.id)).toEqual([mine.id, source.id]);
    expect((await list('limit=500')).body).toHaveLength(52);
    for (const bad of ['limit=501', 'limit=0', 'offset=-1', 'status=todo,doing', 'assigneeAgentId=agent-7', 'sort=title']) {
      const answer = await list(bad);
      expect(answer.status, bad).toBe(400);
      expect(answer.body.details[0].field, bad).toMatch(new RegExp(`^${bad.split('=')[0]}(\\.|$)`));
    }
  });

  it("lists an issue's runs newest first, and filters the company's runs by issue with a limit", async () => {
    const agent = await givenAgent(acme, { script: 'succeed.sh' });
    const issue = await givenIssue(acme, { title: 'two runs', status: 'todo' });
    const prisma = vigil.vigil.prisma;
    const first = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { payload: { issueId: issue.id } });
    await waitForRunStatus(prisma, first.body.id, TERMINAL);
    const second = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { payload: { issueId: issue.id } });
    expect(second.body.id).not.toBe(first.body.id);
    await waitForRunStatus(prisma, second.body.id, TERMINAL);

    const runs = (await acme.board.get(`/api/issues/${issue.identifier}/runs`)).body as Array<{ id: string; createdAt: string; contextSnapshot: { issueId: string } }>;
    const ids = runs.map((r) => r.id);
    expect(ids.indexOf(second.body.id)).toBeGreaterThanOrEqual(0);
    expect(ids.indexOf(second.body.id)).toBeLessThan(ids.indexOf(first.body.id));
    expect(runs.map((r) => r.createdAt)).toEqual(runs.map((r) => r.createdAt).sort().reverse());
    expect(runs.every((r) => r.contextSnapshot.issueId === issue.id)).toBe(true);
    expect((await acme.board.get(`/api/issues/${issue.id}/active-run`)).body).toBeNull();

    const byIssue = await acme.board.get(`/api/companies/${acme.company.id}/heartbeat-runs?issueId=${issue.id}`);
    expect(byIssue.body.map((r: { id: string }) => r.id)).toEqual(ids);
    const newest = await acme.board.get(`/api/companies/${acme.company.id}/heartbeat-runs?issueId=${issue.id}&limit=1`);
    expect(newest.body.map((r: { id: string }) => r.id)).toEqual([ids[0]]);
    expect((await acme.board.get(`/api/companies/${acme.company.id}/heartbeat-runs?limit=1001`)).status).toBe(400);
  });

  it('bounds run events, log slices and comment pages, and answers 404 for a run without a log', async () => {
    const agent = await givenAgent(acme, { script: 'succeed.sh' });
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
    await waitForRunStatus(vigil.vigil.prisma, woken.body.id, TERMINAL);
    const runUrl = `/api/heartbeat-runs/${woken.body.id}`;
    const events = (await acme.board.get(`${runUrl}/events`)).body as Array<{ seq: number }>;
    expect(events.length).toBeGreaterThan(2);
    expect(events.map((e) => e.seq)).toEqual(events.map((e) => e.seq).sort((a, b) => a - b));
    expect((await acme.board.get(`${runUrl}/events?limit=1001`)).status).toBe(400);
    expect((await acme.board.get(`${runUrl}/events?afterSeq=${events.at(-1)!.seq}`)).body).toEqual([]);

    const whole = await acme.board.get(`${runUrl}/log`);
    expect(whole.headers.get('cache-control')).toBe('no-store');
    expect(whole.body).toMatchObject({ runId: woken.body.id, nextOffset: null });
    expect(whole.body.content).toContain('Fixed the flaky test');
    expect((await acme.board.get(`${runUrl}/log?limitBytes=${1024 * 1024 + 1}`)).status).toBe(400);
    // A run that never started has no log.
    const unstarted = await vigil.vigil.prisma.heartbeatRun.create({ data: { companyId: acme.company.id, agentId: agent.id, status: 'cancelled' } });
    const missing = await acme.board.get(`/api/heartbeat-runs/${unstarted.id}/log`);
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe('not_found');

    const issue = await givenIssue(acme, { title: 'chatty' });
    expect((await acme.board.get(`/api/issues/${issue.id}/comments?limit=501`)).status).toBe(400);
    expect((await acme.board.get(`/api/issues/${issue.id}/comments?limit=500&order=asc`)).status).toBe(200);
  });

  it('names each unknown field of a body or query in the 400', async () => {
    const created = await acme.board.post(`/api/companies/${acme.company.id}/issues`, { title: 'x', colour: 'red', size: 'L' });
    expect(created.status).toBe(400);
    expect(created.body.details.map((d: { field: string }) => d.field).sort()).toEqual(['colour', 'size']);
    const listed = await acme.board.get(`/api/companies/${acme.company.id}/agents?x=1`);
    expect(listed.body.details).toEqual([{ field: 'x', message: 'is not a known field' }]);
  });

  it('lists the holds rooted at an issue, filtered by status', async () => {
    const root = await givenIssue(acme, { title: 'held epic' });
    const hold = await acme.board.post(`/api/issues/${root.id}/tree-holds`, { mode: 'pause' });
    const holds = (query = '') => acme.board.get(`/api/issues/${root.identifier}/tree-holds${query}`);
    expect((await holds()).body).toMatchObject([{ id: hold.body.id, status: 'active', members: [{ issueId: root.id, depth: 0 }] }]);
    expect((await holds('?status=released')).body).toEqual([]);
    await acme.board.post(`/api/issues/${root.id}/tree-holds/${hold.body.id}/release`, {});
    expect((await holds('?status=released')).body.map((h: { id: string }) => h.id)).toEqual([hold.body.id]);
    expect((await holds('?status=paused')).status).toBe(400);
  });
});
