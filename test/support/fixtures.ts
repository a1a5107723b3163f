/**
 * Fixtures that read like the scenario: `await givenCompany(vigil)`, `await givenAgent(board, …)`.
 * Everything is created through Vigil's own API; waits poll the database.
 */
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import type { ApiClient } from './apiClient.ts';
import type { PrismaClient } from '../../src/store/db.ts';

export function agentScript(name: string): string {
  return fileURLToPath(new URL(`../fixtures/agents/${name}`, import.meta.url));
}

export interface CompanyFixture {
  company: { id: string; issuePrefix: string; name: string };
  board: ApiClient;
  boardKey: string;
}

/** A company with a board key, created by the instance admin. */
export async function givenCompany(admin: ApiClient): Promise<CompanyFixture> {
  const prefix = `T${randomBytes(4).toString('hex').toUpperCase()}`;
  const created = await admin.post('/api/companies', { name: `Company ${prefix}`, issuePrefix: prefix });
  expect(created.status).toBe(201);
  const key = await admin.post(`/api/companies/${created.body.id}/board-keys`, { name: 'tests' });
  expect(key.status).toBe(201);
  return { company: created.body, board: admin.as(key.body.key), boardKey: key.body.key };
}

export async function givenAgent(
  fixture: CompanyFixture,
  options: {
    script?: string;
    args?: string[];
    env?: Record<string, string>;
    timeoutSec?: number;
    graceSec?: number;
    role?: string;
    name?: string;
    maxConcurrentRuns?: number;
    status?: string;
  } = {},
) {
  const response = await fixture.board.post(`/api/companies/${fixture.company.id}/agents`, {
    name: options.name ?? `agent-${randomBytes(3).toString('hex')}`,
    role: options.role ?? 'engineer',
    adapterType: 'process',
    adapterConfig: {
      command: agentScript(options.script ?? 'succeed.sh'),
      ...(options.args ? { args: options.args } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.timeoutSec !== undefined ? { timeoutSec: options.timeoutSec } : {}),
      ...(options.graceSec !== undefined ? { graceSec: options.graceSec } : {}),
    },
    ...(options.maxConcurrentRuns ? { runtimeConfig: { heartbeat: { maxConcurrentRuns: options.maxConcurrentRuns } } } : {}),
    ...(options.status ? { status: options.status } : {}),
  });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body as { id: string; name: string; companyId: string; role: string; status: string };
}

export async function givenIssue(fixture: CompanyFixture, body: Record<string, unknown>) {
  const response = await fixture.board.post(`/api/companies/${fixture.company.id}/issues`, { title: 'Fix the flaky test', ...body });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body as { id: string; identifier: string; status: string; executionRunId: string | null };
}

/** Polls until `check` returns a value (not undefined/null/false) or the time runs out. */
export async function eventually<T>(check: () => Promise<T | null | undefined | false>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null && value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export function waitForRunStatus(prisma: PrismaClient, runId: string, statuses: readonly string[], timeoutMs = 30_000) {
  return eventually(async () => {
    const run = await prisma.heartbeatRun.findUnique({ where: { id: runId } });
    return run && statuses.includes(run.status) ? run : null;
  }, timeoutMs, `run ${runId} to be ${statuses.join('/')}`);
}

/** The run created for an issue (by `contextSnapshot.issueId`), newest first. */
export function waitForIssueRun(prisma: PrismaClient, issueId: string, timeoutMs = 10_000) {
  return eventually(
    () => prisma.heartbeatRun.findFirst({ where: { contextSnapshot: { path: ['issueId'], equals: issueId } }, orderBy: { createdAt: 'desc' } }),
    timeoutMs,
    `a run for issue ${issueId}`,
  );
}

/** Live (not zombie) process checks: PID 1 here reaps orphans only every second or two. */
export { isPidAlive, isProcessGroupAlive as isGroupAlive } from '../../src/adapters/processGroup.ts';
