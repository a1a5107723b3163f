/**
 * What an operator sees of a run in Temporal UI and the temporal CLI: search attributes that find
 * it by company, agent, issue identifier, status, error code, retry kind and the run it retries
 * (the README's own queries, read from it, through the real CLI), the memo and summary, and activities
 * that read as the domain.
 */
import { afterAll, beforeAll, describe, expect, it, inject } from 'vitest';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { eventually, givenAgent, givenCompany, givenIssue, waitForIssueRun, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import type { HeartbeatRun } from '../../src/store/db.ts';
import { enqueueWakeup } from '../../src/store/wakeups.ts';
import { VigilIssueIdentifier, VigilRunStatus } from '../../src/temporal/searchAttributeKeys.ts';

const run = promisify(execFile);
import { TERMINAL_RUN_STATUSES as TERMINAL } from '../../src/domain/runStatus.ts';

let vigil: TestVigil;
let acme: CompanyFixture;

beforeAll(async () => {
  vigil = await startTestVigil();
  acme = await givenCompany(vigil.admin);
});

afterAll(async () => {
  await vigil?.stop();
});

/** `temporal workflow list --query <query>` as an operator types it; the workflow ids it prints. */
async function cliList(query: string): Promise<string[]> {
  const { stdout } = await run(inject('temporalCliPath'), [
    'workflow', 'list', '--query', query, '--output', 'json',
    '--address', inject('temporalAddress'), '--namespace', inject('temporalNamespace'),
  ]);
  const rows = stdout.trim() ? (JSON.parse(stdout) as Array<{ execution: { workflowId: string } }>) : [];
  return rows.map((row) => row.execution.workflowId).sort();
}

/** Visibility is eventually consistent: poll the CLI until it lists exactly `expected`. */
async function cliListEventually(query: string, expected: string[]) {
  const sorted = [...expected].sort();
  return eventually(async () => {
    const found = await cliList(query);
    return JSON.stringify(found) === JSON.stringify(sorted) ? found : null;
  }, 15_000, `temporal workflow list --query "${query}" to list ${sorted.join(', ')}`);
}

function startOfTodayUtc(): string {
  return `${new Date().toISOString().slice(0, 10)}T00:00:00Z`;
}

/** The README's `$T workflow list --query "…"` lines: what an operator is told to type. */
const README_QUERIES = [...readFileSync(new URL('../../README.md', import.meta.url), 'utf8').matchAll(/^\$T workflow list --query "(.+)"$/gm)].map((match) => match[1]);
const ranReadmeQueries = new Set<string>();

/**
 * The README's query that starts with `start`, its placeholders filled in (`PAP-12`, `<runId>`,
 * `<agentId>`, the shell's date), scoped to this test's company when `companyId` is given: the
 * Temporal server is shared with other test files.
 */
function readmeQuery(start: string, values: { identifier?: string; runId?: string; agentId?: string; companyId?: string }): string {
  const template = README_QUERIES.find((query) => query.startsWith(start));
  if (!template) throw new Error(`the README has no query starting with ${start}`);
  ranReadmeQueries.add(template);
  const filled = template
    .replace("'PAP-12'", `'${values.identifier ?? 'PAP-12'}'`)
    .replace('<runId>', values.runId ?? '<runId>')
    .replace('<agentId>', values.agentId ?? '<agentId>')
    .replace('$(date -u +%Y-%m-%dT00:00:00Z)', startOfTodayUtc());
  expect(filled, 'every placeholder filled').not.toMatch(/<\w+>|\$\(/);
  return values.companyId ? `VigilCompanyId='${values.companyId}' AND ${filled}` : filled;
}

describe('runs in Temporal UI and the temporal CLI', () => {
  let succeeded: HeartbeatRun;
  let issue: { id: string; identifier: string };
  let agentId: string;

  beforeAll(async () => {
    const agent = await givenAgent(acme, { script: 'succeed.sh' });
    agentId = agent.id;
    issue = await givenIssue(acme, { status: 'todo', assigneeAgentId: agent.id });
    const queued = await waitForIssueRun(vigil.vigil.prisma, issue.id);
    succeeded = await waitForRunStatus(vigil.vigil.prisma, queued.id, TERMINAL);
    expect(succeeded.status).toBe('succeeded');
  });

  it('finds all runs of an issue by its identifier, and a company’s or agent’s runs by id', async () => {
    const workflowId = `run-${succeeded.id}`;
    await cliListEventually(readmeQuery('VigilIssueIdentifier=', { identifier: issue.identifier }), [workflowId]);
    await cliListEventually(`VigilCompanyId='${acme.company.id}' AND VigilAgentId='${agentId}' AND VigilRunStatus='succeeded'`, [workflowId]);
  });

  it('carries a memo and a one-line summary that name the run, its issue and why it woke', async () => {
    const description = await vigil.vigil.temporal.workflow.getHandle(`run-${succeeded.id}`).describe();
    expect(description.memo).toMatchObject({ runId: succeeded.id, agentId, issueIdentifier: issue.identifier, wakeReason: 'issue_assigned', retryOfRunId: null });
    expect(await description.staticSummary()).toBe(`${issue.identifier} · issue_assigned`);
  });

  it('shows activities that read as the domain: claim, execute agent process, finalize', async () => {
    const history = await vigil.vigil.temporal.workflow.getHandle(`run-${succeeded.id}`).fetchHistory();
    const converter = vigil.vigil.temporal.options.loadedDataConverter.payloadConverter;
    const summaries = (history.events ?? [])
      .map((event) => event.userMetadata?.summary)
      .filter((summary) => summary != null)
      .map((summary) => converter.fromPayload(summary!));
    // The first is the workflow's own summary (on its start event), then one per step.
    expect(summaries).toEqual([`${issue.identifier} · issue_assigned`, 'claim run', 'execute agent process', 'finalize run']);
    const scheduled = history.events?.find((event) => event.activityTaskScheduledEventAttributes);
    expect(scheduled?.activityTaskScheduledEventAttributes?.activityType?.name).toBe('executeAdapter');
  });

  it('finds today’s process-lost runs and the retry that follows one', async () => {
    const agent = await givenAgent(acme, { script: 'sleep.sh' });
    const lost = await givenIssue(acme, { status: 'todo', assigneeAgentId: agent.id });
    const first = await waitForIssueRun(vigil.vigil.prisma, lost.id);
    const running = await eventually(
      () => vigil.vigil.prisma.heartbeatRun.findFirst({ where: { id: first.id, status: 'running', processGroupId: { not: null } } }),
      30_000,
      'the agent process to start',
    );
    // Killed from outside: nobody in Vigil sent the signal.
    process.kill(-running.processGroupId!, 'SIGKILL');
    const died = await waitForRunStatus(vigil.vigil.prisma, first.id, TERMINAL);
    expect(died).toMatchObject({ status: 'failed', errorCode: 'process_lost' });
    const retry = await eventually(
      () => vigil.vigil.prisma.heartbeatRun.findFirst({ where: { retryOfRunId: died.id } }),
      15_000,
      'the process-loss retry run',
    );

    // The README's queries: today's process-lost runs, the retries of one run, every process-loss
    // retry (the last two scoped to this test's company).
    await cliListEventually(readmeQuery('VigilErrorCode=', { companyId: acme.company.id }), [`run-${died.id}`]);
    await cliListEventually(readmeQuery('VigilRetryOfRunId=', { runId: died.id }), [`run-${retry.id}`]);
    await cliListEventually(readmeQuery('VigilRetryKind=', { companyId: acme.company.id }), [`run-${retry.id}`]);
    // Stop the retry's agent so the test leaves nothing running; then the agent's failed runs are the lost one.
    await acme.board.post(`/api/heartbeat-runs/${retry.id}/cancel`, {});
    await waitForRunStatus(vigil.vigil.prisma, retry.id, TERMINAL);
    await cliListEventually(readmeQuery('VigilAgentId=', { agentId: agent.id }), [`run-${died.id}`]);
  });

  it('starts a run once: a second start of a waiting run nudges its workflow (slotFreed) instead of starting another', async () => {
    const agent = await givenAgent(acme, { script: 'succeed.sh' });
    const waiting = await givenIssue(acme, { status: 'backlog', assigneeAgentId: agent.id });
    const queued = await enqueueWakeup(vigil.vigil.prisma, agent.id, { source: 'assignment', triggerDetail: 'system', reason: 'issue_assigned', payload: { issueId: waiting.id } });
    if (queued.kind !== 'queued') throw new Error(`expected a queued run, got ${queued.kind}`);
    // A paused agent's run waits for its slot (R69), so its workflow stays open between the two starts.
    await vigil.vigil.prisma.agent.update({ where: { id: agent.id }, data: { status: 'paused', pauseReason: 'manual' } });
    const handle = vigil.vigil.temporal.workflow.getHandle(`run-${queued.run.id}`);
    const converter = vigil.vigil.temporal.options.loadedDataConverter.payloadConverter;
    const claims = async () =>
      ((await handle.fetchHistory()).events ?? []).filter((event) => event.userMetadata?.summary && converter.fromPayload(event.userMetadata.summary) === 'claim run').length;

    await vigil.vigil.runControl.startWorkflows([queued.run.id]);
    await eventually(async () => ((await handle.query<{ phase: string }>('runState')).phase === 'waiting_for_slot' ? true : null), 10_000, 'the run to wait for its agent');
    const first = await handle.describe();
    const claimsBefore = await claims();

    await vigil.vigil.runControl.startWorkflows([queued.run.id]);
    // The nudge makes the waiting workflow claim again at once (still paused: it waits again).
    await eventually(async () => ((await claims()) > claimsBefore ? true : null), 10_000, 'the nudged workflow to claim again');
    const second = await handle.describe();
    expect(second.runId).toBe(first.runId);
    const history = (await handle.fetchHistory()).events ?? [];
    expect(history.filter((event) => event.workflowExecutionStartedEventAttributes)).toHaveLength(1);
    expect(history.filter((event) => event.workflowExecutionSignaledEventAttributes?.signalName === 'slotFreed')).toHaveLength(2);
    // Set at the start, as for every run: what Temporal UI finds and shows.
    expect(second.memo).toMatchObject({ runId: queued.run.id, agentId: agent.id, issueIdentifier: waiting.identifier, wakeReason: 'issue_assigned', retryOfRunId: null });
    expect(second.typedSearchAttributes.get(VigilIssueIdentifier)).toBe(waiting.identifier);
    expect(second.typedSearchAttributes.get(VigilRunStatus)).toBe('queued');

    // Resumed, it runs once and succeeds: nothing left running.
    expect((await acme.board.post(`/api/agents/${agent.id}/resume`, {})).status).toBe(200);
    expect((await waitForRunStatus(vigil.vigil.prisma, queued.run.id, TERMINAL)).status).toBe('succeeded');
  });

  it('ran every query the README gives', () => {
    expect(README_QUERIES.length).toBeGreaterThanOrEqual(5);
    expect([...ranReadmeQueries].sort()).toEqual([...README_QUERIES].sort());
  });
});
