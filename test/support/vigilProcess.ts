/**
 * A whole Vigil (API, worker, live-event hub) in an OS process of its own, against the global
 * setup's PostgreSQL and Temporal: for tests that SIGKILL a worker, or that need a second API
 * process whose memory the test's own Vigil cannot share.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { generateAdminToken } from '../../src/auth/tokens.ts';
import { ApiClient } from './apiClient.ts';
import { testVigilSettings } from './harness.ts';
import type { StartVigilOptions } from '../../src/vigil.ts';
import { eventually } from './fixtures.ts';

export interface VigilProcess {
  child: ChildProcess;
  apiUrl: string;
  admin: ApiClient;
  adminToken: string;
  /** SIGKILL (Temporal's runtime turns SIGTERM into a worker shutdown that leaves the API up), then its data dir. */
  stop(): Promise<void>;
}

export async function startVigilProcess(
  options: { taskQueue?: string; adminToken?: string; adapterHeartbeatTimeoutMs?: number; label?: string; agentHosting?: StartVigilOptions['agentHosting'] } = {},
): Promise<VigilProcess> {
  const label = options.label ?? 'vigil-process';
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `${label}-`));
  const adminToken = options.adminToken ?? generateAdminToken();
  const settings = testVigilSettings({
    taskQueue: options.taskQueue ?? `vigil-test-${randomUUID()}`,
    dataDir,
    adminToken,
    adapterHeartbeatTimeoutMs: options.adapterHeartbeatTimeoutMs,
  });
  if (options.agentHosting) settings.agentHosting = { ...settings.agentHosting, ...options.agentHosting };
  const script = fileURLToPath(new URL('./workerProcess.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(settings)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    const apiUrl = await eventually(async () => {
      if (child.exitCode !== null) throw new Error(`${label} exited with ${child.exitCode} before it was ready`);
      return /READY (\S+)/.exec(output)?.[1];
    }, 60_000, `${label} to start`);
    return { child, apiUrl, admin: new ApiClient(apiUrl, adminToken), adminToken, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
