/**
 * Schema-driven fuzzing: schemathesis (pinned, test/fuzz/requirements.txt) against a running
 * Vigil's own `GET /api/openapi.json`, examples, coverage, fuzzing and stateful phases, with the
 * checks not_a_server_error, response_schema_conformance, status_code_conformance and
 * content_type_conformance, once as a board key and once as the admin. Fixed seed, bounded
 * examples; zero failures, or the test prints schemathesis's report.
 *
 * Nothing the fuzzer writes can run a command. Its agents get random `command`s, and an issue
 * assigned to one would wake it, so:
 * - the fuzzed company is over a hard-stop budget before fuzzing starts, so R74 refuses every wake
 *   of its agents (409), whoever asks, and no run is created;
 * - the Vigil's worker is shut down once the seeded run has finished: its task queue is its own,
 *   so a run that got past the budget anyway would wait, queued, and never execute;
 * - the admin, who could create a company without a budget and an agent in it, does not fuzz
 *   agent creation (the board run does); with no worker such an agent's run would queue forever
 *   and every cancel of it take the 15 s no-worker fallback.
 * The test then proves it: no run but the seeded one ever started a process.
 *
 * The fuzzed Vigil has a database of its own, so the admin's instance-wide calls (list companies,
 * reap orphaned runs) never touch the rows other test files are working with.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { eventually, givenAgent, givenCompany, givenIssue, waitForIssueRun, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import { createScratchDatabase } from '../support/scratchDatabase.ts';
import { ensureSchemathesis, runToEnd } from '../support/schemathesis.ts';
import { applyMigrations } from '../../src/store/migrate.ts';
import { loadConfig } from '../../src/config.ts';
import { TERMINAL_RUN_STATUSES } from '../../src/domain/runStatus.ts';

const SEED = 20260901;
const MAX_EXAMPLES = 25;
const CHECKS = ['not_a_server_error', 'response_schema_conformance', 'status_code_conformance', 'content_type_conformance'];
const PHASES = ['examples', 'coverage', 'fuzzing', 'stateful'];
const FUZZ_TIMEOUT_MS = 8 * 60_000;

let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
let vigil: TestVigil;
let acme: CompanyFixture;
let python: string;
let workDir: string;
const seeded: Record<string, string> = {};
const seededRunIds: string[] = [];
/** Kills a schemathesis still running when the file ends (a failed hook, a timeout). */
const running = new AbortController();

beforeAll(async () => {
  [python, scratch] = await Promise.all([
    ensureSchemathesis(loadConfig().cacheDir, (line) => process.stdout.write(`[fuzz setup] ${line}\n`)),
    createScratchDatabase(inject('databaseUrl'), 'vigil_fuzz'),
  ]);
  await applyMigrations(scratch.url);
  vigil = await startTestVigil({ databaseUrl: scratch.url });
  workDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-fuzz-'));

  // Something for every kind of id to point at, made while the worker still runs.
  acme = await givenCompany(vigil.admin);
  const agent = await givenAgent(acme, { script: 'succeed.sh' });
  const issue = await givenIssue(acme, { title: 'Seeded for fuzzing', status: 'todo', assigneeAgentId: agent.id });
  const run = await waitForRunStatus(vigil.vigil.prisma, (await waitForIssueRun(vigil.vigil.prisma, issue.id)).id, TERMINAL_RUN_STATUSES);
  seededRunIds.push(run.id);
  const child = await givenIssue(acme, { title: 'Held child', parentId: issue.id });
  const hold = await acme.board.post(`/api/issues/${child.id}/tree-holds`, { mode: 'pause', reason: 'seeded' });
  expect(hold.status).toBe(201);
  expect((await acme.board.post(`/api/issues/${issue.id}/comments`, { body: 'seeded comment' })).status).toBe(201);
  expect((await acme.board.put(`/api/issues/${issue.id}/documents/plan`, { body: 'seeded plan' })).status).toBe(200);
  Object.assign(seeded, { companyId: acme.company.id, agentId: agent.id, issueId: issue.id, childIssueId: child.id, runId: run.id, holdId: hold.body.id, identifier: issue.identifier });

  // The budget stop: every wake of this company's agents is refused from now on.
  const policy = await acme.board.post(`/api/companies/${acme.company.id}/budget-policies`, { scopeType: 'company', scopeId: acme.company.id, windowKind: 'lifetime', amount: 1, hardStopEnabled: true });
  expect(policy.status).toBe(201);
  expect((await acme.board.post(`/api/companies/${acme.company.id}/cost-events`, { agentId: agent.id, provider: 'seed', model: 'seed', costCents: 1 })).status).toBe(201);
  expect((await acme.board.post(`/api/agents/${agent.id}/wakeup`, {})).status).toBe(409);

  // As retention would have it: the oldest event is gone, so a board resuming from before it is
  // told to resync (`live.resync`), and the stream's schema is checked for that event too.
  await vigil.vigil.prisma.$executeRaw`DELETE FROM live_events WHERE id = (SELECT min(id) FROM live_events)`;

  // No worker: nothing on this Vigil's task queue executes any more.
  vigil.vigil.worker!.shutdown();
  await eventually(async () => vigil.vigil.worker!.getState() === 'STOPPED', 30_000, 'the worker to stop');
}, 240_000);

