/**
 * Input PostgreSQL would refuse, or that would exhaust the stack, is a 400 naming the field —
 * never a 500: a NUL character in any text, an integer past its column's range, free-form JSON
 * too deep or too large. A body past the parser's limit is a 413 in the API's error shape.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { givenAgent, givenCompany, givenIssue, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import type { ApiResponse } from '../support/apiClient.ts';
import { FREE_FORM_JSON_MAX_BYTES, FREE_FORM_JSON_MAX_DEPTH, INT4_MAX, MAX_REQUEST_BODY_BYTES } from '../../src/api/requestLimits.ts';
import { TERMINAL_RUN_STATUSES } from '../../src/domain/runStatus.ts';

let vigil: TestVigil;
let acme: CompanyFixture;
let agentId: string;
let sleepyAgentId: string;
let issueId: string;
let runId: string;

const NUL = 'a\u0000b';

beforeAll(async () => {
  vigil = await startTestVigil();
  acme = await givenCompany(vigil.admin);
  const agent = await givenAgent(acme);
  agentId = agent.id;
  issueId = (await givenIssue(acme, { title: 'Bounds' })).id;
  const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
  runId = (await waitForRunStatus(vigil.vigil.prisma, woken.body.id, TERMINAL_RUN_STATUSES)).id;
  // Accepts the wake's input but starts no run (wakeOnDemand off): a 202 `skipped`.
  const sleepy = await acme.board.post(`/api/companies/${acme.company.id}/agents`, {
    name: 'sleepy',
    adapterConfig: { command: '/bin/true' },
    runtimeConfig: { heartbeat: { wakeOnDemand: false } },
  });
  expect(sleepy.status).toBe(201);
  sleepyAgentId = sleepy.body.id;
});

afterAll(async () => {
  await vigil?.stop();
});

function expectInvalid(response: ApiResponse, field: string, message: RegExp) {
  expect(response.status, JSON.stringify(response.body)).toBe(400);
  expect(response.body).toMatchObject({ code: 'invalid_request', details: [expect.objectContaining({ field })] });
  expect(response.body.details[0].message).toMatch(message);
  expect(response.body.error).toContain(field);
}

/** `{"a":{"a":…{}}}`, `depth` levels (`{}` is one). */
function nested(depth: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let level = 1; level < depth; level++) value = { a: value };
  return value;
}

describe('a NUL character in any text', () => {
  it('is a 400 naming the field, for every kind of stored text', async () => {
    const board = acme.board;
    const company = acme.company.id;
    const cases: Array<[string, () => Promise<ApiResponse>]> = [
      ['name', () => vigil.admin.post('/api/companies', { name: NUL, issuePrefix: 'NULCO' })],
      ['name', () => board.post(`/api/companies/${company}/agents`, { name: NUL, adapterConfig: { command: '/bin/true' } })],
      ['adapterConfig.env.X', () => board.post(`/api/companies/${company}/agents`, { name: 'n', adapterConfig: { command: '/bin/true', env: { X: NUL } } })],
      ['name', () => board.post(`/api/companies/${company}/environments`, { name: NUL, driver: 'local' })],
      ['config.nested.a\u0000b', () => board.post(`/api/companies/${company}/environments`, { name: 'env', driver: 'local', config: { nested: { [NUL]: 1 } } })],
      ['title', () => board.post(`/api/companies/${company}/issues`, { title: NUL })],
      ['description', () => board.patch(`/api/issues/${issueId}`, { description: NUL })],
      ['body', () => board.post(`/api/issues/${issueId}/comments`, { body: NUL })],
      ['body', () => board.put(`/api/issues/${issueId}/documents/plan`, { body: NUL })],
      ['reason', () => board.post(`/api/agents/${agentId}/wakeup`, { reason: NUL })],
      ['payload.note.0', () => board.post(`/api/agents/${agentId}/wakeup`, { payload: { note: [NUL] } })],
      ['reason', () => board.post(`/api/issues/${issueId}/tree-holds`, { mode: 'pause', reason: NUL })],
      ['provider', () => board.post(`/api/companies/${company}/cost-events`, { agentId, provider: NUL, model: 'm', costCents: 1 })],
      ['q', () => board.get(`/api/companies/${company}/issues?q=${encodeURIComponent(NUL)}`)],
    ];
    for (const [field, send] of cases) expectInvalid(await send(), field, /NUL/);
  });
});

