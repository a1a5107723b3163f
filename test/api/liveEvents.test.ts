/**
 * The company live channel, `GET /api/companies/:companyId/events` (DATA-MODEL §4.6), against the
 * real stack: boards stream from one Vigil (the test's), while the runs, issues and agents they
 * watch are driven by another Vigil in a separate OS process, with its own API, worker, Prisma
 * pool and listener. Nothing can reach a board through one process's memory.
 */
import { EventEmitter } from 'node:events';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { startVigilProcess, type VigilProcess } from '../support/vigilProcess.ts';
import { connectSse, type SseConnection, type SseMessage } from '../support/sseClient.ts';
import { eventually, givenAgent, givenCompany, givenIssue, waitForIssueRun, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import { pruneLiveEvents } from '../../src/live/liveEventStore.ts';
import { serveCompanyEvents } from '../../src/live/companyEventStream.ts';
import { LiveEventHub, listenerApplicationName } from '../../src/live/liveEventHub.ts';
import { applyMigrations } from '../../src/store/migrate.ts';
import { createPrismaClient } from '../../src/store/db.ts';
import { createLogger } from '../../src/logger.ts';
import { createScratchDatabase } from '../support/scratchDatabase.ts';
import { takeTransactionId, writeActivityEvent } from '../support/liveEventWrites.ts';
import { runTexts } from '../../src/domain/texts.ts';

import { TERMINAL_RUN_STATUSES as TERMINAL } from '../../src/domain/runStatus.ts';
const MAX_CHUNK_BYTES = 8 * 1024;

let api: TestVigil;
let runner: VigilProcess;
const cleanups: Array<() => Promise<unknown>> = [];
const streams: SseConnection[] = [];

/** Another Vigil (API + worker + live-event listener) in a process of its own. */
async function startRunnerProcess() {
  const runner = await startVigilProcess({ label: 'vigil-runner' });
  cleanups.push(runner.stop);
  return runner;
}

beforeAll(async () => {
  // The fallback poll is an hour: whatever reaches a board here came by notification (or a reconnect's catch-up read).
  [api, runner] = await Promise.all([startTestVigil({ liveEvents: { pollIntervalMs: 60 * 60 * 1000 } }), startRunnerProcess()]);
});

afterAll(async () => {
  for (const stream of streams) stream.close();
  await api?.stop();
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

function eventsUrl(companyId: string): string {
  return `${api.apiUrl}/api/companies/${companyId}/events`;
}

/** A board streaming from the test's Vigil (not the runner). */
async function boardStream(companyId: string, token: string, lastEventId?: string | number | null): Promise<SseConnection> {
  const stream = await connectSse(eventsUrl(companyId), { token, lastEventId });
  streams.push(stream);
  expect(stream.status).toBe(200);
  return stream;
}

const data = (message: SseMessage) => JSON.parse(message.data) as Record<string, any>;
const ids = (messages: SseMessage[]) => messages.map((message) => Number(message.id));
const of = (type: string, where: (payload: Record<string, any>) => boolean = () => true) => (message: SseMessage) =>
  message.event === type && where(data(message));

function expectStrictlyIncreasing(values: number[]) {
  for (let i = 1; i < values.length; i++) expect(values[i], `id ${values[i]} after ${values[i - 1]}`).toBeGreaterThan(values[i - 1]);
}

async function secondBoardKey(fixture: CompanyFixture): Promise<string> {
  const key = await runner.admin.post(`/api/companies/${fixture.company.id}/board-keys`, { name: 'second board' });
  expect(key.status).toBe(201);
  return key.body.key;
}

describe('the company live channel', () => {
  it('streams a run driven by another process to two boards: queued, status changes, log chunks, run events, agent status and issue updates', async () => {
    const acme = await givenCompany(runner.admin);
    const agent = await givenAgent(acme, { script: 'long-output.sh' });
    const first = await boardStream(acme.company.id, acme.boardKey);
    const second = await boardStream(acme.company.id, await secondBoardKey(acme));
    expect(first.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(first.headers.get('cache-control')).toMatch(/no-cache/);
    expect(first.headers.get('x-accel-buffering')).toBe('no');
    await eventually(async () => first.parser.retryMs !== null, 5_000, 'the retry hint');

    // The assignment wakes the agent; the runner process claims, runs and finalizes it.
    const issue = await givenIssue(acme, { title: 'Print a lot', status: 'todo', assigneeAgentId: agent.id });
    const run = await waitForIssueRun(api.vigil.prisma, issue.id);
    const finished = await waitForRunStatus(api.vigil.prisma, run.id, TERMINAL, 60_000);
    expect(finished.status).toBe('succeeded');

    // The finalize's last writes (one transaction): the issue released and the agent idle again.
    const released = of('issue.updated', (p) => p.issueId === issue.id && p.executionRunId === null && p.change === 'updated');
    const agentIdle = of('agent.status', (p) => p.agentId === agent.id && p.status === 'idle');
    const releasedMessage = await first.waitFor(released, 20_000, 'the issue released after the run');
    await second.waitFor(released, 20_000, 'the issue released after the run, on the second board');
    const idleMessage = await first.waitFor(agentIdle, 20_000, 'the agent idle after the run');
    await second.waitFor(agentIdle, 20_000, 'the agent idle after the run, on the second board');
    const forRun = (p: Record<string, any>) => p.runId === run.id;

    // heartbeat.run.queued, then every status change in order.
    const queued = await first.waitFor(of('heartbeat.run.queued', forRun));
    expect(data(queued)).toEqual({
      runId: run.id,
      agentId: agent.id,
      invocationSource: 'assignment',
      triggerDetail: run.triggerDetail,
      wakeupRequestId: run.wakeupRequestId,
      status: 'queued',
      issueId: issue.id,
    });
    const statuses = first.messages.filter(of('heartbeat.run.status', forRun)).map(data);
    expect(statuses.map((s) => s.status)).toEqual(['running', 'succeeded']);
    expect(statuses[1]).toMatchObject({ agentId: agent.id, error: null, errorCode: null, startedAt: finished.startedAt!.toISOString(), finishedAt: finished.finishedAt!.toISOString() });
    expect(Number(queued.id)).toBeLessThan(Number(first.messages.find(of('heartbeat.run.status', forRun))!.id));

    // heartbeat.run.log: chunks of at most 8 KiB that reassemble to the stored output.
    const logRows = await api.vigil.prisma.heartbeatRunEvent.findMany({ where: { runId: run.id, eventType: 'log' }, orderBy: { id: 'asc' } });
    const chunks = first.messages.filter(of('heartbeat.run.log', forRun)).map(data);
    for (const chunk of chunks) expect(Buffer.byteLength(chunk.chunk, 'utf8')).toBeLessThanOrEqual(MAX_CHUNK_BYTES);
    expect(chunks.length).toBeGreaterThan(logRows.length); // multibyte rows above 8 KiB were split
    const streamed = chunks.filter((c) => c.stream === 'stdout').map((c) => c.chunk).join('');
    expect(streamed).toBe(logRows.filter((row) => row.stream === 'stdout').map((row) => row.message).join(''));
    expect(streamed).toContain(`${'héllo wörld '.repeat(3000)}\n`);
    expect(streamed).toContain('line 59: the quick brown fox');
    expect(chunks[0]).toMatchObject({ runId: run.id, agentId: agent.id, truncated: false });

    // heartbeat.run.event: every other event row of the run, as stored.
    const eventRows = await api.vigil.prisma.heartbeatRunEvent.findMany({ where: { runId: run.id, eventType: { not: 'log' } }, orderBy: { id: 'asc' } });
    const runEvents = first.messages.filter(of('heartbeat.run.event', forRun)).map(data);
    expect(runEvents.map((e) => e.id)).toEqual(eventRows.map((row) => Number(row.id)));
    expect(runEvents).toContainEqual(expect.objectContaining({ eventType: 'lifecycle', message: runTexts.runFinished('succeeded'), seq: expect.any(Number) }));

    // agent.status: running at the claim, idle with the run's outcome at the finalize.
    const agentStatuses = first.messages.filter(of('agent.status', (p) => p.agentId === agent.id)).map(data);
    expect(agentStatuses[0]).toMatchObject({ status: 'running', outcome: null });
    expect(agentStatuses.at(-1)).toMatchObject({ status: 'idle', outcome: 'succeeded', lastHeartbeatAt: expect.any(String) });

    // issue.updated: created, locked by the run and in progress, then released.
    const issueUpdates = first.messages.filter(of('issue.updated', (p) => p.issueId === issue.id)).map(data);
    expect(issueUpdates[0]).toMatchObject({ change: 'created', identifier: issue.identifier, status: 'todo', assigneeAgentId: agent.id, executionRunId: null });
    expect(issueUpdates).toContainEqual(expect.objectContaining({ status: 'in_progress', executionRunId: run.id }));
    expect(issueUpdates.at(-1)).toMatchObject({ executionRunId: null });

    // activity.logged: the agent's first heartbeat (R11), without its details.
    const firstHeartbeat = await first.waitFor(of('activity.logged', (p) => p.entityId === agent.id && p.action === 'telemetry.agent_first_heartbeat'));
    expect(data(firstHeartbeat)).toMatchObject({ entityType: 'agent', agentId: agent.id, actorType: 'system' });
    expect(data(firstHeartbeat)).not.toHaveProperty('details');

    // Both boards got the same events, once each, in id order.
    const upTo = Math.max(Number(releasedMessage.id), Number(idleMessage.id));
    const firstIds = ids(first.messages).filter((id) => id <= upTo);
    expectStrictlyIncreasing(firstIds);
    expect(ids(second.messages).filter((id) => id <= upTo)).toEqual(firstIds);
  });

  it('never carries a token: run errors, events and output are redacted', async () => {
    const acme = await givenCompany(runner.admin);
    const agent = await givenAgent(acme, { script: 'echo-token.sh', env: { EXIT_CODE: '4' } });
    const board = await boardStream(acme.company.id, acme.boardKey);
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
    expect(woken.status).toBe(202);
    const failed = await board.waitFor(of('heartbeat.run.status', (p) => p.runId === woken.body.id && TERMINAL.includes(p.status)), 60_000, 'the run to end');
    expect(data(failed).status).toBe('failed');
    await board.waitFor(of('agent.status', (p) => p.agentId === agent.id && p.outcome === 'failed'));
    const everything = board.messages.map((message) => message.data).join('\n');
    expect(board.messages.filter(of('heartbeat.run.log')).length).toBeGreaterThan(0);
    expect(everything).not.toMatch(/vg[rba]_[A-Za-z0-9_-]{8,}/);
    expect(everything).not.toContain(acme.boardKey);
  });

  it('gives a board that reconnects with Last-Event-ID exactly the events it missed, then live ones', async () => {
    const acme = await givenCompany(runner.admin);
    const steady = await boardStream(acme.company.id, acme.boardKey);
    const board = await boardStream(acme.company.id, acme.boardKey);
    const issueEvent = of('issue.updated', (p) => p.change === 'created');
    for (const title of ['before 1', 'before 2']) await givenIssue(acme, { title });
    await board.waitForCount(issueEvent, 2);
    const lastSeen = board.parser.lastEventId!;
    board.close();

    for (const title of ['away 1', 'away 2', 'away 3']) await givenIssue(acme, { title });
    await steady.waitFor(of('issue.updated', (p) => p.title === 'away 3'));
    const resumed = await boardStream(acme.company.id, acme.boardKey, lastSeen);
    await resumed.waitForCount(issueEvent, 3, 10_000, 'the missed events');
    await givenIssue(acme, { title: 'after' });
    await resumed.waitFor(of('issue.updated', (p) => p.title === 'after'));
    await steady.waitFor(of('issue.updated', (p) => p.title === 'after'));

    expect(resumed.messages.filter(issueEvent).map((m) => data(m).title)).toEqual(['away 1', 'away 2', 'away 3', 'after']);
    expect(ids(resumed.messages)).toEqual(ids(steady.messages).filter((id) => id > Number(lastSeen)));
    // The same through ?lastEventId= for clients that cannot set the header.
    const viaQuery = await connectSse(`${eventsUrl(acme.company.id)}?lastEventId=${lastSeen}`, { token: acme.boardKey });
    streams.push(viaQuery);
    await viaQuery.waitForCount(issueEvent, 4);
    expect(ids(viaQuery.messages)).toEqual(ids(resumed.messages));
  });

  it("keeps companies apart and refuses callers who may not see the company's events", async () => {
    const acme = await givenCompany(runner.admin);
    const globex = await givenCompany(runner.admin);
    const acmeBoard = await boardStream(acme.company.id, acme.boardKey);
    const globexBoard = await boardStream(globex.company.id, globex.boardKey);
    const adminBoard = await boardStream(acme.company.id, api.adminToken);

    await givenIssue(acme, { title: 'Acme only' });
    await acmeBoard.waitFor(of('issue.updated', (p) => p.title === 'Acme only'));
    await adminBoard.waitFor(of('issue.updated', (p) => p.title === 'Acme only'));
    await givenIssue(globex, { title: 'Globex only' });
    await globexBoard.waitFor(of('issue.updated', (p) => p.title === 'Globex only'));
    expect(globexBoard.messages.filter(of('issue.updated')).map((m) => data(m).title)).toEqual(['Globex only']);
    const mentionsAcme = (m: SseMessage) => m.data.includes('Acme only') || m.data.includes(acme.company.id);
    expect(globexBoard.messages.filter(mentionsAcme)).toEqual([]);
    expect(acmeBoard.messages.some((m) => m.data.includes('Globex only') || m.data.includes(globex.company.id))).toBe(false);

    const refused = async (token: string | null, companyId = acme.company.id, lastEventId?: string) => {
      const response = await connectSse(eventsUrl(companyId), { token, lastEventId });
      response.close();
      return response.status;
    };
    expect(await refused(null)).toBe(401);
    expect(await refused('vgb_not-a-real-key-at-all')).toBe(401);
    expect(await refused(globex.boardKey)).toBe(403);
    expect(await refused(acme.boardKey, acme.company.id, 'not-an-id')).toBe(400);
    expect(await refused(api.adminToken, randomUUID())).toBe(404);

    // A refused request is an API latency; a stream that stayed open is not, even once it ends.
    const subscribers = api.vigil.liveEvents.subscriberCount;
    acmeBoard.close();
    await eventually(async () => api.vigil.liveEvents.subscriberCount === subscribers - 1, 10_000, 'the server to see the stream end');
    const metrics = await (await fetch(`${api.apiUrl}/metrics`)).text();
    const eventsRoute = (statusClass: string) => new RegExp(`vigil_api_request_duration_seconds_count\\{[^}]*route="/api/companies/:companyId/events",status_class="${statusClass}"\\} (\\d+)`);
    expect(Number(eventsRoute('4xx').exec(metrics)?.[1])).toBeGreaterThanOrEqual(3); // 403, 400, 404 (a 401 stops before routing)
    expect(metrics).not.toMatch(eventsRoute('2xx'));
  });

  it('keeps streaming when the LISTEN connection is cut: the listener reconnects and catches up', async () => {
    const acme = await givenCompany(runner.admin);
    const board = await boardStream(acme.company.id, acme.boardKey);
    const cut = await api.vigil.prisma.$queryRaw<Array<{ cut: boolean }>>`
      SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity WHERE application_name = ${listenerApplicationName()}`;
    expect(cut).toEqual([{ cut: true }]);
    await givenIssue(acme, { title: 'while the listener was down' });
    await board.waitFor(of('issue.updated', (p) => p.title === 'while the listener was down'), 10_000);
    await eventually(async () => {
      const rows = await api.vigil.prisma.$queryRaw<unknown[]>`SELECT 1 FROM pg_stat_activity WHERE application_name = ${listenerApplicationName()}`;
      return rows.length === 1;
    }, 10_000, 'the listener to reconnect');
    const notified = api.vigil.liveEvents.counts.notifications;
    await givenIssue(acme, { title: 'after the reconnect' });
    await board.waitFor(of('issue.updated', (p) => p.title === 'after the reconnect'), 10_000);
    expect(api.vigil.liveEvents.counts.notifications).toBeGreaterThan(notified); // the new connection LISTENs
  });

  it('delivers each change committed by another process to the board by notification, in order', async () => {
    const acme = await givenCompany(runner.admin);
    const issue = await givenIssue(acme, { title: 'Watch me' });
    const board = await boardStream(acme.company.id, acme.boardKey);
    const notified = api.vigil.liveEvents.counts.notifications;
    for (let i = 0; i < 20; i++) {
      const patched = await acme.board.patch(`/api/issues/${issue.id}`, { title: `Watch me ${i}` });
      expect(patched.status).toBe(200);
      // Each one arrives before the next is made: no poll (an hour away) could have brought it.
      await board.waitFor(of('issue.updated', (p) => p.title === `Watch me ${i}`), 10_000);
    }
    expect(api.vigil.liveEvents.counts.notifications - notified).toBeGreaterThanOrEqual(20);
    // (A board may also get events committed moments before it connected, like the issue's creation.)
    const patches = board.messages.filter(of('issue.updated', (p) => /^Watch me \d+$/.test(p.title)));
    expect(patches.map((m) => data(m).title)).toEqual(Array.from({ length: 20 }, (_, i) => `Watch me ${i}`));
  });
});

describe('reading live_events when ids commit out of order', () => {
  const databaseUrl = () => inject('databaseUrl');

  async function withClients<T>(body: (a: pg.Client, b: pg.Client) => Promise<T>): Promise<T> {
    const a = new pg.Client({ connectionString: databaseUrl() });
    const b = new pg.Client({ connectionString: databaseUrl() });
    await Promise.all([a.connect(), b.connect()]);
    try {
      return await body(a, b);
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  }

  const titles = (messages: SseMessage[]) => messages.map((m) => data(m).action);
  const hub = () => api.vigil.liveEvents;

  it('holds back an event whose lower-id neighbour is still uncommitted, then delivers both in id order', async () => {
    const acme = await givenCompany(api.admin);
    const board = await boardStream(acme.company.id, acme.boardKey);
    await withClients(async (slow, fast) => {
      await slow.query('BEGIN');
      const early = await writeActivityEvent(slow, acme.company.id, 'early');
      const late = await writeActivityEvent(fast, acme.company.id, 'late'); // autocommit: committed first
      expect(late).toBeGreaterThan(early);
      // The hub has read `late` and holds it behind the gap `early` leaves.
      await eventually(async () => hub().pendingGap?.from === early, 10_000, 'the hub to hold the gap');
      expect(board.messages.filter(of('activity.logged'))).toEqual([]);
      await slow.query('COMMIT');
      const both = await board.waitForCount(of('activity.logged'), 2, 10_000);
      expect(titles(both)).toEqual(['early', 'late']);
      expect(ids(both)).toEqual([early, late]);
    });
  });

  // Issue 9: Y takes its transaction id, then X takes its own; X writes an event (the lower id) and
  // stays open; Y writes and commits. PostgreSQL's snapshot does not list X as in progress then
  // (its xmax is the newest finished id + 1), and the reader used to step over X's event for good.
  for (const order of ['Y took its transaction id first', 'X took its transaction id first'] as const) {
    it(`delivers an event that commits after a higher id, whichever transaction took its id first (${order})`, async () => {
      const acme = await givenCompany(api.admin);
      const board = await boardStream(acme.company.id, acme.boardKey);
      await withClients(async (x, y) => {
        await Promise.all([x.query('BEGIN'), y.query('BEGIN')]);
        const [first, second] = order === 'Y took its transaction id first' ? [y, x] : [x, y];
        const firstXid = BigInt(await takeTransactionId(first));
        const secondXid = BigInt(await takeTransactionId(second));
        expect(secondXid).toBeGreaterThan(firstXid);
        const xEvent = await writeActivityEvent(x, acme.company.id, 'X, open');
        const yEvent = await writeActivityEvent(y, acme.company.id, 'Y, committed first');
        await y.query('COMMIT');
        await eventually(async () => hub().pendingGap?.from === xEvent, 10_000, "the hub to hold Y's event behind X's");
        expect(board.messages.filter(of('activity.logged'))).toEqual([]);
        await x.query('COMMIT');
        const both = await board.waitForCount(of('activity.logged'), 2, 10_000);
        expect(ids(both)).toEqual([xEvent, yEvent]);
        expect(titles(both)).toEqual(['X, open', 'Y, committed first']);
      });
    });
  }

  it('does not wait out the gap a rolled-back transaction leaves', async () => {
    const acme = await givenCompany(api.admin);
    const board = await boardStream(acme.company.id, acme.boardKey);
    await withClients(async (doomed, other) => {
      await doomed.query('BEGIN');
      const rolledBack = await writeActivityEvent(doomed, acme.company.id, 'rolled back');
      await doomed.query('ROLLBACK');
      await writeActivityEvent(other, acme.company.id, 'after the rollback');
      const message = await board.waitFor(of('activity.logged'), 10_000);
      expect(data(message).action).toBe('after the rollback');
      expect(Number(message.id)).toBeGreaterThan(rolledBack);
    });
  });

  it('reads nothing while no board is connected, and starts the next board from the newest row', async () => {
    const companyId = (await givenCompany(api.admin)).company.id;
    const idleHub = new LiveEventHub({ prisma: api.vigil.prisma, databaseUrl: databaseUrl(), logger: createLogger('error'), pollIntervalMs: 100 });
    await idleHub.start();
    try {
      const startedAt = idleHub.highWater;
      await withClients(async (writer) => {
        await writeActivityEvent(writer, companyId, 'while idle 1');
        const idle2 = await writeActivityEvent(writer, companyId, 'while idle 2');
        // Both notifications reached the hub (and polls came and went); an idle hub did not read.
        await eventually(async () => idleHub.counts.notifications >= 2, 10_000, 'the notifications');
        expect(idleHub.counts.reads).toBe(0);
        expect(idleHub.highWater).toBe(startedAt);

        await idleHub.ready();
        expect(idleHub.highWater).toBeGreaterThanOrEqual(idle2);
        const delivered: string[] = [];
        const unsubscribe = idleHub.subscribe(companyId, { deliver: (event) => delivered.push(String(event.payload.action)), close: () => undefined });
        await writeActivityEvent(writer, companyId, 'after the board came');
        await eventually(async () => delivered.length > 0, 5_000, 'the live event');
        expect(delivered).toEqual(['after the board came']);
        unsubscribe();
      });
    } finally {
      await idleHub.stop();
    }
  });

  it('lets a board start on an idle hub only once a transaction that may still commit below the newest row has ended', async () => {
    const companyId = (await givenCompany(api.admin)).company.id;
    const idleHub = new LiveEventHub({ prisma: api.vigil.prisma, databaseUrl: databaseUrl(), logger: createLogger('error') });
    await idleHub.start();
    try {
      await withClients(async (x, y) => {
        await Promise.all([x.query('BEGIN'), y.query('BEGIN')]);
        await takeTransactionId(y);
        const xXid = await takeTransactionId(x);
        const xEvent = await writeActivityEvent(x, companyId, 'X, open');
        const yEvent = await writeActivityEvent(y, companyId, 'Y, committed');
        await y.query('COMMIT');

        let ready = false;
        const readying = idleHub.ready().then(() => (ready = true));
        await eventually(async () => idleHub.heldBackBy.includes(xXid), 10_000, 'the hub to wait on X');
        expect(ready).toBe(false); // a board starting now at Y's id would never get X's event
        await x.query('COMMIT');
        await readying;
        expect(idleHub.highWater).toBeGreaterThanOrEqual(Math.max(xEvent, yEvent));

        const delivered: number[] = [];
        const unsubscribe = idleHub.subscribe(companyId, { deliver: (event) => delivered.push(event.id), close: () => undefined });
        const after = await writeActivityEvent(x, companyId, 'after the board came');
        await eventually(async () => delivered.length > 0, 10_000, 'the live event');
        expect(delivered).toEqual([after]);
        unsubscribe();
      });
    } finally {
      await idleHub.stop();
    }
  });

  it('prunes rows older than the retention, and tells a board resuming from before them to resync', async () => {
    // A database of its own: ids and created_at grow together only when nothing else writes.
    const scratch = await createScratchDatabase(inject('databaseUrl'), 'vigil_live_prune');
    await applyMigrations(scratch.url);
    const prisma = createPrismaClient(scratch.url, 2);
    try {
      const companyId = randomUUID();
      await prisma.$executeRaw`
        INSERT INTO live_events (company_id, type, payload, created_at)
        SELECT ${companyId}::uuid, 'issue.updated', jsonb_build_object('n', n), now() - interval '2 days'
        FROM generate_series(1, 3) AS n`;
      await prisma.$executeRaw`INSERT INTO live_events (company_id, type, payload) VALUES (${companyId}::uuid, 'issue.updated', '{"n":4}')`;

      expect(await pruneLiveEvents(prisma, new Date(Date.now() - 24 * 60 * 60 * 1000), 2)).toBe(3);
      const left = await prisma.liveEvent.findMany({ where: { companyId } });
      expect(left.map((row) => row.payload)).toEqual([{ n: 4 }]);

      const res = new RecordingResponse();
      const hub = { highWater: Number(left[0].id), ready: async () => {}, subscribe: () => () => {} } as unknown as LiveEventHub;
      const stream = await serveCompanyEvents({ hub, prisma, logger: createLogger('error'), res, companyId, lastEventId: 0 });
      stream.close();
      expect(res.written).toMatch(/^retry: \d+\n\nevent: live\.resync\ndata: \{.*"oldestRetainedId":\d+\}\n\nid: \d+\nevent: issue\.updated\ndata: \{"n":4\}\n\n$/);
    } finally {
      await prisma.$disconnect();
      await scratch.drop();
    }
  });
});

/** Just enough of an http.ServerResponse to record what a stream writes. */
class RecordingResponse extends EventEmitter {
  written = '';
  writableLength = 0;
  writableNeedDrain = false;
  writeHead() {
    return this;
  }
  flushHeaders() {}
  write(chunk: string) {
    this.written += chunk;
    return true;
  }
  end() {
    this.emit('close');
  }
  destroy() {
    this.emit('close');
  }
}
