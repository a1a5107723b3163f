/**
 * Issue 14 §3: the `Idempotency-Key` header of the five side-effecting routes, against the real
 * API, PostgreSQL and Temporal. Concurrent duplicates write once; a repeat answers the first
 * status and body; another request under the same key is a 422; keys are per caller; a refusal
 * (4xx) releases its key; and a retried run that re-posts its predecessor's comment under the key
 * its environment gives it writes nothing new.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { ApiClient } from '../support/apiClient.ts';
import { createApp } from '../../src/api/app.ts';
import type { ApiContext } from '../../src/api/context.ts';
import { RunControl } from '../../src/api/runControl.ts';
import { createLogger } from '../../src/logger.ts';
import { eventually, givenAgent, givenCompany, givenIssue, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import { expiredIdempotencyKeys, IDEMPOTENCY_KEY_TTL_MS } from '../../src/store/idempotencyKeys.ts';
import { RunLogRetention } from '../../src/store/runLogRetention.ts';
import { idempotencyPrefix } from '../../src/domain/idempotencyPrefix.ts';

let vigil: TestVigil;
let acme: CompanyFixture;

beforeAll(async () => {
  vigil = await startTestVigil();
  acme = await givenCompany(vigil.admin);
});

afterAll(async () => {
  await vigil?.stop();
});

function send(client: ApiClient, method: string, route: string, body: unknown, key?: string) {
  return client.request(method, route, body, key === undefined ? {} : { headers: { 'idempotency-key': key } });
}

describe('Idempotency-Key', () => {
  it('is documented as a header of exactly the five side-effecting routes', async () => {
    const document = (await vigil.admin.get('/api/openapi.json')).body as { paths: Record<string, Record<string, { parameters?: Array<{ in: string; name: string; required: boolean; schema: { pattern?: string } }>; responses: Record<string, unknown> }>> };
    const withHeader: string[] = [];
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const header = operation.parameters?.find((parameter) => parameter.in === 'header' && parameter.name === 'idempotency-key');
        if (!header) continue;
        withHeader.push(`${method.toUpperCase()} ${path}`);
        expect(header.required).toBe(false);
        expect(header.schema.pattern).toBeDefined();
        expect(Object.keys(operation.responses)).toEqual(expect.arrayContaining(['409', '422']));
      }
    }
    expect(withHeader.sort()).toEqual([
      'POST /api/agents/{agentId}/wakeup',
      'POST /api/companies/{companyId}/cost-events',
      'POST /api/companies/{companyId}/issues',
      'POST /api/issues/{issueId}/comments',
      'PUT /api/issues/{issueId}/documents/{key}',
    ]);
  });

  it('writes one comment for 20 concurrent identical requests, and all 20 get its status and body', async () => {
    const issue = await givenIssue(acme, {});
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => send(acme.board, 'POST', `/api/issues/${issue.id}/comments`, { body: 'Only once, please' }, 'concurrent-comment-1')),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(201));
    const comments = await vigil.vigil.prisma.issueComment.findMany({ where: { issueId: issue.id } });
    expect(comments).toHaveLength(1);
    for (const answer of answers) expect(answer.body).toEqual(answers[0].body);
    expect(answers[0].body.id).toBe(comments[0].id);
    // One answer was the write; the 19 others were replays of it.
    expect(answers.filter((answer) => answer.headers.get('idempotent-replayed') === 'true')).toHaveLength(19);
  });

  it('creates one issue for 20 concurrent identical creations', async () => {
    const route = `/api/companies/${acme.company.id}/issues`;
    const answers = await Promise.all(Array.from({ length: 20 }, () => send(acme.board, 'POST', route, { title: 'Created once' }, 'concurrent-issue-1')));
    expect(new Set(answers.map((answer) => answer.status))).toEqual(new Set([201]));
    expect(new Set(answers.map((answer) => answer.body.id)).size).toBe(1);
    expect(await vigil.vigil.prisma.issue.count({ where: { companyId: acme.company.id, title: 'Created once' } })).toBe(1);
  });

  it('answers a repeat with the first status and body on every route, writing nothing again', async () => {
    const issue = await givenIssue(acme, {});
    const agent = await givenAgent(acme, { script: 'sleep.sh' });

    const doc = `/api/issues/${issue.id}/documents/plan`;
    const firstDoc = await send(acme.board, 'PUT', doc, { body: 'v1' }, 'doc-1');
    const againDoc = await send(acme.board, 'PUT', doc, { body: 'v1' }, 'doc-1');
    expect(firstDoc.status).toBe(200);
    expect(againDoc).toMatchObject({ status: 200, body: firstDoc.body });
    expect(againDoc.body.revisionNumber).toBe(1);
    expect(await vigil.vigil.prisma.documentRevision.count({ where: { documentId: firstDoc.body.id } })).toBe(1);

    const costs = `/api/companies/${acme.company.id}/cost-events`;
    const cost = { agentId: agent.id, provider: 'anthropic', model: 'claude', costCents: 7 };
    const firstCost = await send(acme.board, 'POST', costs, cost, 'cost-1');
    const againCost = await send(acme.board, 'POST', costs, { costCents: 7, model: 'claude', provider: 'anthropic', agentId: agent.id }, 'cost-1');
    expect(firstCost.status).toBe(201);
    // Key order aside, the same body is the same request.
    expect(againCost).toMatchObject({ status: 201, body: firstCost.body });
    expect(await vigil.vigil.prisma.costEvent.count({ where: { agentId: agent.id } })).toBe(1);

    const wake = `/api/agents/${agent.id}/wakeup`;
    const firstWake = await send(acme.board, 'POST', wake, { reason: 'once' }, 'wake-1');
    const againWake = await send(acme.board, 'POST', wake, { reason: 'once' }, 'wake-1');
    expect(firstWake.status).toBe(202);
    expect(againWake).toMatchObject({ status: 202, body: firstWake.body });
    expect(againWake.headers.get('idempotent-replayed')).toBe('true');
    expect(await vigil.vigil.prisma.agentWakeupRequest.count({ where: { agentId: agent.id } })).toBe(1);
    await acme.board.post(`/api/heartbeat-runs/${firstWake.body.id}/cancel`, {});
    await waitForRunStatus(vigil.vigil.prisma, firstWake.body.id, ['cancelled', 'failed', 'succeeded']);

    // Without a key nothing changes: every call writes.
    await send(acme.board, 'PUT', doc, { body: 'v1' });
    expect(await vigil.vigil.prisma.documentRevision.count({ where: { documentId: firstDoc.body.id } })).toBe(2);
  });

  it('refuses the same key with another body, or on another route or issue, with a 422 naming the conflict', async () => {
    const issue = await givenIssue(acme, {});
    const other = await givenIssue(acme, {});
    const first = await send(acme.board, 'POST', `/api/issues/${issue.id}/comments`, { body: 'first' }, 'conflict-1');
    expect(first.status).toBe(201);

    const differentBody = await send(acme.board, 'POST', `/api/issues/${issue.id}/comments`, { body: 'second' }, 'conflict-1');
    expect(differentBody.status).toBe(422);
    expect(differentBody.body).toMatchObject({ code: 'idempotency_key_conflict', field: 'idempotency-key', firstRoute: 'POST /issues/:issueId/comments' });
    expect(differentBody.body.error).toContain('Idempotency-Key "conflict-1" was already used with a different request');

    const otherIssue = await send(acme.board, 'POST', `/api/issues/${other.id}/comments`, { body: 'first' }, 'conflict-1');
    expect(otherIssue).toMatchObject({ status: 422, body: { code: 'idempotency_key_conflict' } });

    const otherRoute = await send(acme.board, 'PUT', `/api/issues/${issue.id}/documents/notes`, { body: 'first' }, 'conflict-1');
    expect(otherRoute.status).toBe(422);
    expect(otherRoute.body.error).toContain('was already used on POST /issues/:issueId/comments');

    // The issue by its identifier is the same target.
    const byIdentifier = await send(acme.board, 'POST', `/api/issues/${issue.identifier}/comments`, { body: 'first' }, 'conflict-1');
    expect(byIdentifier).toMatchObject({ status: 201, body: first.body });
    expect(await vigil.vigil.prisma.issueComment.count({ where: { issueId: { in: [issue.id, other.id] } } })).toBe(1);
    expect(await vigil.vigil.prisma.issueDocument.count({ where: { issueId: issue.id } })).toBe(0);
  });

  it('scopes keys per caller: another board key, or the admin, with the same key writes its own row', async () => {
    const issue = await givenIssue(acme, {});
    const secondKey = await vigil.admin.post(`/api/companies/${acme.company.id}/board-keys`, { name: 'second' });
    const secondBoard = vigil.admin.as(secondKey.body.key);
    const route = `/api/issues/${issue.id}/comments`;
    const answers = [
      await send(acme.board, 'POST', route, { body: 'same' }, 'shared-key'),
      await send(secondBoard, 'POST', route, { body: 'same' }, 'shared-key'),
      await send(vigil.admin, 'POST', route, { body: 'same' }, 'shared-key'),
      await send(acme.board, 'POST', route, { body: 'same' }, 'shared-key'),
    ];
    expect(answers.map((answer) => answer.status)).toEqual([201, 201, 201, 201]);
    expect(new Set(answers.map((answer) => answer.body.id)).size).toBe(3);
    expect(answers[3].body.id).toBe(answers[0].body.id);
    expect(await vigil.vigil.prisma.issueComment.count({ where: { issueId: issue.id } })).toBe(3);
  });

  it('answers a malformed key with a 400 naming the header, before anything is written', async () => {
    const issue = await givenIssue(acme, {});
    for (const key of ['has space', 'x'.repeat(256), 'tab\there', 'é']) {
      const answer = await send(acme.board, 'POST', `/api/issues/${issue.id}/comments`, { body: 'no' }, key);
      expect(answer.status, key).toBe(400);
      expect(answer.body.details).toEqual([expect.objectContaining({ field: 'idempotency-key' })]);
    }
    expect(await vigil.vigil.prisma.issueComment.count({ where: { issueId: issue.id } })).toBe(0);
    expect((await send(acme.board, 'POST', `/api/issues/${issue.id}/comments`, { body: 'yes' }, 'x'.repeat(255))).status).toBe(201);
  });

  it('releases the key of a refused request: a retry is answered anew, and may then succeed', async () => {
    const agent = await givenAgent(acme, {});
    const costs = `/api/companies/${acme.company.id}/cost-events`;
    const unknownIssue = '00000000-0000-4000-8000-000000000000';
    const refused = await send(acme.board, 'POST', costs, { agentId: agent.id, issueId: unknownIssue, provider: 'p', model: 'm', costCents: 1 }, 'refused-1');
    expect(refused).toMatchObject({ status: 422, body: { code: 'unknown_issue' } });
    // Nothing was stored for the key: the corrected request is not a conflict.
    const corrected = await send(acme.board, 'POST', costs, { agentId: agent.id, provider: 'p', model: 'm', costCents: 1 }, 'refused-1');
    expect(corrected.status).toBe(201);
    expect(await vigil.vigil.prisma.costEvent.count({ where: { agentId: agent.id } })).toBe(1);
  });

  it('forgets a key after 24 h: the same key then writes again', async () => {
    const issue = await givenIssue(acme, {});
    const route = `/api/issues/${issue.id}/comments`;
    const first = await send(acme.board, 'POST', route, { body: 'day one' }, 'daily');
    await vigil.vigil.prisma.idempotencyKey.updateMany({
      where: { companyId: acme.company.id, key: 'daily' },
      data: { createdAt: new Date(Date.now() - IDEMPOTENCY_KEY_TTL_MS - 1_000) },
    });
    const later = await send(acme.board, 'POST', route, { body: 'day two' }, 'daily');
    expect(later.status).toBe(201);
    expect(later.body.id).not.toBe(first.body.id);
    expect(await vigil.vigil.prisma.issueComment.count({ where: { issueId: issue.id } })).toBe(2);
    expect(await vigil.vigil.prisma.idempotencyKey.count({ where: { companyId: acme.company.id, key: 'daily' } })).toBe(1);
  });

  it("is pruned 24 h after its request by every process's hourly retention tick, with nothing else of the company", async () => {
    const issue = await givenIssue(acme, {});
    const route = `/api/issues/${issue.id}/comments`;
    await send(acme.board, 'POST', route, { body: 'old' }, 'prune-old');
    await send(acme.board, 'POST', route, { body: 'fresh' }, 'prune-fresh');
    await vigil.vigil.prisma.idempotencyKey.updateMany({ where: { companyId: acme.company.id, key: 'prune-old' }, data: { createdAt: new Date(Date.now() - IDEMPOTENCY_KEY_TTL_MS - 1_000) } });
    const retention = new RunLogRetention({
      prisma: vigil.vigil.prisma,
      logger: createLogger('error'),
      pruneIntervalMs: 50,
      alsoPrune: [expiredIdempotencyKeys(vigil.vigil.prisma)],
    });
    retention.start();
    try {
      await eventually(async () => ((await vigil.vigil.prisma.idempotencyKey.count({ where: { companyId: acme.company.id, key: 'prune-old' } })) === 0 ? true : null), 10_000, 'the expired key to be pruned');
    } finally {
      await retention.stop();
    }
    expect(await vigil.vigil.prisma.idempotencyKey.count({ where: { companyId: acme.company.id, key: 'prune-fresh' } })).toBe(1);
    expect(await vigil.vigil.prisma.issueComment.count({ where: { issueId: issue.id } })).toBe(2);
  });

  it('a retry run re-posting its lost predecessor\'s comment under the prefix it is given writes nothing new', async () => {
    const agent = await givenAgent(acme, { script: 'comment-idempotently.sh' });
    const issue = await givenIssue(acme, { status: 'todo', assigneeAgentId: agent.id });
    const first = await eventually(
      () => vigil.vigil.prisma.heartbeatRun.findFirst({ where: { agentId: agent.id, retryOfRunId: null } }),
      20_000,
      'the first run',
    );
    const lost = await waitForRunStatus(vigil.vigil.prisma, first.id, ['succeeded', 'failed', 'cancelled', 'timed_out'], 60_000);
    expect(lost).toMatchObject({ status: 'failed', errorCode: 'process_lost' });
    const retry = await eventually(() => vigil.vigil.prisma.heartbeatRun.findFirst({ where: { retryOfRunId: lost.id } }), 20_000, 'the process-loss retry');
    const retried = await waitForRunStatus(vigil.vigil.prisma, retry.id, ['succeeded', 'failed', 'cancelled', 'timed_out'], 60_000);
    expect(retried.status).toBe('succeeded');

    // Both runs got the same prefix: the issue and the run their lineage started with.
    const prefix = idempotencyPrefix({ issueId: issue.id, rootRunId: lost.id });
    const reports = [lost, retried].map((run) => JSON.parse((run.stderrExcerpt ?? '').trim().split('\n').find((line) => line.startsWith('{')) ?? 'null'));
    expect(reports).toEqual([
      { status: 201, replayed: false, prefix },
      { status: 201, replayed: true, prefix },
    ]);
    // One comment: the retry's repeated one was answered from the first, and stands for the retry,
    // so its result summary is not posted as a comment of its own (R8 step 5) nor is one owed (R73).
    const comments = await vigil.vigil.prisma.issueComment.findMany({ where: { issueId: issue.id } });
    expect(comments).toHaveLength(1);
    expect(comments[0]).toMatchObject({ authorAgentId: agent.id, createdByRunId: lost.id, body: 'Progress note, posted once however often the run is retried' });
    expect(retried.resultJson).toMatchObject({ summary: 'Progress noted' });
    expect(retried.issueCommentSatisfiedByCommentId).toBe(comments[0].id);
    expect(await vigil.vigil.prisma.idempotencyKey.count({ where: { companyId: acme.company.id, caller: `agent:${agent.id}` } })).toBe(1);
  });

  it('stores the one error answer that reports a write: a 503 naming the run it queued is replayed, not queued again', async () => {
    const agent = await givenAgent(acme, {});
    // An API whose Temporal connection is gone (as in temporalUnavailable.test.ts): a wake commits
    // its run, then cannot start its workflow.
    const connection = await Connection.connect({ address: inject('temporalAddress') });
    const unreachable = new Client({ connection, namespace: inject('temporalNamespace') });
    await connection.close();
    const logger = createLogger('error', {}, () => {});
    const prisma = vigil.vigil.prisma;
    const runControl = new RunControl({ prisma, temporal: unreachable, workflowSettings: { taskQueue: vigil.taskQueue, adapterHeartbeatTimeoutMs: 5_000 }, activityDeps: undefined as never, logger });
    const app = createApp({ prisma, runControl, logger, adminToken: 'cut-off-admin', runTokenSecret: 'unused', temporalNamespace: 'default', temporalUiUrl: null, metrics: vigil.vigil.metrics, temporalMetricsUrl: null } as unknown as ApiContext);
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const cutOff = new ApiClient(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, 'cut-off-admin');
      const first = await send(cutOff, 'POST', `/api/agents/${agent.id}/wakeup`, {}, 'wake-while-cut-off');
      expect(first).toMatchObject({ status: 503, body: { code: 'temporal_unavailable', runId: expect.any(String) } });
      const again = await send(cutOff, 'POST', `/api/agents/${agent.id}/wakeup`, {}, 'wake-while-cut-off');
      expect(again).toMatchObject({ status: 503, body: first.body });
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(await prisma.heartbeatRun.count({ where: { agentId: agent.id } })).toBe(1);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
    // The queued run starts once workflows are resumed, as any run queued while Temporal was away.
    const [run] = await prisma.heartbeatRun.findMany({ where: { agentId: agent.id } });
    await vigil.vigil.runControl.resumeQueuedRuns({ companyId: acme.company.id });
    expect((await waitForRunStatus(prisma, run.id, ['succeeded', 'failed'])).status).toBe('succeeded');
  });
});