describe('a lone surrogate in any text', () => {
  it('is a 400 naming the field, not text stored altered (UTF-8 has no half of a surrogate pair)', async () => {
    const { board } = acme;
    const company = acme.company.id;
    const created = await board.request('POST', `/api/companies/${company}/issues`, undefined, { rawBody: '{"title": "before \\ud800 after"}' });
    expectInvalid(created, 'title', /surrogate/);
    const patched = await board.request('PATCH', `/api/issues/${issueId}`, undefined, { rawBody: '{"description": "\\udfff"}' });
    expectInvalid(patched, 'description', /surrogate/);
    const keyed = await board.request('POST', `/api/agents/${agentId}/wakeup`, undefined, { rawBody: '{"payload": {"\\ud83d": 1}}' });
    expectInvalid(keyed, 'payload.\ud83d', /surrogate/);
    // A whole pair is just a character: 😀 written as its two escapes is stored as sent.
    const emoji = await board.request('POST', `/api/companies/${company}/issues`, undefined, { rawBody: '{"title": "pair \\ud83d\\ude00"}' });
    expect(emoji.status, JSON.stringify(emoji.body)).toBe(201);
    expect((await board.get(`/api/issues/${emoji.body.id}`)).body.title).toBe('pair 😀');
    expect(await vigil.vigil.prisma.issue.count({ where: { companyId: company, title: { startsWith: 'before' } } })).toBe(0);
  });
});

describe('integers', () => {
  it('answers afterSeq past an integer column with a 400, and the largest one with the events', async () => {
    expectInvalid(await acme.board.get(`/api/heartbeat-runs/${runId}/events?afterSeq=${INT4_MAX + 1}`), 'afterSeq', /2147483647/);
    expectInvalid(await acme.board.get(`/api/heartbeat-runs/${runId}/events?afterSeq=9007199254740990`), 'afterSeq', /2147483647/);
    const last = await acme.board.get(`/api/heartbeat-runs/${runId}/events?afterSeq=${INT4_MAX}`);
    expect(last.status).toBe(200);
    expect(last.body).toEqual([]);
  });

  it('takes an event id only while it is a safe integer', async () => {
    expectInvalid(await acme.board.get(`/api/companies/${acme.company.id}/events?lastEventId=9007199254740993`), 'lastEventId', /15 digits/);
  });

  it('answers token counts past an integer column with a 400', async () => {
    const response = await acme.board.post(`/api/companies/${acme.company.id}/cost-events`, { agentId, provider: 'p', model: 'm', costCents: 1, inputTokens: INT4_MAX + 1 });
    expectInvalid(response, 'inputTokens', /2147483647/);
  });
});

