/**
 * `npm start`'s contract, end to end: it brings up PostgreSQL, Temporal (with its UI), the worker
 * and the API on the ports it is given and says where they are; a run goes through; after a
 * `kill -9` the next start adopts the servers left running and keeps the data; Ctrl-C (SIGINT)
 * stops everything it started.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPortAnswering, terminatePid } from '../../src/platform/processes.ts';
import { findFreePorts } from '../../src/platform/freePorts.ts';
import { ApiClient } from '../support/apiClient.ts';
import { agentScript, eventually } from '../support/fixtures.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const started: ChildProcess[] = [];
let dataDir = '';
let ports = { PORT: 0, VIGIL_PG_PORT: 0, TEMPORAL_PORT: 0, TEMPORAL_UI_PORT: 0 };

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

afterAll(async () => {
  const left = started.filter(running);
  for (const child of left) child.kill('SIGINT');
  await Promise.all(left.map((child) => once(child, 'exit')));
  if (!dataDir) return;
  // If the test failed between the kill -9 and the clean stop, the servers that first start
  // launched are still running: stop them by the pids they recorded.
  for (const [pidFile, port] of [['postgres/postmaster.pid', ports.VIGIL_PG_PORT], ['temporal/server.pid', ports.TEMPORAL_PORT]] as const) {
    const pid = Number((await readFile(path.join(dataDir, pidFile), 'utf8').catch(() => '')).split('\n')[0]);
    // Only while its port still answers, so a stale pid file never names someone else's process.
    if (pid > 0 && (await isPortAnswering(port))) await terminatePid(pid);
  }
  await rm(dataDir, { recursive: true, force: true });
});

interface Started {
  child: ChildProcess;
  output: () => string;
  apiUrl: string;
}

async function startVigilProcess(env: Record<string, string>): Promise<Started> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  await eventually(async () => output.includes('Ready.') || child.exitCode !== null, 120_000, 'npm start to be ready');
  if (!output.includes('Ready.')) throw new Error(`npm start failed:\n${output}`);
  const apiUrl = /API:\s+(\S+)\/api/.exec(output)![1];
  return { child, output: () => output, apiUrl };
}

describe('npm start', () => {
  it('starts everything, survives a kill -9, and stops cleanly on SIGINT', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-start-'));
    const [port, pgPort, temporalPort, uiPort] = await findFreePorts(4);
    ports = { PORT: port, VIGIL_PG_PORT: pgPort, TEMPORAL_PORT: temporalPort, TEMPORAL_UI_PORT: uiPort };
    const env = { VIGIL_DATA_DIR: dataDir, HOST: '127.0.0.1', VIGIL_LOG_LEVEL: 'warn', ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])) };

    const first = await startVigilProcess(env);
    expect(first.apiUrl).toBe(`http://127.0.0.1:${ports.PORT}`);
    expect(first.output()).toContain(`Temporal UI: http://127.0.0.1:${ports.TEMPORAL_UI_PORT}`);
    const token = (await readFile(path.join(dataDir, 'admin-token'), 'utf8')).trim();
    expect(first.output()).toContain(`Admin token (first start; kept in ${dataDir}/admin-token): ${token}`);
    expect((await fetch(`http://127.0.0.1:${ports.TEMPORAL_UI_PORT}/`)).status).toBe(200);

    const admin = new ApiClient(first.apiUrl, token);
    expect((await admin.get('/api/health')).body).toEqual({ status: 'ok', db: 'ok', temporal: 'ok' });
    const company = (await admin.post('/api/companies', { name: 'Start', issuePrefix: 'START' })).body;
    const agent = (await admin.post(`/api/companies/${company.id}/agents`, { name: 'a', adapterConfig: { command: agentScript('succeed.sh') } })).body;
    const run = (await admin.post(`/api/agents/${agent.id}/wakeup`, {})).body;
    await eventually(async () => (await admin.get(`/api/heartbeat-runs/${run.id}`)).body.status === 'succeeded', 30_000, 'the run to succeed');

    // kill -9: PostgreSQL and Temporal keep running; the next start adopts them.
    first.child.kill('SIGKILL');
    await once(first.child, 'exit');
    expect(await isPortAnswering(ports.VIGIL_PG_PORT)).toBe(true);
    const second = await startVigilProcess(env);
    expect(second.output()).toMatch(/PostgreSQL 17 reused/);
    expect(second.output()).toMatch(/Temporal dev server reused/);
    expect(second.output()).not.toContain('Admin token');
    const again = new ApiClient(second.apiUrl, token);
    expect((await again.get(`/api/heartbeat-runs/${run.id}`)).body.status).toBe('succeeded');

    // Ctrl-C: everything this process started (or adopted) stops, and it exits 0.
    second.child.kill('SIGINT');
    const [code] = await once(second.child, 'exit');
    expect(code, second.output()).toBe(0);
    expect(second.output()).toContain('stopped');
    for (const port of Object.values(ports)) expect(await isPortAnswering(port)).toBe(false);
  }, 300_000);
});
