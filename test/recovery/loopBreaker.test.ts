/**
 * Issue 14 §1, the loop breaker (V1–V5, `src/domain/loopBreaker.ts`), against a real Vigil: real
 * loops driven through the API by real agent processes (`test/fixtures/agents/loop-agent.sh`) —
 * two agents handing one issue back and forth with their run tokens, and an agent whose liveness
 * continuations never make progress — each stopped after at most N runs per agent with exactly one
 * comment; eight automatic wakes racing for a looping agent trip it once; a board wake still runs
 * while tripped; a board reset and the agent's own progress re-enable automatic wakes; the company
 * API validates N and W.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { eventually, givenAgent, givenCompany, givenIssue, type CompanyFixture } from '../support/fixtures.ts';
import { LIVENESS_EXHAUSTED_PREFIX, LOOP_BREAKER_PREFIX } from '../../src/domain/recoveryTexts.ts';
import { LOOP_DETECTED_REASON } from '../../src/domain/loopBreaker.ts';
import type { WakeRequest } from '../../src/store/wakeups.ts';

let vigil: TestVigil;
let modeDir: string;

beforeAll(async () => {
  vigil = await startTestVigil();
  modeDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-loop-'));
});

afterAll(async () => {
  await vigil?.stop();
  if (modeDir) await rm(modeDir, { recursive: true, force: true });
});

const prisma = () => vigil.vigil.prisma;

/** A company whose loop breaker trips after `maxRuns` runs without progress. */
async function companyWithBreaker(maxRuns: number): Promise<CompanyFixture> {
  const fixture = await givenCompany(vigil.admin);
  const updated = await fixture.board.patch(`/api/companies/${fixture.company.id}`, { loopBreakerMaxRuns: maxRuns, loopBreakerWindowSec: 600 });
  expect(updated.status, JSON.stringify(updated.body)).toBe(200);
  expect(updated.body).toMatchObject({ loopBreakerMaxRuns: maxRuns, loopBreakerWindowSec: 600 });
  return fixture;
}

/** A mode file the loop agents read at every run (`handoff`, `plan`, `comment`). */
async function modeFile(mode: string) {
  const file = path.join(modeDir, `mode-${randomBytes(4).toString('hex')}`);
  await writeFile(file, mode);
  return { file, set: (next: string) => writeFile(file, next) };
}

function loopAgent(fixture: CompanyFixture, group: string, file: string, name: string) {
  return givenAgent(fixture, { script: 'loop-agent.sh', name, env: { LOOP_MODE_FILE: file, LOOP_GROUP: group } });
}

const runsOf = (agentId: string, issueId: string) =>
  prisma().heartbeatRun.findMany({ where: { agentId, contextSnapshot: { path: ['issueId'], equals: issueId } }, orderBy: { createdAt: 'asc' } });

const loopComments = (issueId: string) => prisma().issueComment.findMany({ where: { issueId, body: { startsWith: LOOP_BREAKER_PREFIX } } });

const loopSkips = (agentId: string, issueId: string) =>
  prisma().agentWakeupRequest.count({ where: { agentId, reason: LOOP_DETECTED_REASON, status: 'skipped', payload: { path: ['issueId'], equals: issueId } } });

/** Nothing runs or waits on the issue any more: one snapshot (a promotion turns a parked wake into a run in one commit), seen twice in a row. */
async function settled(issueId: string) {
  let quietChecks = 0;
  await eventually(
    async () => {
      const [row] = await prisma().$queryRaw<Array<{ busy: number }>>`
        SELECT (SELECT count(*) FROM heartbeat_runs WHERE status IN ('queued', 'running', 'scheduled_retry') AND context_snapshot ->> 'issueId' = ${issueId})::int
             + (SELECT count(*) FROM agent_wakeup_requests WHERE status = 'deferred_issue_execution' AND payload ->> 'issueId' = ${issueId})::int AS busy`;
      quietChecks = row.busy === 0 ? quietChecks + 1 : 0;
      if (quietChecks < 2) await new Promise((resolve) => setTimeout(resolve, 250));
      return quietChecks >= 2;
    },
    60_000,
    `issue ${issueId} to settle`,
  );
}

/** An automatic wake of the agent for the issue, as Vigil's own recovery paths send them. */
function automaticWake(issueId: string, reason = 'issue_continuation_needed'): WakeRequest {
  return {
    source: 'automation',
    triggerDetail: 'system',
    reason,
    requestedByActorType: 'system',
    payload: { issueId },
    contextSnapshot: { issueId, taskId: issueId, wakeReason: reason, source: 'test.automatic' },
  };
}