describe('free-form JSON', () => {
  it('answers a wakeup payload nested 3,000 levels deep with a 400, not a stack overflow', async () => {
    expectInvalid(await acme.board.post(`/api/agents/${sleepyAgentId}/wakeup`, { payload: nested(3000) }), 'payload', /32 levels/);
  });

  it(`takes ${FREE_FORM_JSON_MAX_DEPTH} levels and ${FREE_FORM_JSON_MAX_BYTES / 1024} KiB, and refuses one more of either`, async () => {
    const wake = (payload: unknown) => acme.board.post(`/api/agents/${sleepyAgentId}/wakeup`, { payload });
    expect((await wake(nested(FREE_FORM_JSON_MAX_DEPTH))).body).toMatchObject({ status: 'skipped' });
    expectInvalid(await wake(nested(FREE_FORM_JSON_MAX_DEPTH + 1)), 'payload', /32 levels/);
    const padding = (bytes: number) => 'x'.repeat(bytes - JSON.stringify({ pad: '' }).length);
    expect((await wake({ pad: padding(FREE_FORM_JSON_MAX_BYTES) })).body).toMatchObject({ status: 'skipped' });
    expectInvalid(await wake({ pad: padding(FREE_FORM_JSON_MAX_BYTES + 1) }), 'payload', /64 KiB/);
  });

  it('bounds adapter and environment configs the same way', async () => {
    const company = acme.company.id;
    expectInvalid(await acme.board.post(`/api/companies/${company}/agents`, { name: 'deep', adapterType: 'http', adapterConfig: nested(40) }), 'adapterConfig', /32 levels/);
    expectInvalid(await acme.board.patch(`/api/agents/${agentId}`, { adapterConfig: { command: '/bin/true', args: ['x'.repeat(FREE_FORM_JSON_MAX_BYTES)] } }), 'adapterConfig', /64 KiB/);
    expectInvalid(await acme.board.post(`/api/companies/${company}/environments`, { name: 'deep', driver: 'local', config: nested(40) }), 'config', /32 levels/);
  });
});

describe('the agent body by adapter type', () => {
  it('requires the process config for local-child adapters, takes the CLI config for claude_local/codex_local and any object for others', async () => {
    const company = acme.company.id;
    expectInvalid(await acme.board.post(`/api/companies/${company}/agents`, { name: 'no config', adapterType: 'gemini_local' }), 'adapterConfig', /required/);
    // The coding-agent CLIs need no config at all: `command` defaults to the CLI on PATH.
    const claude = await acme.board.post(`/api/companies/${company}/agents`, { name: 'claude', adapterType: 'claude_local' });
    expect(claude.status, JSON.stringify(claude.body)).toBe(201);
    expect(claude.body.adapterConfig).toEqual({});
    expectInvalid(await acme.board.post(`/api/companies/${company}/agents`, { name: 'codex', adapterType: 'codex_local', adapterConfig: { maxTurns: 3 } }), 'adapterConfig.maxTurns', /not a known field/);
    expectInvalid(await acme.board.post(`/api/companies/${company}/agents`, { name: 'codex', adapterType: 'codex_local', adapterConfig: { extraArgs: 'x' } }), 'adapterConfig.extraArgs', /array/);
    expectInvalid(await acme.board.post(`/api/companies/${company}/agents`, { name: 'claude', adapterType: 'claude_local', adapterConfig: { promptTemplate: 'Do {{issue.owner}}' } }), 'adapterConfig.promptTemplate', /unknown placeholder \{\{issue.owner\}\}/);
    expectInvalid(await acme.board.patch(`/api/agents/${claude.body.id}`, { adapterConfig: { maxTurns: 0 } }), 'adapterConfig.maxTurns', /./);
    expectInvalid(await acme.board.post(`/api/companies/${company}/agents`, { name: 'no command' }), 'adapterConfig', /required/);
    expectInvalid(await acme.board.post(`/api/companies/${company}/agents`, { name: 'empty', adapterConfig: {} }), 'adapterConfig.command', /required/);
    const remote = await acme.board.post(`/api/companies/${company}/agents`, { name: 'remote', adapterType: 'http' });
    expect(remote.status, JSON.stringify(remote.body)).toBe(201);
    expect((await acme.board.post(`/api/companies/${company}/agents`, { name: 'bogus', adapterType: 'bogus', adapterConfig: { command: 'x' } })).status).toBe(400);
  });
});

describe('a body past the limit', () => {
  it('is a 413 in the API error shape, not an HTML page', async () => {
    const response = await acme.board.request('POST', `/api/issues/${issueId}/comments`, undefined, { rawBody: JSON.stringify({ body: 'x'.repeat(MAX_REQUEST_BODY_BYTES) }) });
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.body).toEqual({ error: 'Request body is larger than 1 MiB', code: 'payload_too_large' });
  });
});
