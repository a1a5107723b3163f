/**
 * The REAL Claude Code and Codex CLIs, run by Vigil's API and workflows against fake model
 * servers on 127.0.0.1 (test/support/fakeModelServers/): a streamed answer, a resumed session, a
 * session the CLI refuses, an overloaded upstream, a usage limit with a reset time, a rejected key.
 * No test calls a real provider.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { eventually, givenCompany, givenIssue, waitForIssueRun, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import { anthropicErrors, startAnthropicMessagesServer, type AnthropicReply } from '../support/fakeModelServers/anthropicMessagesServer.ts';
import { openAiErrors, startOpenAiResponsesServer, type OpenAiReply } from '../support/fakeModelServers/openaiResponsesServer.ts';
import type { FakeModelServer, ReplyScript } from '../support/fakeModelServers/recordingServer.ts';
import { claudeAgentConfig, codexAgentConfig, createClaudeHome, createCodexHome, FAKE_ANTHROPIC_API_KEY, FAKE_OPENAI_API_KEY, type AgentHome } from '../support/agentCliConfigs.ts';

const FINISHED = ['succeeded', 'failed', 'cancelled', 'timed_out'];

let vigil: TestVigil;
let acme: CompanyFixture;
const cleanups: Array<() => Promise<unknown>> = [];

beforeAll(async () => {
  vigil = await startTestVigil();
  acme = await givenCompany(vigil.admin);
});

afterAll(async () => {
  await vigil?.stop();
  await Promise.allSettled(cleanups.map((cleanup) => cleanup()));
});

type Cli = 'claude' | 'codex';

interface CliAgent {
  id: string;
  server: FakeModelServer;
  home: AgentHome;
}

/** A `claude_local` / `codex_local` agent whose real CLI talks to a fake of its own. */
async function givenCliAgent(cli: Cli, script?: ReplyScript<AnthropicReply> | ReplyScript<OpenAiReply>): Promise<CliAgent> {
  const server = cli === 'claude'
    ? await startAnthropicMessagesServer(script as ReplyScript<AnthropicReply>)
    : await startOpenAiResponsesServer(script as ReplyScript<OpenAiReply>);
  const home = cli === 'claude' ? await createClaudeHome() : await createCodexHome();
  cleanups.push(() => server.close(), () => home.remove());
  const adapterConfig = cli === 'claude'
    ? claudeAgentConfig({ baseUrl: server.url, home: home.dir })
    : codexAgentConfig({ baseUrl: server.url, codexHome: home.dir });
  const created = await acme.board.post(`/api/companies/${acme.company.id}/agents`, {
    name: `${cli}-${Math.random().toString(36).slice(2, 8)}`,
    role: 'engineer',
    adapterType: cli === 'claude' ? 'claude_local' : 'codex_local',
    adapterConfig: { ...adapterConfig, cwd: home.dir, timeoutSec: 120 },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return { id: created.body.id, server, home };
}

async function assignedRun(agent: CliAgent, title = 'Fix the flaky test') {
  const issue = await givenIssue(acme, { title, description: 'It fails one run in ten.', status: 'todo', assigneeAgentId: agent.id });
  const queued = await waitForIssueRun(vigil.vigil.prisma, issue.id);
  return { issue, run: await waitForRunStatus(vigil.vigil.prisma, queued.id, FINISHED, 60_000) };
}

async function wakeOnIssue(agent: CliAgent, issueId: string) {
  const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, { reason: 'issue_commented', payload: { issueId } });
  expect(woken.status, JSON.stringify(woken.body)).toBe(202);
  return waitForRunStatus(vigil.vigil.prisma, woken.body.id, FINISHED, 60_000);
}

/** `4:35pm`, as Claude's usage-limit message writes a UTC time. */
function clockOf(at: Date): string {
  const hour = at.getUTCHours();
  return `${hour % 12 || 12}:${String(at.getUTCMinutes()).padStart(2, '0')}${hour < 12 ? 'am' : 'pm'}`;
}

/** Every text the model server received in a request's messages (Anthropic `messages`, OpenAI `input`). */
function conversationText(body: unknown): string {
  return JSON.stringify((body as { messages?: unknown; input?: unknown }).messages ?? (body as { input?: unknown }).input ?? body);
}

describe.each(['claude', 'codex'] as const)('the real %s CLI through Vigil', (cli) => {
  const provider = cli === 'claude' ? 'anthropic' : 'openai';

  it('streams an answer: the run succeeds with the answer as its summary, its usage and one cost event', async () => {
    const usage = cli === 'claude' ? { input_tokens: 1200, output_tokens: 300, cache_read_input_tokens: 800 } : { input_tokens: 1200, output_tokens: 300, cached_tokens: 800 };
    const agent = await givenCliAgent(cli, [{ kind: 'answer', text: 'Fixed the flaky test by awaiting the timer.', usage } as AnthropicReply & OpenAiReply]);
    const { issue, run } = await assignedRun(agent);
    expect(run.status, run.error ?? '').toBe('succeeded');
    expect(run.resultJson).toMatchObject({ summary: 'Fixed the flaky test by awaiting the timer.' });
    expect(run.sessionIdAfter).toMatch(/^[0-9a-f-]{36}$/);
    expect(run.usageJson).toMatchObject({ provider, inputTokens: 1200, outputTokens: 300, estimated: cli === 'codex' });

    // The prompt reached the model: the issue, and how to act through Vigil's API.
    const [request] = agent.server.modelRequests();
    expect(conversationText(request.body)).toContain('Fix the flaky test');
    expect(conversationText(request.body)).toContain(`/issues/${issue.id}/comments`);
    expect(JSON.stringify(request.headers)).toContain(cli === 'claude' ? FAKE_ANTHROPIC_API_KEY : FAKE_OPENAI_API_KEY);

    // The answer is the agent's comment; its messages streamed as run events.
    const comments = await vigil.vigil.prisma.issueComment.findMany({ where: { issueId: issue.id } });
    expect(comments.map((c) => c.body)).toEqual(['Fixed the flaky test by awaiting the timer.']);
    const events = await acme.board.get(`/api/heartbeat-runs/${run.id}/events`);
    expect(events.body.some((e: { eventType: string; message: string }) => e.eventType === 'agent.message' && e.message.includes('awaiting the timer'))).toBe(true);

    const costs = await acme.board.get(`/api/companies/${acme.company.id}/cost-events?runId=${run.id}`);
    expect(costs.status).toBe(200);
    expect(costs.body).toHaveLength(1);
    expect(costs.body[0]).toMatchObject({ agentId: agent.id, issueId: issue.id, heartbeatRunId: run.id, provider, inputTokens: 1200, outputTokens: 300, estimated: cli === 'codex' });
    expect(costs.body[0].costUsd).toBeGreaterThan(0);

    // The key the agent's env carried appears in no response.
    const agentView = await acme.board.get(`/api/agents/${agent.id}`);
    expect(JSON.stringify([agentView.body, events.body, run], (_key, value) => (typeof value === 'bigint' ? String(value) : value))).not.toContain(cli === 'claude' ? FAKE_ANTHROPIC_API_KEY : FAKE_OPENAI_API_KEY);
  });

  it('resumes the session on the next wake of the same task: the model receives the first conversation', async () => {
    const agent = await givenCliAgent(cli, [{ kind: 'answer', text: 'First: the test is flaky because of a timer.' }, { kind: 'answer', text: 'Second: fixed.' }]);
    const { issue, run: first } = await assignedRun(agent);
    expect(first.status, first.error ?? '').toBe('succeeded');
    const second = await wakeOnIssue(agent, issue.id);
    expect(second.status, second.error ?? '').toBe('succeeded');
    expect(second.sessionIdBefore).toBe(first.sessionIdAfter);
    expect(second.sessionIdAfter).toBe(first.sessionIdAfter);
    const requests = agent.server.modelRequests();
    expect(conversationText(requests.at(-1)!.body)).toContain('the test is flaky because of a timer');
    const sessions = await acme.board.get(`/api/agents/${agent.id}/task-sessions`);
    expect(sessions.body).toHaveLength(1);
    expect(sessions.body[0]).toMatchObject({ taskKey: issue.id, sessionDisplayId: first.sessionIdAfter, lastRunId: second.id });
  });

  it('starts a fresh session in the same run when the CLI refuses to resume, and forgets the refused id', async () => {
    const agent = await givenCliAgent(cli, [{ kind: 'answer', text: 'First.' }, { kind: 'answer', text: 'Fresh start worked.' }]);
    const { issue, run: first } = await assignedRun(agent);
    expect(first.status, first.error ?? '').toBe('succeeded');
    const bogus = '3f0f5c1e-8d0a-4d0e-9a51-2b6f1f3c9e77';
    await vigil.vigil.prisma.agentTaskSession.updateMany({ where: { agentId: agent.id }, data: { sessionParamsJson: { sessionId: bogus, cwd: agent.home.dir, model: null } } });

    const second = await wakeOnIssue(agent, issue.id);
    expect(second.status, second.error ?? '').toBe('succeeded');
    expect(second.resultJson).toMatchObject({ summary: 'Fresh start worked.' });
    expect(second.sessionIdAfter).not.toBe(bogus);
    const refused = await vigil.vigil.prisma.agentTaskSession.findMany({ where: { agentId: agent.id } });
    expect(refused.map((s) => (s.sessionParamsJson as { sessionId: string }).sessionId)).toEqual([second.sessionIdAfter]);
    const runs = await vigil.vigil.prisma.heartbeatRun.count({ where: { agentId: agent.id } });
    expect(runs).toBe(2);
  });

  it('classifies an overloaded upstream as transient and schedules the bounded retry', async () => {
    const agent = await givenCliAgent(cli, [cli === 'claude' ? anthropicErrors.overloaded : openAiErrors.overloaded]);
    const { run } = await assignedRun(agent);
    expect(run.status).toBe('failed');
    expect(run.errorCode).toBe(`${cli}_transient_upstream`);
    expect(run.resultJson).toMatchObject({ errorFamily: 'transient_upstream' });
    const retry = await vigil.vigil.prisma.heartbeatRun.findFirstOrThrow({ where: { retryOfRunId: run.id } });
    expect(retry).toMatchObject({ status: 'scheduled_retry', scheduledRetryAttempt: 1, scheduledRetryReason: 'transient_failure' });
  });

  it('parks exactly one retry at the reset of a usage limit: nothing in between, no escalation, the agent idle', async () => {
    // Codex prints the reset itself ("try again at 4:23 PM") from the error's `resets_at`.
    const resetsAt = Math.floor(Date.now() / 60_000 + 90) * 60;
    const claudeLimit = { ...anthropicErrors.usageLimit, message: `Usage limit reached for this organization. Your limit resets at ${clockOf(new Date(resetsAt * 1000))} (UTC).` };
    const agent = await givenCliAgent(cli, [cli === 'claude' ? claudeLimit : { ...openAiErrors.usageLimit, details: { resets_at: resetsAt } }]);
    const { issue, run } = await assignedRun(agent);
    expect(run.status).toBe('failed');
    expect(run.errorCode).toBe(`${cli}_usage_limit`);
    expect(run.resultJson).toMatchObject({ errorFamily: 'provider_quota' });
    const retryNotBefore = new Date(String((run.resultJson as { retryNotBefore: string }).retryNotBefore));
    expect(retryNotBefore.getTime()).toBe(resetsAt * 1000);

    const retries = await vigil.vigil.prisma.heartbeatRun.findMany({ where: { retryOfRunId: run.id } });
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ status: 'scheduled_retry', scheduledRetryReason: 'provider_quota', scheduledRetryAttempt: 0 });
    expect(retries[0].scheduledRetryAt!.getTime()).toBe(retryNotBefore.getTime());
    // No escalation: the issue stays with its agent, no recovery issue, the agent waits idle.
    const after = await vigil.vigil.prisma.issue.findUniqueOrThrow({ where: { id: issue.id } });
    expect(after.status).not.toBe('blocked');
    expect(after.executionRunId).toBe(retries[0].id);
    expect(await vigil.vigil.prisma.issue.count({ where: { parentId: issue.id } })).toBe(0);
    expect((await vigil.vigil.prisma.agent.findUniqueOrThrow({ where: { id: agent.id } })).status).toBe('idle');
    // V8: the decision says why the issue waits, and until when.
    const decisions = await acme.board.get(`/api/heartbeat-runs/${run.id}/recovery-decisions`);
    expect(decisions.body).toEqual([
      expect.objectContaining({
        decision: 'quota_wait', rule: 'V9', reason: 'provider_quota', createdRunId: retries[0].id,
        evidence: expect.objectContaining({ attempt: 1, maxAttempts: 5, dueAt: retryNotBefore.toISOString(), errorCode: `${cli}_usage_limit` }),
      }),
    ]);

    // The agent's next wake waits for the same reset instead of running into the wall.
    const other = await givenIssue(acme, { title: 'Another task', status: 'todo', assigneeAgentId: agent.id });
    const parked = await eventually(async () => {
      const next = await vigil.vigil.prisma.heartbeatRun.findFirst({ where: { agentId: agent.id, contextSnapshot: { path: ['issueId'], equals: other.id } } });
      return next?.status === 'scheduled_retry' ? next : null;
    }, 20_000, 'the next run to wait for the reset');
    expect(parked.scheduledRetryAt!.getTime()).toBe(retryNotBefore.getTime());
    expect(agent.server.modelRequests()).toHaveLength(1);
  });

  it('fails a rejected key as auth required, with no retry ladder', async () => {
    const agent = await givenCliAgent(cli, [cli === 'claude' ? anthropicErrors.authentication : openAiErrors.authentication]);
    const { run } = await assignedRun(agent);
    expect(run.status).toBe('failed');
    expect(run.errorCode).toBe(`${cli}_auth_required`);
    expect(await vigil.vigil.prisma.heartbeatRun.count({ where: { retryOfRunId: run.id, status: 'scheduled_retry' } })).toBe(0);
  });
});
