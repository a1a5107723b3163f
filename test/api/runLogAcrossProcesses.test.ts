/**
 * Issue 11: a run's log is in PostgreSQL, so an API process that did not run the run — another OS
 * process with its own data directory, whose worker polls another task queue — serves it, while
 * the run runs and after it ended, paged by bytes exactly like the process that ran it.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { startVigilProcess, type VigilProcess } from '../support/vigilProcess.ts';
import { ApiClient, type ApiResponse } from '../support/apiClient.ts';
import { eventually, givenAgent, givenCompany, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import { TERMINAL_RUN_STATUSES as TERMINAL } from '../../src/domain/runStatus.ts';

let runner: TestVigil;
let reader: VigilProcess;
let acme: CompanyFixture;
/** The same board, through the process that never ran anything. */
let elsewhere: ApiClient;

beforeAll(async () => {
  [runner, reader] = await Promise.all([startTestVigil(), startVigilProcess({ label: 'vigil-log-reader' })]);
  acme = await givenCompany(runner.admin);
  elsewhere = new ApiClient(reader.apiUrl, acme.boardKey);
});

afterAll(async () => {
  await reader?.stop();
  await runner?.stop();
});

/** Every slice of the run's log through `board`, `limitBytes` at a time. */
async function pagedLog(board: ApiClient, runId: string, limitBytes: number): Promise<string> {
  const parts: string[] = [];
  let offset: number | null = 0;
  while (offset !== null) {
    const slice: ApiResponse<{ content: string; nextOffset: number | null }> = await board.get(`/api/heartbeat-runs/${runId}/log?offset=${offset}&limitBytes=${limitBytes}`);
    expect(slice.status, JSON.stringify(slice.body)).toBe(200);
    expect(slice.body.content).not.toContain('\ufffd');
    parts.push(slice.body.content);
    offset = slice.body.nextOffset;
  }
  return parts.join('');
}

const chunksOf = (ndjson: string) => ndjson.split('\n').filter(Boolean).map((line) => (JSON.parse(line) as { chunk: string }).chunk);

describe('a run log read through another API process', () => {
  it('shows the output of a running run, and the whole log once it ended', async () => {
    const agent = await givenAgent(acme, { script: 'sleep.sh', env: { SLEEP_SEC: '6' } });
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
    const runId = woken.body.id as string;

    const live = await eventually(async () => {
      const slice = await elsewhere.get(`/api/heartbeat-runs/${runId}/log`);
      return slice.status === 200 && slice.body.content.includes('working') ? slice : null;
    }, 30_000, 'the first output through the other process');
    expect((await runner.vigil.prisma.heartbeatRun.findUniqueOrThrow({ where: { id: runId } })).status).toBe('running');
    expect(live.body).toMatchObject({ runId, store: 'postgres', logRef: `${acme.company.id}/${runId}`, nextOffset: null });
    expect(live.headers.get('cache-control')).toBe('no-store');
    expect(chunksOf(live.body.content)).toEqual(['working\n']);

    expect((await waitForRunStatus(runner.vigil.prisma, runId, TERMINAL)).status).toBe('succeeded');
    const ended = await elsewhere.get(`/api/heartbeat-runs/${runId}/log`);
    expect(chunksOf(ended.body.content)).toEqual(['working\n', 'done\n']);
    expect(ended.body.content.startsWith(live.body.content)).toBe(true);
    expect(ended.body).toEqual((await acme.board.get(`/api/heartbeat-runs/${runId}/log`)).body);
  });

  it('pages a long log with multibyte characters by bytes exactly as the process that ran it', async () => {
    const agent = await givenAgent(acme, { script: 'long-output.sh' });
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
    const run = await waitForRunStatus(runner.vigil.prisma, woken.body.id, TERMINAL);
    expect(run.status).toBe('succeeded');

    const whole = await elsewhere.get(`/api/heartbeat-runs/${run.id}/log`);
    expect(whole.body.nextOffset).toBeNull();
    expect(Buffer.byteLength(whole.body.content)).toBe(Number(run.logBytes));
    // The run's checksum, written with each flush, is the whole log's.
    expect(run.logSha256).toBe(createHash('sha256').update(whole.body.content).digest('hex'));
    expect(chunksOf(whole.body.content).join('')).toContain('héllo wörld héllo wörld');
    // 1,001-byte pages cut near every second character of the long line: each one moved to the next page.
    expect(await pagedLog(elsewhere, run.id, 1_001)).toBe(whole.body.content);
    const first = await elsewhere.get(`/api/heartbeat-runs/${run.id}/log?offset=2000&limitBytes=4000`);
    expect(first.body).toEqual((await acme.board.get(`/api/heartbeat-runs/${run.id}/log?offset=2000&limitBytes=4000`)).body);
  });

  it('answers 404 for a run without a log, on either process', async () => {
    const agent = await givenAgent(acme);
    const unstarted = await runner.vigil.prisma.heartbeatRun.create({ data: { companyId: acme.company.id, agentId: agent.id, status: 'cancelled' } });
    expect((await elsewhere.get(`/api/heartbeat-runs/${unstarted.id}/log`)).status).toBe(404);
    expect((await acme.board.get(`/api/heartbeat-runs/${unstarted.id}/log`)).status).toBe(404);
  });
});
