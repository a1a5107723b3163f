/** V8: a decision recorded under a dedupe key (an after-commit step a retried activity repeats) is recorded once. */
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPrismaClient, type PrismaClient } from '../../src/store/db.ts';
import { newDecisionId, recordDecisionOnce } from '../../src/store/recoveryDecisions.ts';
import type { RecoveryDecisionDraft } from '../../src/domain/recoveryDecision.ts';

let prisma: PrismaClient;

beforeAll(() => {
  prisma = createPrismaClient(inject('databaseUrl'), 4);
});

afterAll(async () => {
  await prisma?.$disconnect();
});

describe('recordDecisionOnce', () => {
  it('keeps the first decision under a key and answers every attempt with it', async () => {
    const company = await prisma.company.create({ data: { name: 'Decisions', issuePrefix: `D${randomBytes(4).toString('hex').toUpperCase()}` } });
    const runId = randomUUID();
    const draft = (decision: RecoveryDecisionDraft['decision']): RecoveryDecisionDraft => ({
      id: newDecisionId(), companyId: company.id, issueId: randomUUID(), runId, agentId: null, source: 'run_ending',
      decision, rule: 'R46', reason: 'no_progress', evidence: { attempt: 1, maxAttempts: 2 }, createdRunId: null, createdIssueId: null,
    });
    const first = draft('continuation');
    const answers = await Promise.all([recordDecisionOnce(prisma, first, `R46:${runId}`), recordDecisionOnce(prisma, draft('none'), `R46:${runId}`)]);
    const rows = await prisma.recoveryDecision.findMany({ where: { runId } });
    expect(rows).toHaveLength(1);
    expect(answers.map((a) => a.id)).toEqual([rows[0].id, rows[0].id]);
    expect(answers[0].line).toBe(answers[1].line);
    expect(answers[0].line).toContain(`[decision ${rows[0].id}]`);
    // A later attempt, sequentially, gets the same answer.
    expect((await recordDecisionOnce(prisma, draft('none'), `R46:${runId}`)).id).toBe(rows[0].id);
  });
});