async function metric(event: string): Promise<number> {
  const text = await (await fetch(`${vigil.apiUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`vigil_loop_breaker_total{event="${event}"}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

describe('the loop breaker', () => {
  it('validates N and W on the company API, naming the field, and only for the company\'s own board', async () => {
    const fixture = await givenCompany(vigil.admin);
    const listed = (await vigil.admin.get('/api/companies')).body.find((c: { id: string }) => c.id === fixture.company.id);
    expect(listed).toMatchObject({ loopBreakerMaxRuns: 6, loopBreakerWindowSec: 3600 });

    const tooFew = await fixture.board.patch(`/api/companies/${fixture.company.id}`, { loopBreakerMaxRuns: 0 });
    expect(tooFew.status).toBe(400);
    expect(tooFew.body.details.map((d: { field: string }) => d.field)).toEqual(['loopBreakerMaxRuns']);
    const badWindow = await fixture.board.patch(`/api/companies/${fixture.company.id}`, { loopBreakerWindowSec: 'an hour' });
    expect(badWindow.status).toBe(400);
    expect(badWindow.body.details.map((d: { field: string }) => d.field)).toEqual(['loopBreakerWindowSec']);
    const tooShort = await fixture.board.patch(`/api/companies/${fixture.company.id}`, { loopBreakerWindowSec: 5 });
    expect(tooShort.status).toBe(400);
    expect(tooShort.body.error).toContain('loopBreakerWindowSec');

    const other = await givenCompany(vigil.admin);
    expect((await other.board.patch(`/api/companies/${fixture.company.id}`, { loopBreakerMaxRuns: 2 })).status).toBe(403);
    const changed = await fixture.board.patch(`/api/companies/${fixture.company.id}`, { loopBreakerMaxRuns: 4, loopBreakerWindowSec: 1800 });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ loopBreakerMaxRuns: 4, loopBreakerWindowSec: 1800 });
  });

  it('stops two agents handing an issue back and forth after at most N runs each, with one comment; a board wake still runs; a reset re-enables', async () => {
    const N = 3;
    const acme = await companyWithBreaker(N);
    const group = `loop-${randomBytes(3).toString('hex')}`;
    const mode = await modeFile('handoff');
    const a = await loopAgent(acme, group, mode.file, `${group}-a`);
    const b = await loopAgent(acme, group, mode.file, `${group}-b`);
    const trippedBefore = await metric('tripped');

    // The board assigns A; from then on every wake is a handoff by an agent's run (`issue_assigned`).
    const issue = await givenIssue(acme, { title: 'Who owns the parser bug?', status: 'todo', assigneeAgentId: a.id });
    await eventually(async () => (await loopSkips(a.id, issue.id)) + (await loopSkips(b.id, issue.id)) > 0, 120_000, 'a loop_detected skip');
    await settled(issue.id);

    const runsA = await runsOf(a.id, issue.id);
    const runsB = await runsOf(b.id, issue.id);
    expect(runsA.length).toBeLessThanOrEqual(N);
    expect(runsB.length).toBeLessThanOrEqual(N);
    expect(runsA.length + runsB.length).toBeGreaterThanOrEqual(2 * N - 1);
    const comments = await loopComments(issue.id);
    expect(comments).toHaveLength(1);
    expect(comments[0].authorAgentId).toBeNull();
    const trippedAgent = (await loopSkips(a.id, issue.id)) > 0 ? a : b;
    expect(comments[0].body).toContain(trippedAgent.name);
    expect(comments[0].body).toContain(`/api/issues/${issue.id}/loop-breaker/reset`);
    const tripLog = await prisma().activityLog.findMany({ where: { entityId: issue.id, action: 'issue.loop_breaker_tripped' } });
    expect(tripLog).toHaveLength(1);
    expect(tripLog[0]).toMatchObject({ agentId: trippedAgent.id, runId: null });
    expect(tripLog[0].details).toMatchObject({ runsWithoutProgress: N, maxRuns: N, windowSec: 600, commentId: comments[0].id });
    expect(await metric('tripped')).toBe(trippedBefore + 1);

    // More automatic wakes (a handoff by an agent, a recovery continuation): skipped, no second comment.
    const skipsBefore = await loopSkips(trippedAgent.id, issue.id);
    const handoff = await vigil.vigil.runControl.wake(trippedAgent.id, {
      ...automaticWake(issue.id, 'issue_assigned'),
      source: 'assignment',
      requestedByActorType: 'agent',
      requestedByActorId: trippedAgent.id === a.id ? b.id : a.id,
    });
    expect(handoff).toMatchObject({ kind: 'skipped', reason: LOOP_DETECTED_REASON });
    expect(await vigil.vigil.runControl.wake(trippedAgent.id, automaticWake(issue.id))).toMatchObject({ kind: 'skipped', reason: LOOP_DETECTED_REASON });
    expect(await loopSkips(trippedAgent.id, issue.id)).toBe(skipsBefore + 2);
    expect(await loopComments(issue.id)).toHaveLength(1);

    // V5: the board's explicit wake still runs (its plan-only run's continuation is skipped again).
    await mode.set('plan');
    const boardWake = await acme.board.post(`/api/agents/${trippedAgent.id}/wakeup`, { reason: 'board_retry', payload: { issueId: issue.id } });
    expect(boardWake.status).toBe(202);
    expect(boardWake.body.id).toBeTruthy();
    await eventually(async () => {
      const run = await prisma().heartbeatRun.findUnique({ where: { id: boardWake.body.id } });
      return run?.finishedAt ? run : null;
    }, 60_000, 'the board-woken run to finish');
    await settled(issue.id);
    expect(await loopComments(issue.id)).toHaveLength(1);

    // V4: a board reset; the next automatic wake runs again.
    const reset = await acme.board.post(`/api/issues/${issue.id}/loop-breaker/reset`, {});
    expect(reset.status).toBe(200);
    expect(reset.body.reset).toEqual([expect.objectContaining({ agentId: trippedAgent.id, wasTripped: true })]);
    expect(await prisma().activityLog.count({ where: { entityId: issue.id, action: 'issue.loop_breaker_reset', agentId: trippedAgent.id } })).toBe(1);
    expect(await metric('reset')).toBeGreaterThanOrEqual(1);
    await mode.set('comment');
    const after = await vigil.vigil.runControl.wake(trippedAgent.id, automaticWake(issue.id));
    expect(after.kind).toBe('queued');
    await settled(issue.id);

    // Another company's board sees no such issue.
    const elsewhere = await givenCompany(vigil.admin);
    expect((await elsewhere.board.post(`/api/issues/${issue.id}/loop-breaker/reset`, {})).status).toBe(404);
    await mode.set('handoff');
  });

  it('stops an agent whose continuation wakes never make progress, and its next progress resets the breaker', async () => {
    const N = 2;
    const acme = await companyWithBreaker(N);
    const group = `cont-${randomBytes(3).toString('hex')}`;
    const mode = await modeFile('plan');
    const agent = await loopAgent(acme, group, mode.file, `${group}-a`);

    // Run 1 (the board's assignment) and run 2 (R46's first continuation) only plan; R46's second
    // continuation is the wake the breaker skips.
    const issue = await givenIssue(acme, { title: 'Make the importer faster', status: 'todo', assigneeAgentId: agent.id });
    await eventually(async () => (await loopSkips(agent.id, issue.id)) > 0, 90_000, 'a loop_detected skip');
    await settled(issue.id);
    const runs = await runsOf(agent.id, issue.id);
    expect(runs).toHaveLength(N);
    expect(runs.map((run) => run.livenessState)).toEqual(['plan_only', 'plan_only']);
    const skipped = await prisma().agentWakeupRequest.findFirstOrThrow({ where: { agentId: agent.id, reason: LOOP_DETECTED_REASON } });
    expect(skipped).toMatchObject({ source: 'automation', status: 'skipped' });
    expect(skipped.payload).toMatchObject({ issueId: issue.id, sourceRunId: runs[1].id });
    expect(await loopComments(issue.id)).toHaveLength(1);
    // R46's own exhaustion comment is not written: the breaker stopped the loop first.
    expect(await prisma().issueComment.count({ where: { issueId: issue.id, body: { startsWith: LIVENESS_EXHAUSTED_PREFIX } } })).toBe(0);
    // Each run's summary (R8 step 5, Vigil's echo of its output) is not progress (V3).
    expect(await prisma().issueComment.count({ where: { issueId: issue.id, createdByRunId: { in: runs.map((run) => run.id) } } })).toBe(N);

    // V3/V4: the board wakes it, its run comments (progress): automatic wakes run again, the trip is cleared.
    await mode.set('comment');
    const boardWake = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { payload: { issueId: issue.id } });
    expect(boardWake.status).toBe(202);
    await settled(issue.id);
    expect((await prisma().heartbeatRun.findUniqueOrThrow({ where: { id: boardWake.body.id } })).status).toBe('succeeded');
    const clearedBefore = await metric('cleared');
    const after = await vigil.vigil.runControl.wake(agent.id, automaticWake(issue.id));
    expect(after.kind).toBe('queued');
    expect(await prisma().activityLog.count({ where: { entityId: issue.id, action: 'issue.loop_breaker_cleared' } })).toBe(1);
    expect(await metric('cleared')).toBe(clearedBefore + 1);
    await settled(issue.id);
    expect(await loopComments(issue.id)).toHaveLength(1);
  });

  it("counts a run's status change as progress: it is recorded with the run, and the breaker admits automatic wakes again", async () => {
    const N = 2;
    const acme = await companyWithBreaker(N);
    const group = `status-${randomBytes(3).toString('hex')}`;
    const mode = await modeFile('plan');
    const agent = await loopAgent(acme, group, mode.file, `${group}-a`);
    const issue = await givenIssue(acme, { title: 'Tidy the release notes', status: 'todo', assigneeAgentId: agent.id });
    await eventually(async () => (await loopSkips(agent.id, issue.id)) > 0, 90_000, 'a loop_detected skip');
    await settled(issue.id);

    // The board wakes it; its run only moves the issue back to todo.
    await mode.set('status');
    const boardWake = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { payload: { issueId: issue.id } });
    expect(boardWake.status).toBe(202);
    await settled(issue.id);
    expect((await prisma().heartbeatRun.findUniqueOrThrow({ where: { id: boardWake.body.id } })).status).toBe('succeeded');
    const recorded = await prisma().activityLog.findMany({ where: { entityId: issue.id, action: 'issue.status_changed' } });
    expect(recorded).toHaveLength(1);
    expect(recorded[0]).toMatchObject({ runId: boardWake.body.id, agentId: agent.id, details: { from: 'in_progress', to: 'todo' } });
    // V3: that run made progress, so the next automatic wake is admitted.
    await mode.set('chatter');
    const after = await vigil.vigil.runControl.wake(agent.id, automaticWake(issue.id));
    expect(after.kind).toBe('queued');
    await settled(issue.id);
    expect(await loopComments(issue.id)).toHaveLength(1);
  });

  it('trips once when eight automatic wakes race for an agent whose runs make no progress', async () => {
    const N = 2;
    const acme = await companyWithBreaker(N);
    const group = `race-${randomBytes(3).toString('hex')}`;
    const mode = await modeFile('chatter');
    const agent = await loopAgent(acme, group, mode.file, `${group}-a`);
    // Runs the board asked for (its assignment, then a wake: V5, they run and they count) that only talk.
    const issue = await givenIssue(acme, { title: 'Parse the vendor feed', status: 'todo', assigneeAgentId: agent.id });
    await settled(issue.id);
    for (let i = 1; i < N; i++) {
      const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { payload: { issueId: issue.id } });
      expect(woken.status).toBe(202);
      expect(woken.body.id, JSON.stringify(woken.body)).toBeTruthy();
      await settled(issue.id);
      expect((await prisma().heartbeatRun.findUniqueOrThrow({ where: { id: woken.body.id } })).livenessState).toBe('needs_followup');
    }
    const skippedBefore = await metric('skipped');
    const results = await Promise.all(Array.from({ length: 8 }, () => vigil.vigil.runControl.wake(agent.id, automaticWake(issue.id, 'issue_assignment_recovery'))));
    expect(results.map((result) => result.kind)).toEqual(Array(8).fill('skipped'));
    expect(await loopSkips(agent.id, issue.id)).toBe(8);
    expect(await loopComments(issue.id)).toHaveLength(1);
    expect(await prisma().activityLog.count({ where: { entityId: issue.id, action: 'issue.loop_breaker_tripped' } })).toBe(1);
    expect(await metric('skipped')).toBe(skippedBefore + 8);
    const runs = await runsOf(agent.id, issue.id);
    expect(runs.map((run) => run.status)).toEqual(Array(N).fill('succeeded'));
  });
});
