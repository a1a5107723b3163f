/**
 * Every route, every kind of malformed input: the answer is a 4xx with an error message and a
 * code — never a 5xx, never a stack trace, never a success. The few inputs of the sweep that are
 * valid for some route (an empty body where every field is optional, an offset past a log's end)
 * are listed in VALID and must succeed instead.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { givenAgent, givenCompany, givenIssue, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';

let vigil: TestVigil;
let acme: CompanyFixture;
let ids: Record<string, string>;

beforeAll(async () => {
  vigil = await startTestVigil();
  acme = await givenCompany(vigil.admin);
  const agent = await givenAgent(acme);
  const issue = await givenIssue(acme, { title: 'target' });
  const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
  await waitForRunStatus(vigil.vigil.prisma, woken.body.id, ['succeeded', 'failed']);
  const hold = await acme.board.post(`/api/issues/${issue.id}/tree-holds`, { mode: 'pause' });
  ids = { company: acme.company.id, agent: agent.id, issue: issue.id, run: woken.body.id, hold: hold.body.id };
});

afterAll(async () => {
  await vigil?.stop();
});

const ROUTES: Array<[string, string]> = [
  ['POST', '/api/companies'],
  ['POST', '/api/companies/:company/board-keys'],
  ['POST', '/api/companies/:company/agents'],
  ['GET', '/api/companies/:company/agents'],
  ['GET', '/api/agents/:agent'],
  ['PATCH', '/api/agents/:agent'],
  ['POST', '/api/agents/:agent/wakeup'],
  ['GET', '/api/agents/:agent/runtime-state'],
  ['GET', '/api/agents/:agent/task-sessions'],
  ['POST', '/api/agents/:agent/runtime-state/reset-session'],
  ['POST', '/api/companies/:company/issues'],
  ['GET', '/api/companies/:company/issues'],
  ['GET', '/api/issues/:issue'],
  ['PATCH', '/api/issues/:issue'],
  ['GET', '/api/issues/:issue/comments'],
  ['POST', '/api/issues/:issue/comments'],
  ['GET', '/api/issues/:issue/documents/plan'],
  ['PUT', '/api/issues/:issue/documents/plan'],
  ['GET', '/api/issues/:issue/runs'],
  ['GET', '/api/issues/:issue/active-run'],
  ['POST', '/api/issues/:issue/tree-holds'],
  ['POST', '/api/issues/:issue/tree-holds/:hold/release'],
  ['GET', '/api/companies/:company/heartbeat-runs'],
  ['GET', '/api/heartbeat-runs/:run'],
  ['GET', '/api/heartbeat-runs/:run/events'],
  ['GET', '/api/heartbeat-runs/:run/log'],
  ['GET', '/api/heartbeat-runs/:run/leases'],
  ['POST', '/api/heartbeat-runs/:run/cancel'],
  ['POST', '/api/companies/:company/environments'],
  ['POST', '/api/companies/:company/budget-policies'],
  ['POST', '/api/companies/:company/cost-events'],
  ['GET', '/api/companies/:company/cost-events'],
];

const BAD_BODIES: unknown[] = [
  null, [], 'text', 42, true, {},
  { title: null, name: {}, body: [], status: 'x', mode: 1, amount: 1e300, costCents: -1, agentId: 'nope' },
  { title: 'x'.repeat(600), name: '', issuePrefix: 'lower', assigneeAgentId: '00000000-0000-0000-0000-000000000000' },
  { payload: { issueId: 42 }, source: 'x', idempotencyKey: '' },
  { blockedByIssueIds: ['not-a-uuid'], parentId: 7 },
  { adapterConfig: { command: 5, env: { 'BAD NAME': 1 } }, runtimeConfig: { heartbeat: { maxConcurrentRuns: 99 } } },
  { __proto__: { polluted: true }, constructor: { prototype: {} } },
  { occurredAt: '2026-13-45T99:99:99Z', scopeType: 'agent', scopeId: 'x', windowKind: 'forever' },
];
const RAW_BODIES = ['{', '{"a":', '\u0000', '[1,2', '{"title": "\\ud800"}'];
const BAD_IDS = ['x', '1', '%00', '..%2F..%2Fetc', 'PAP-', '00000000-0000-0000-0000-00000000000Z', 'a'.repeat(300)];
const BAD_QUERIES = ['limit=-1', 'limit=abc', 'offset=1e9', 'status=,,,', 'afterSeq=-5', 'limitBytes=0', 'order=sideways', 'unknown=1', 'limit=1&limit=2', 'q=%ff'];

/** Inputs of the sweep that a route accepts, by `${method} ${template} ${input}`: each must answer 2xx. */
const VALID = new Set([
  'POST /api/agents/:agent/wakeup {}', // a wake with no reason or payload
  'PATCH /api/agents/:agent {}', // a patch that changes nothing
  'POST /api/agents/:agent/runtime-state/reset-session {}', // clears all of the agent's sessions (none)
  'POST /api/heartbeat-runs/:run/cancel {}', // the run already ended: cancel answers with it
  'POST /api/issues/:issue/tree-holds/:hold/release {}',
  'GET /api/heartbeat-runs/:run/log offset=1e9', // past the end: an empty slice
  'GET /api/companies/:company/issues q=%ff', // not UTF-8 once decoded, so searched for as the three characters
]);

function fill(template: string, overrides: Record<string, string> = {}): string {
  return template.replace(/:(\w+)/g, (_, key: string) => overrides[key] ?? ids[key]);
}

async function expectClientError(method: string, template: string, url: string, init: { body?: unknown; raw?: string; query?: string } = {}) {
  const response = await acme.board.request(method, url, init.body, init.raw !== undefined ? { rawBody: init.raw } : {});
  const input = init.query ?? (init.raw !== undefined ? init.raw : JSON.stringify(init.body ?? ''));
  const where = `${method} ${url} ${input}`.slice(0, 300);
  if (VALID.has(`${method} ${template} ${input}`)) {
    expect(response.status, `${where} → ${JSON.stringify(response.body)}`).toBeLessThan(300);
    expect(response.status, where).toBeGreaterThanOrEqual(200);
    return;
  }
  expect(response.status, `${where} → ${JSON.stringify(response.body)}`).toBeGreaterThanOrEqual(400);
  expect(response.status, `${where} → ${JSON.stringify(response.body)}`).toBeLessThan(500);
  expect(typeof response.body?.error, where).toBe('string');
  expect(typeof response.body?.code, where).toBe('string');
  expect(JSON.stringify(response.body), where).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
}

describe('bad input, everywhere', () => {
  it('never answers a malformed body with a 5xx', async () => {
    for (const [method, template] of ROUTES.filter(([m]) => m !== 'GET')) {
      for (const body of BAD_BODIES) await expectClientError(method, template, fill(template), { body });
      for (const raw of RAW_BODIES) await expectClientError(method, template, fill(template), { raw });
    }
  });

  it('never answers a malformed id or query with a 5xx', async () => {
    for (const [method, template] of ROUTES) {
      for (const key of ['company', 'agent', 'issue', 'run', 'hold']) {
        if (!template.includes(`:${key}`)) continue;
        for (const bad of BAD_IDS) await expectClientError(method, `${template} (bad :${key})`, fill(template, { [key]: bad }), method === 'GET' ? {} : { body: {} });
      }
      if (method === 'GET') for (const query of BAD_QUERIES) await expectClientError(method, template, `${fill(template)}?${query}`, { query });
    }
  });
});
