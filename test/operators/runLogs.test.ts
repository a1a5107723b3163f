/**
 * Vigil's log lines during real runs, captured from the harness: every line is JSON, every line
 * about a run names its run, its workflow and its company — the Temporal SDK's own lines included —
 * and a secret an agent leaks into its output, its error and its result never reaches a line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { eventually, givenAgent, givenCompany, givenIssue, waitForIssueRun, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';

import { TERMINAL_RUN_STATUSES as TERMINAL } from '../../src/domain/runStatus.ts';
import { runCompanies } from '../../src/runLogContext.ts';
const LEAKED_KEY = 'sk-live-4f9c2b7e1d8a6035';

type Entry = Record<string, unknown> & { msg: string; level: string };

const lines: string[] = [];
let vigil: TestVigil;
let acme: CompanyFixture;

const entries = (): Entry[] => lines.map((line) => JSON.parse(line) as Entry);
const linesOf = (runId: string) => entries().filter((entry) => entry.runId === runId);

beforeAll(async () => {
  vigil = await startTestVigil({ onLogLine: (line) => lines.push(line) });
  acme = await givenCompany(vigil.admin);
});

afterAll(async () => {
  await vigil?.stop();
});

async function finishedRun(runId: string) {
  const run = await waitForRunStatus(vigil.vigil.prisma, runId, TERMINAL);
  // The line is written after the finalize commits; lines waiting for a company lookup follow.
  await eventually(async () => linesOf(runId).some((entry) => entry.msg === 'run finished'), 10_000, `the "run finished" line of ${runId}`);
  return run;
}

describe('log lines about runs', () => {
  let runIds: string[] = [];

  beforeAll(async () => {
    const worker = await givenAgent(acme, { script: 'succeed.sh' });
    const issue = await givenIssue(acme, { status: 'todo', assigneeAgentId: worker.id });
    const succeeded = await finishedRun((await waitForIssueRun(vigil.vigil.prisma, issue.id)).id);

    const leaker = await givenAgent(acme, { script: 'leaks-secret.sh' });
    const leaked = await finishedRun((await acme.board.post(`/api/agents/${leaker.id}/wakeup`, {})).body.id);

    const sleeper = await givenAgent(acme, { script: 'sleep.sh' });
    const woken = await acme.board.post(`/api/agents/${sleeper.id}/wakeup`, {});
    const running = await eventually(async () => {
      const row = await vigil.vigil.prisma.heartbeatRun.findUnique({ where: { id: woken.body.id } });
      return row?.processPid ? row : null;
    }, 20_000, 'the agent process to start');
    process.kill(running.processPid!, 'SIGKILL');
    const lost = await finishedRun(running.id);
    const retry = await vigil.vigil.prisma.heartbeatRun.findFirstOrThrow({ where: { retryOfRunId: lost.id } });
    await acme.board.post(`/api/heartbeat-runs/${retry.id}/cancel`, {});
    await finishedRun(retry.id);

    expect([succeeded.status, leaked.status, lost.errorCode]).toEqual(['succeeded', 'failed', 'process_lost']);
    runIds = [succeeded.id, leaked.id, lost.id, retry.id];
    // Lines still waiting for a company lookup land first.
    await runCompanies.linesWritten();
  });

  it('are JSON, and every line with a runId also has its workflowId and companyId', () => {
    const all = entries();
    const aboutRuns = all.filter((entry) => entry.runId !== undefined);
    expect(aboutRuns.length).toBeGreaterThan(10);
    for (const entry of aboutRuns) {
      expect(entry.workflowId, JSON.stringify(entry)).toBe(`run-${entry.runId}`);
      expect(entry.companyId, JSON.stringify(entry)).toEqual(expect.any(String));
    }
    for (const runId of runIds) {
      const own = linesOf(runId);
      expect(own.length, runId).toBeGreaterThan(0);
      expect(new Set(own.map((entry) => entry.companyId))).toEqual(new Set([acme.company.id]));
    }
  });

  it("include the Temporal SDK's own lines, as JSON through Vigil's logger", () => {
    const sdk = entries().filter((entry) => typeof entry.sdkComponent === 'string');
    expect(sdk.length).toBeGreaterThan(0);
    // The SDK's lines about a run's activities name the run like Vigil's own do; the Temporal
    // workflow run id is `workflowRunId`, never `runId`.
    const aboutRuns = sdk.filter((entry) => runIds.includes(entry.runId as string));
    expect(aboutRuns.length).toBeGreaterThan(0);
    expect(aboutRuns.every((entry) => entry.companyId === acme.company.id)).toBe(true);
  });

  it("say how a run ended and how a lost process was noticed", () => {
    const [succeeded, leaked, lost] = runIds;
    expect(linesOf(succeeded).find((entry) => entry.msg === 'run finished')).toMatchObject({ status: 'succeeded', errorCode: null });
    expect(linesOf(leaked).find((entry) => entry.msg === 'agent process ended')).toMatchObject({ exitCode: 2, processLost: false });
    expect(linesOf(lost).find((entry) => entry.msg === 'agent process lost')).toMatchObject({ level: 'warn', path: 'exit_signal', retryRunId: runIds[3] });
  });

  it("never carry a secret from a run's output, error or result, nor a run token", () => {
    // The leaked text did reach a line — redacted.
    const ended = linesOf(runIds[1]).find((entry) => entry.msg === 'agent process ended');
    expect(ended?.error).toContain('Bearer [REDACTED]');
    for (const line of lines) {
      expect(line).not.toContain(LEAKED_KEY);
      expect(line).not.toContain('4f9c2b7e1d8a6035');
      expect(line).not.toMatch(/vgr_[A-Za-z0-9_-]{8,}/);
    }
  });
});