afterAll(async () => {
  running.abort();
  await vigil?.stop();
  await scratch?.drop();
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

function toml(value: unknown): string {
  return JSON.stringify(value);
}

/** schemathesis.toml for one caller: real ids mixed into generated ones, the event stream kept short. */
function configFor(caller: 'board' | 'admin'): string {
  const dictionaries: Record<string, string[]> = {
    agents: [seeded.agentId],
    issues: [seeded.issueId, seeded.childIssueId, seeded.identifier],
    runs: [seeded.runId],
    holds: [seeded.holdId],
    documents: ['plan'],
  };
  const bindings: Record<string, string> = { agentId: 'agents', issueId: 'issues', runId: 'runs', holdId: 'holds', key: 'documents' };
  return [
    '[generation]',
    'database = "none"',
    '[parameters]',
    // A board key acts on its own company only: another id is a 403 that tests nothing more.
    ...(caller === 'board' ? [`"path.companyId" = ${toml(seeded.companyId)}`] : []),
    ...Object.entries(bindings).map(([name, dictionary]) => `"path.${name}" = { dictionary = ${toml(dictionary)}, probability = 0.5 }`),
    ...Object.entries(dictionaries).flatMap(([name, values]) => [`[dictionaries.${name}]`, `values = ${toml(values)}`]),
    // An event stream never ends: schemathesis reads it for a second (or 10 events) and checks
    // every event that came; a few examples are enough for its two parameters.
    '[[operations]]',
    'include-operation-id = "streamCompanyEvents"',
    'request-timeout = 1',
    'max-stream-events = 10',
    '[operations.generation]',
    'max-examples = 5',
    // This Vigil's worker is stopped (above), so readiness answers its documented 503, which the
    // not_a_server_error check counts as a failure; test/api/openapi.test.ts checks its shapes.
    '[[operations]]',
    'include-operation-id = "getReady"',
    'enabled = false',
    ...(caller === 'admin' ? ['[[operations]]', 'include-operation-id = "createAgent"', 'enabled = false'] : []),
  ].join('\n');
}

async function fuzzAs(caller: 'board' | 'admin', token: string) {
  const configFile = path.join(workDir, `schemathesis-${caller}.toml`);
  await writeFile(configFile, `${configFor(caller)}\n`);
  const outcome = await runToEnd(
    python,
    [
      '-m', 'schemathesis.cli', '--config-file', configFile, '--no-color', 'run', `${vigil.apiUrl}/api/openapi.json`,
      '--checks', CHECKS.join(','),
      '--phases', PHASES.join(','),
      '--seed', String(SEED),
      '--max-examples', String(MAX_EXAMPLES),
      '--workers', '1',
      '--request-timeout', '20',
      '--header', `Authorization: Bearer ${token}`,
    ],
    // Its own working directory: schemathesis may write caches there, never into the checkout.
    { cwd: workDir, timeoutMs: FUZZ_TIMEOUT_MS, env: { ...process.env, NO_COLOR: '1' }, signal: running.signal },
  );
  // The counts and the closing line, for the test log; the whole report when something failed.
  const summary = outcome.output.split('\n').filter((line) => /^\d+ generated|^=+ .* in [\d.]+s =+$/.test(line.trim()));
  process.stdout.write(`[fuzz ${caller}] ${summary.map((line) => line.trim()).join(' · ')}\n`);
  expect(outcome.code, `schemathesis as ${caller} (exit ${outcome.code ?? outcome.signal}):\n${outcome.output}`).toBe(0);
}

describe('schemathesis against the OpenAPI document', () => {
  it('finds no failure as a board key', async () => {
    await fuzzAs('board', acme.boardKey);
  }, FUZZ_TIMEOUT_MS + 30_000);

  it('finds no failure as the admin', async () => {
    await fuzzAs('admin', vigil.adminToken);
  }, FUZZ_TIMEOUT_MS + 30_000);

  it('never ran an agent the fuzzer made: the budget stop refused every wake', async () => {
    const runs = await vigil.vigil.prisma.heartbeatRun.findMany({ where: { id: { notIn: seededRunIds } }, select: { id: true, status: true, processPid: true } });
    expect(runs).toEqual([]);
  });
});
