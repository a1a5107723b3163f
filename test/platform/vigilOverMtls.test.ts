/**
 * Vigil started the way a user starts it, against a Temporal that requires mutual TLS (an mTLS
 * endpoint in front of the test's dev server): without the TLS settings it does not start; with
 * Temporal's own TEMPORAL_TLS_* variables its client and its worker both get through, and a run
 * goes from the API to `succeeded`.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateAdminToken } from '../../src/auth/tokens.ts';
import { ApiClient } from '../support/apiClient.ts';
import { agentScript, eventually } from '../support/fixtures.ts';
import { createScratchDatabase } from '../support/scratchDatabase.ts';
import { endInstanceSweeper, RoleProcesses } from '../support/roleProcess.ts';
import { generateTestCertificates, type TestCertificates } from '../support/testCertificates.ts';
import { startMtlsProxy, type TlsEndpoint } from '../support/tlsProxies.ts';

const INSTANCE = `mtls${Date.now().toString(36)}`;
const processes = new RoleProcesses();
let dir: string;
let certs: TestCertificates;
let endpoint: TlsEndpoint;
let scratch: Awaited<ReturnType<typeof createScratchDatabase>>;
let env: Record<string, string>;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-mtls-'));
  certs = generateTestCertificates(dir);
  endpoint = await startMtlsProxy({
    upstream: inject('temporalAddress'),
    key: certs.read(certs.serverKeyPath),
    cert: certs.read(certs.serverCertPath),
    ca: certs.read(certs.caCertPath),
  });
  scratch = await createScratchDatabase(inject('databaseUrl'), 'vigil_mtls');
  env = {
    DATABASE_URL: scratch.url,
    TEMPORAL_ADDRESS: endpoint.address,
    TEMPORAL_NAMESPACE: inject('temporalNamespace'),
    // No user-level temporal.toml may change what this test gives.
    TEMPORAL_CONFIG_FILE: path.join(dir, 'none.toml'),
    VIGIL_TASK_QUEUE: `vigil-mtls-${INSTANCE}`,
    VIGIL_INSTANCE_ID: INSTANCE,
    VIGIL_ADMIN_TOKEN: generateAdminToken(),
  };
  await writeFile(env.TEMPORAL_CONFIG_FILE, '');
}, 120_000);

afterAll(async () => {
  await processes.stopAll();
  await endpoint?.close();
  await scratch?.drop();
  await endInstanceSweeper(inject('temporalAddress'), inject('temporalNamespace'), INSTANCE);
  if (dir) await rm(dir, { recursive: true, force: true });
}, 60_000);

describe('Vigil against a Temporal that requires mTLS', () => {
  it('does not start without the TLS settings: the endpoint refuses it', async () => {
    await expect(processes.start({ name: 'plain', role: 'api', env, readyTimeoutMs: 90_000 })).rejects.toThrow(/did not start[\s\S]*failed to start/);
    expect(endpoint.refusedHandshakes.length).toBeGreaterThan(0);
  }, 120_000);

  it('starts with TEMPORAL_TLS_* and runs an agent through its worker', async () => {
    const vigil = await processes.start({
      name: 'tls',
      role: 'all',
      env: {
        ...env,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCertPath,
        TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCertPath,
        TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKeyPath,
      },
    });
    // The start-up line describes the connection without a secret.
    expect(vigil.output()).toMatch(new RegExp(`Temporal: using ${endpoint.address}, namespace \\S+, TLS on \\(server CA given, client certificate\\)`));
    const admin = new ApiClient(vigil.url, env.VIGIL_ADMIN_TOKEN);
    expect((await admin.get('/api/ready')).body).toMatchObject({ ready: true, temporal: 'ok', worker: 'running' });
    const company = (await admin.post('/api/companies', { name: 'Over TLS', issuePrefix: 'TLS' })).body;
    const agent = (await admin.post(`/api/companies/${company.id}/agents`, { name: 'a', adapterConfig: { command: agentScript('succeed.sh') } })).body;
    const issue = (await admin.post(`/api/companies/${company.id}/issues`, { title: 'Through mTLS', status: 'todo', assigneeAgentId: agent.id })).body;
    const run = await eventually(async () => {
      const runs = (await admin.get(`/api/issues/${issue.id}/runs`)).body as Array<{ status: string }>;
      return runs.find((each) => each.status === 'succeeded');
    }, 60_000, 'the run to succeed');
    expect(run).toMatchObject({ status: 'succeeded' });
  }, 180_000);
});
