/**
 * Stopping a whole Vigil (role `all`) drains its worker before the API closes: an agent still
 * working when the stop begins finishes within the grace and can still call the API it was given.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createPrismaClient } from '../../src/store/db.ts';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { eventually, givenAgent, givenCompany, givenIssue } from '../support/fixtures.ts';

let vigil: TestVigil | null = null;
// Its own client: the stop under test closes the Vigil's.
const prisma = createPrismaClient(inject('databaseUrl'), 2);

afterAll(async () => {
  await vigil?.stop();
  await prisma.$disconnect();
});

describe('a stop in role all', () => {
  it('lets a running agent finish and reach the API during the grace: the API closes after the worker', async () => {
    vigil = await startTestVigil({ shutdownGraceMs: 20_000 });
    const acme = await givenCompany(vigil.admin);
    const agent = await givenAgent(acme, { script: 'works-then-comments.sh', env: { WORK_SEC: '3' } });
    const issue = await givenIssue(acme, { title: 'Finish during the drain', status: 'todo', assigneeAgentId: agent.id });
    const run = await eventually(
      () => prisma.heartbeatRun.findFirst({ where: { agentId: agent.id, status: 'running', processGroupId: { not: null } } }),
      30_000,
      'the agent to start',
    );
    // The agent still has seconds of work when the stop begins; stop() returns once all is closed.
    const stopped = vigil.stop();
    await eventually(async () => (await fetch(`${vigil!.apiUrl}/api/ready`).catch(() => null))?.status === 503, 5_000, 'the worker to report draining');
    await stopped;
    // Its comment went through the API while the worker drained: the API was still serving.
    const comments = await prisma.issueComment.findMany({ where: { issueId: issue.id, createdByRunId: run.id } });
    expect(comments.map((comment) => comment.body)).toEqual([`Done in run ${run.id}`]);
  }, 90_000);
});
