/**
 * `GET /metrics` against a real Vigil: real runs move the counters the activities own, a killed
 * agent is measured from its exit to its `process_lost` write, API calls are timed by route
 * pattern, an on-demand sweep records its duration, and the Temporal worker's own `temporal_*`
 * metrics are appended. No label names a company or a run.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestVigil, type TestVigil } from '../support/harness.ts';
import { eventually, givenAgent, givenCompany, givenIssue, waitForIssueRun, waitForRunStatus, type CompanyFixture } from '../support/fixtures.ts';
import { DEAD_PID, seedOrphanedRun } from '../support/recoverySeeds.ts';
import { temporalFamilies } from '../../src/metrics/temporalScrape.ts';

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

async function scrape(): Promise<{ status: number; contentType: string | null; text: string }> {
  const response = await fetch(`${vigil.apiUrl}/metrics`);
  return { status: response.status, contentType: response.headers.get('content-type'), text: await response.text() };
}

/** The value of one sample (`name{labels}`), 0 when the series does not exist yet. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  const wanted = Object.entries(labels).map(([key, value]) => `${key}="${value}"`);
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match || match[1] !== name) continue;
    const present = (match[2] ?? '').split(/,(?=[a-zA-Z_]+=")/);
    if (wanted.every((label) => present.includes(label))) return Number(match[3]);
  }
  return 0;
}

describe('GET /metrics', () => {
  it('is Prometheus text, served without credentials outside /api', async () => {
    const { status, contentType, text } = await scrape();
    expect(status).toBe(200);
    expect(contentType).toMatch(/^text\/plain/);
    for (const family of [
      'vigil_runs_finished_total',
      'vigil_runs_current',
      'vigil_recovery_actions_total',
      'vigil_process_loss_detection_seconds',
      'vigil_sweep_duration_seconds',
      'vigil_sweep_runs_total',
      'vigil_sweep_items_total',
      'vigil_api_request_duration_seconds',
      'vigil_temporal_worker_metrics_up',
      'vigil_agent_handovers_total',
    ]) {
      expect(text, family).toContain(`# TYPE ${family} `);
    }
    // The database gauge reports every live status, even at zero.
    expect(text).toMatch(/^vigil_runs_current\{status="scheduled_retry"\} \d+$/m);
  });

  it('counts a succeeded run where finalize commits it', async () => {
    const before = (await scrape()).text;
    const agent = await givenAgent(acme, { script: 'succeed.sh' });
    const issue = await givenIssue(acme, { status: 'todo', assigneeAgentId: agent.id });
    const run = await waitForRunStatus(vigil.vigil.prisma, (await waitForIssueRun(vigil.vigil.prisma, issue.id)).id, TERMINAL);
    expect(run.status).toBe('succeeded');
    const after = (await scrape()).text;
    const succeeded = { status: 'succeeded', error_code: 'none' };
    expect(sample(after, 'vigil_runs_finished_total', succeeded) - sample(before, 'vigil_runs_finished_total', succeeded)).toBe(1);
  });

  it('measures a killed agent from its exit to its process_lost write, and counts its one retry', async () => {
    const before = (await scrape()).text;
    const agent = await givenAgent(acme, { script: 'sleep.sh' });
    const woken = await acme.board.post(`/api/agents/${agent.id}/wakeup`, {});
    expect(woken.status, JSON.stringify(woken.body)).toBeLessThan(300);
    const running = await eventually(async () => {
      const row = await vigil.vigil.prisma.heartbeatRun.findUnique({ where: { id: woken.body.id } });
      return row?.processPid ? row : null;
    }, 20_000, 'the agent process to start');
    const killedAt = Date.now();
    process.kill(running.processPid!, 'SIGKILL');
    const lost = await waitForRunStatus(vigil.vigil.prisma, running.id, TERMINAL);
    const seenLostAt = Date.now();
    expect(lost).toMatchObject({ status: 'failed', errorCode: 'process_lost' });
    const retry = await vigil.vigil.prisma.heartbeatRun.findFirstOrThrow({ where: { retryOfRunId: lost.id } });
    await acme.board.post(`/api/heartbeat-runs/${retry.id}/cancel`, {});

    const after = (await scrape()).text;
    const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('vigil_runs_finished_total', { status: 'failed', error_code: 'process_lost' })).toBe(1);
    expect(delta('vigil_recovery_actions_total', { kind: 'process_loss_retry' })).toBe(1);
    expect(delta('vigil_process_loss_detection_seconds_count', { path: 'exit_signal' })).toBe(1);
    // The span runs from the child's exit to the commit: inside the window from our kill to the
    // moment the test saw the run lost (not, say, from the run's start or the heartbeat timeout).
    const seconds = delta('vigil_process_loss_detection_seconds_sum', { path: 'exit_signal' });
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual((seenLostAt - killedAt) / 1000);
  });

  it('times API requests by method, route pattern and status class', async () => {
    const agent = await givenAgent(acme, { script: 'succeed.sh' });
    expect((await acme.board.get(`/api/agents/${agent.id}`)).status).toBe(200);
    expect((await acme.board.get(`/api/agents/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
    const { text } = await scrape();
    expect(sample(text, 'vigil_api_request_duration_seconds_count', { method: 'GET', route: '/api/agents/:agentId', status_class: '2xx' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'vigil_api_request_duration_seconds_count', { method: 'GET', route: '/api/agents/:agentId', status_class: '4xx' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'vigil_api_request_duration_seconds_count', { method: 'POST', route: '/api/companies/:companyId/agents', status_class: '2xx' })).toBeGreaterThanOrEqual(1);
    // Patterns only: no raw path, no company or agent id in any label.
    expect(text).not.toContain(agent.id);
    expect(text).not.toContain(acme.company.id);
  });

  it('records an on-demand reaper sweep: its duration, its result and how the orphan was detected', async () => {
    const before = (await scrape()).text;
    const seededAt = Date.now();
    const orphan = await seedOrphanedRun(vigil.vigil.prisma, { processPid: DEAD_PID, processGroupId: DEAD_PID });
    const reaped = await vigil.admin.post('/api/recovery/reap', { companyId: orphan.company.id });
    expect(reaped.status, JSON.stringify(reaped.body)).toBe(200);
    expect(reaped.body.runIds).toEqual([orphan.runId]);
    const after = (await scrape()).text;
    const delta = (name: string, labels: Record<string, string>) => sample(after, name, labels) - sample(before, name, labels);
    expect(delta('vigil_sweep_duration_seconds_count', { sweep: 'orphan_reaper' })).toBe(1);
    expect(delta('vigil_sweep_runs_total', { sweep: 'orphan_reaper', result: 'ok' })).toBe(1);
    expect(delta('vigil_sweep_items_total', { sweep: 'orphan_reaper', outcome: 'reaped' })).toBe(1);
    expect(delta('vigil_process_loss_detection_seconds_count', { path: 'reaper' })).toBe(1);
    // From the run's last write (the seed) to the reaper's commit.
    const seconds = delta('vigil_process_loss_detection_seconds_sum', { path: 'reaper' });
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual((Date.now() - seededAt) / 1000);
    expect(delta('vigil_runs_finished_total', { status: 'failed', error_code: 'process_lost' })).toBe(1);
    expect(sample(after, 'vigil_api_request_duration_seconds_count', { method: 'POST', route: '/api/recovery/reap', status_class: '2xx' })).toBeGreaterThanOrEqual(1);
  });

  it("appends the Temporal worker's own temporal_* metrics", async () => {
    const { text } = await scrape();
    expect(sample(text, 'vigil_temporal_worker_metrics_up')).toBe(1);
    const temporal = text.split('\n').filter((line) => line.startsWith('temporal_'));
    expect(temporal.length).toBeGreaterThan(0);
    expect(text).toMatch(/^# TYPE temporal_\w+ /m);
    // Every family is defined once: nothing of Temporal's collides with prom-client's.
    const types = text.split('\n').filter((line) => line.startsWith('# TYPE ')).map((line) => line.split(' ')[2]);
    expect(new Set(types).size).toBe(types.length);
  });
});

describe('temporalFamilies', () => {
  it("keeps only the temporal_ families of Core's exposition", () => {
    const core = [
      '# HELP temporal_request Count of client request successes by rpc name',
      '# TYPE temporal_request counter',
      'temporal_request{operation="PollWorkflowTaskQueue",service_name="temporal-core-sdk"} 3',
      '# TYPE target_info gauge',
      'target_info{service_name="temporal-core-sdk"} 1',
      'process_cpu_seconds_total 2',
      '',
    ].join('\n');
    expect(temporalFamilies(core).split('\n')).toEqual([
      '# HELP temporal_request Count of client request successes by rpc name',
      '# TYPE temporal_request counter',
      'temporal_request{operation="PollWorkflowTaskQueue",service_name="temporal-core-sdk"} 3',
    ]);
  });
});
