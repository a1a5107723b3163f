/**
 * A real Vigil for one test file: the API on 127.0.0.1:<random port> and a worker on a task queue
 * of its own, against the PostgreSQL and Temporal server of the global setup.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startVigil, type RunningVigil } from '../../src/vigil.ts';
import { generateAdminToken } from '../../src/auth/tokens.ts';
import { createLogger } from '../../src/logger.ts';
import { ApiClient } from './apiClient.ts';

export const TEST_TEMPORAL_UI_URL = 'http://127.0.0.1:8233';

export interface TestVigil {
  vigil: RunningVigil;
  /** Client authenticated as the instance admin. */
  admin: ApiClient;
  apiUrl: string;
  adminToken: string;
  dataDir: string;
  taskQueue: string;
  stop(): Promise<void>;
}

let runtimeInstalled = false;

export async function startTestVigil(options: { adapterHeartbeatTimeoutMs?: number; taskQueue?: string } = {}): Promise<TestVigil> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: new DefaultLogger('ERROR') });
    runtimeInstalled = true;
  }
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-file-'));
  const adminToken = generateAdminToken();
  const taskQueue = options.taskQueue ?? `vigil-test-${randomUUID()}`;
  const vigil = await startVigil({
    databaseUrl: inject('databaseUrl'),
    temporalAddress: inject('temporalAddress'),
    temporalNamespace: inject('temporalNamespace'),
    temporalUiUrl: TEST_TEMPORAL_UI_URL,
    taskQueue,
    dataDir,
    adminToken,
    runTokenSecret: null,
    adapterHeartbeatTimeoutMs: options.adapterHeartbeatTimeoutMs ?? 5_000,
    host: '127.0.0.1',
    port: 0,
    logger: createLogger('warn'),
    workflowBundlePath: inject('workflowBundlePath'),
    shutdownGraceMs: 1_000,
  });
  return {
    vigil,
    admin: new ApiClient(vigil.apiUrl, adminToken),
    apiUrl: vigil.apiUrl,
    adminToken,
    dataDir,
    taskQueue,
    stop: async () => {
      await vigil.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
