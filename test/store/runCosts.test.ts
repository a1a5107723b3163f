/**
 * A run's reported usage becomes exactly one cost event and moves the agent's totals once, however
 * often its finalize runs; budgets (R74) count exact micro-dollars, so sub-cent runs add up.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createPrismaClient, type PrismaClient } from '../../src/store/db.ts';
import { microsToCents, recordRunUsage, usdToMicros, type RunUsage } from '../../src/store/runCosts.ts';
import { getInvocationBlock } from '../../src/store/budget.ts';
import { isUniqueViolation } from '../../src/store/prismaErrors.ts';

let prisma: PrismaClient;

beforeAll(() => {
  prisma = createPrismaClient(inject('databaseUrl'), 4);
});

afterAll(async () => {
  await prisma?.$disconnect();
});

async function givenAgent() {
  const company = await prisma.company.create({ data: { name: 'Costs', issuePrefix: `C${randomBytes(4).toString('hex').toUpperCase()}` } });
  const agent = await prisma.agent.create({ data: { companyId: company.id, name: 'coder', adapterType: 'codex_local' } });
  const issue = await prisma.issue.create({ data: { companyId: company.id, title: 'Spend' } });
  const givenRun = () => prisma.heartbeatRun.create({ data: { companyId: company.id, agentId: agent.id, status: 'succeeded' } });
  const record = async (usage: Partial<RunUsage> = {}, run?: { id: string }) => {
    const target = run ?? (await givenRun());
    return recordRunUsage(prisma, {
      run: { id: target.id, companyId: company.id, agentId: agent.id, issueId: issue.id },
      usage: { provider: 'openai', model: 'gpt-5-codex', inputTokens: 1000, cachedInputTokens: 200, outputTokens: 300, costUsd: 0.004, estimated: true, ...usage },
      occurredAt: new Date(),
    });
  };
  const totals = () => prisma.agentRuntimeState.findUnique({ where: { agentId: agent.id } });
  return { company, agent, issue, givenRun, record, totals };
}

describe('money conversions', () => {
  it('keeps micro-dollars exact and rounds cents to the nearest, half up', () => {
    expect(usdToMicros(0.004)).toBe(4_000n);
    expect(usdToMicros(1.234567)).toBe(1_234_567n);
    expect(usdToMicros(-1)).toBe(0n);
    expect(usdToMicros(Number.NaN)).toBe(0n);
    expect(microsToCents(4_000n)).toBe(0);
    expect(microsToCents(5_000n)).toBe(1);
    expect(microsToCents(14_999n)).toBe(1);
    expect(microsToCents(1_234_567n)).toBe(123);
  });
});

describe('recording a run’s usage', () => {
  it('writes one cost event with rounded cents, exact micros, biller and billing type, and adds to the agent’s totals', async () => {
    const { agent, issue, givenRun, record, totals } = await givenAgent();
    const run = await givenRun();
    const result = await record({ costUsd: 0.0123456, inputTokens: 1000, cachedInputTokens: 200, outputTokens: 300 }, run);
    expect(result).toEqual({ recorded: true, costCents: 1, costUsdMicros: 12_346n });
    const events = await prisma.costEvent.findMany({ where: { heartbeatRunId: run.id } });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      agentId: agent.id, issueId: issue.id, provider: 'openai', biller: 'openai', billingType: 'metered_api', model: 'gpt-5-codex',
      inputTokens: 1000, cachedInputTokens: 200, outputTokens: 300, costCents: 1, costUsdMicros: 12_346n, estimated: true, source: 'run',
    });
    expect(await totals()).toMatchObject({
      adapterType: 'codex_local', totalInputTokens: 1000n, totalCachedInputTokens: 200n, totalOutputTokens: 300n, totalCostCents: 1n, totalCostUsdMicros: 12_346n,
    });
  });

  it('is idempotent: a retried finalize writes the event and moves the totals once', async () => {
    const { givenRun, record, totals } = await givenAgent();
    const run = await givenRun();
    expect((await record({}, run)).recorded).toBe(true);
    expect((await record({}, run)).recorded).toBe(false);
    // Two finalizes racing: still one.
    const raced = await Promise.all([record({}, run), record({}, run)]);
    expect(raced.map((r) => r.recorded)).toEqual([false, false]);
    expect(await prisma.costEvent.count({ where: { heartbeatRunId: run.id, source: 'run' } })).toBe(1);
    expect(await totals()).toMatchObject({ totalInputTokens: 1000n, totalCostUsdMicros: 4_000n });
  });

  it('lets only one of two concurrent first writes in', async () => {
    const { givenRun, record } = await givenAgent();
    const run = await givenRun();
    const results = await Promise.all([record({}, run), record({}, run), record({}, run)]);
    expect(results.filter((r) => r.recorded)).toHaveLength(1);
    expect(await prisma.costEvent.count({ where: { heartbeatRunId: run.id } })).toBe(1);
  });

  it('still takes any number of cost events a run posts through the API for its run', async () => {
    const { company, agent, givenRun, record } = await givenAgent();
    const run = await givenRun();
    await record({}, run);
    const posted = { companyId: company.id, agentId: agent.id, heartbeatRunId: run.id, provider: 'tool', model: 'search', costCents: 2, occurredAt: new Date() };
    await prisma.costEvent.create({ data: posted });
    await prisma.costEvent.create({ data: posted });
    expect(await prisma.costEvent.count({ where: { heartbeatRunId: run.id } })).toBe(3);
    // The index itself refuses a second `run` row, whoever writes it.
    const second = prisma.costEvent.create({ data: { ...posted, source: 'run' } });
    await expect(second).rejects.toSatisfy((error: unknown) => isUniqueViolation(error, 'cost_events_run_usage_uq'));
  });

  it('accumulates totals over runs, keeping counts past an integer column in the totals', async () => {
    const { record, totals } = await givenAgent();
    await record({ cachedInputTokens: 3_000_000_000, costUsd: 0.002 });
    await record({ cachedInputTokens: 1, costUsd: 0.002 });
    const state = await totals();
    expect(state?.totalCachedInputTokens).toBe(3_000_000_001n);
    expect(state?.totalCostUsdMicros).toBe(4_000n);
    expect(state?.totalCostCents).toBe(0n);
  });

  it('stores `unknown` when the CLI named no model', async () => {
    const { givenRun, record } = await givenAgent();
    const run = await givenRun();
    await record({ model: null, estimated: false, billingType: 'subscription' }, run);
    expect(await prisma.costEvent.findFirst({ where: { heartbeatRunId: run.id } })).toMatchObject({ model: 'unknown', estimated: false, billingType: 'subscription' });
  });
});

describe('budgets count exact spend (R74)', () => {
  it('blocks once many sub-cent runs add up to the amount, though each rounds to 0 cents', async () => {
    const { company, agent, record } = await givenAgent();
    await prisma.budgetPolicy.create({ data: { companyId: company.id, scopeType: 'agent', scopeId: agent.id, windowKind: 'lifetime', amount: 1 } });
    const block = () => getInvocationBlock(prisma, { companyId: company.id, agentId: agent.id });
    // 0.4 ¢ each: 0 cents per event, 1.2 ¢ in all after three.
    await record({ costUsd: 0.004 });
    await record({ costUsd: 0.004 });
    expect(await block()).toBeNull();
    await record({ costUsd: 0.004 });
    expect(await prisma.costEvent.aggregate({ where: { agentId: agent.id }, _sum: { costCents: true } })).toMatchObject({ _sum: { costCents: 0 } });
    expect(await block()).toMatchObject({ scope: 'agent' });
  });

  it('still counts events posted in cents, and mixes both', async () => {
    const { company, agent, record } = await givenAgent();
    await prisma.budgetPolicy.create({ data: { companyId: company.id, scopeType: 'company', scopeId: company.id, windowKind: 'calendar_month_utc', amount: 3 } });
    const block = () => getInvocationBlock(prisma, { companyId: company.id, agentId: agent.id });
    await prisma.costEvent.create({ data: { companyId: company.id, agentId: agent.id, provider: 'p', model: 'm', costCents: 2, occurredAt: new Date() } });
    expect(await block()).toBeNull();
    await record({ costUsd: 0.009 }); // 0.9 ¢: 2.9 ¢ in all
    expect(await block()).toBeNull();
    await record({ costUsd: 0.001 }); // 3 ¢ exactly
    expect(await block()).toMatchObject({ scope: 'company' });
  });
});
