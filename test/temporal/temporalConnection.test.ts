/**
 * Issue 11 §3: Vigil reaches a real Temporal (Cloud, an mTLS cluster) through Temporal's own
 * environment configuration. Against the run's dev server, behind TLS endpoints this file starts:
 * an mTLS proxy, and a TLS proxy that records each call's headers.
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspect } from 'node:util';
import { Client, type Connection } from '@temporalio/client';
import { DefaultLogger, type NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  describeTemporalConnection,
  loadTemporalConnectionSettings,
  type TemporalConnectionSettings,
} from '../../src/temporal/temporalConnection.ts';
import { connectClient, connectNative } from '../../src/temporal/temporalConnect.ts';
import { generateTestCertificates, type TestCertificates } from '../support/testCertificates.ts';
import { startMtlsProxy, startRecordingGrpcProxy, type RecordingEndpoint, type TlsEndpoint } from '../support/tlsProxies.ts';

const API_KEY = `vigil-test-api-key-${randomUUID()}`;
const devServer = inject('temporalAddress');
const namespace = inject('temporalNamespace');
const GREETING_WORKFLOWS = fileURLToPath(new URL('./fixtures/greeting.ts', import.meta.url));

let dir: string;
let certs: TestCertificates;
let mtls: TlsEndpoint;
let recording: RecordingEndpoint;
const cleanups: (() => Promise<unknown> | unknown)[] = [];

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-temporal-tls-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  certs = generateTestCertificates(dir);
  const [key, cert, ca] = [certs.read(certs.serverKeyPath), certs.read(certs.serverCertPath), certs.read(certs.caCertPath)];
  mtls = await startMtlsProxy({ upstream: devServer, key, cert, ca });
  cleanups.push(() => mtls.close());
  recording = await startRecordingGrpcProxy({ upstream: devServer, key, cert });
  cleanups.push(() => recording.close());
});

afterAll(async () => {
  const failures: unknown[] = [];
  for (const cleanup of cleanups.splice(0).reverse()) {
    try {
      await cleanup();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, 'cleanup failed');
});

async function givenClientConnection(settings: TemporalConnectionSettings): Promise<Connection> {
  const connection = await connectClient(settings);
  cleanups.push(() => connection.close());
  return connection;
}

async function givenNativeConnection(settings: TemporalConnectionSettings): Promise<NativeConnection> {
  const connection = await connectNative(settings);
  cleanups.push(() => connection.close());
  return connection;
}

function settingsFrom(env: NodeJS.ProcessEnv): TemporalConnectionSettings {
  const settings = loadTemporalConnectionSettings(env);
  if (settings === null) throw new Error('expected settings, got null');
  return settings;
}

/** mTLS settings as TEMPORAL_* variables. */
function mtlsVariables(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    TEMPORAL_ADDRESS: mtls.address,
    TEMPORAL_NAMESPACE: namespace,
    TEMPORAL_TLS_CLIENT_CERT_PATH: certs.clientCertPath,
    TEMPORAL_TLS_CLIENT_KEY_PATH: certs.clientKeyPath,
    TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCertPath,
    ...overrides,
  };
}

async function givenConfigFile(toml: string): Promise<string> {
  const file = path.join(dir, `temporal-${randomUUID()}.toml`);
  await writeFile(file, toml);
  return file;
}

/** A profile file with a `default` profile that points nowhere and an `mtls` one for the endpoint. */
async function givenMtlsProfileFile(tls: Record<string, string> = {}): Promise<string> {
  const entries = {
    client_cert_path: certs.clientCertPath,
    client_key_path: certs.clientKeyPath,
    server_ca_cert_path: certs.caCertPath,
    server_name: 'localhost',
    ...tls,
  };
  return givenConfigFile(
    [
      '[profile.default]',
      'address = "127.0.0.1:1"',
      '',
      '[profile.mtls]',
      `address = "${mtls.address}"`,
      'namespace = "not-the-real-one"',
      '',
      '[profile.mtls.tls]',
      ...Object.entries(entries).map(([key, value]) => `${key} = ${JSON.stringify(value)}`),
      '',
    ].join('\n'),
  );
}

describe('reading the connection settings', () => {
  it('returns null when no address is configured anywhere, so Vigil starts its own dev server', async () => {
    const home = path.join(dir, 'empty-home');
    await mkdir(home, { recursive: true });
    expect(loadTemporalConnectionSettings({})).toBeNull();
    expect(loadTemporalConnectionSettings({ HOME: home, TEMPORAL_ADDRESS: '', TEMPORAL_NAMESPACE: 'other', TEMPORAL_TLS: '' })).toBeNull();
  });

  it('reads address, namespace and mTLS files from TEMPORAL_* variables', () => {
    const settings = settingsFrom(mtlsVariables({ TEMPORAL_TLS_SERVER_NAME: 'localhost' }));
    expect(settings).toMatchObject({ address: mtls.address, namespace, apiKey: null, metadata: {} });
    expect(settings.tls).toEqual({
      serverNameOverride: 'localhost',
      serverRootCACertificate: new Uint8Array(certs.read(certs.caCertPath)),
      clientCertPair: { crt: new Uint8Array(certs.read(certs.clientCertPath)), key: new Uint8Array(certs.read(certs.clientKeyPath)) },
    });
    expect(settings.origin).toBe(
      'TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME',
    );
  });

  it('reads a TOML profile named by TEMPORAL_PROFILE from TEMPORAL_CONFIG_FILE, variables overriding it', async () => {
    const file = await givenMtlsProfileFile();
    const settings = settingsFrom({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'mtls', TEMPORAL_NAMESPACE: namespace });
    expect(settings).toMatchObject({ address: mtls.address, namespace, apiKey: null });
    expect(settings.tls).toMatchObject({ serverNameOverride: 'localhost', clientCertPair: { crt: new Uint8Array(certs.read(certs.clientCertPath)) } });
    expect(settings.origin).toBe(`[profile.mtls] of ${file} + TEMPORAL_NAMESPACE`);
    // Without TEMPORAL_PROFILE, the file's `default` profile.
    expect(settingsFrom({ TEMPORAL_CONFIG_FILE: file })).toMatchObject({ address: '127.0.0.1:1', namespace: 'default', tls: false });
  });

  it('reads the default profile of the user config file when TEMPORAL_CONFIG_FILE is unset, as the Temporal CLI does', async () => {
    const home = path.join(dir, `home-${randomUUID()}`);
    await mkdir(path.join(home, '.config', 'temporalio'), { recursive: true });
    await writeFile(path.join(home, '.config', 'temporalio', 'temporal.toml'), '[profile.default]\naddress = "temporal.example:7233"\nnamespace = "ns"\n');
    expect(settingsFrom({ HOME: home })).toMatchObject({ address: 'temporal.example:7233', namespace: 'ns', tls: false });
  });

  it('turns TLS on for an API key, off for TEMPORAL_TLS=false, and reads booleans as the CLI does', () => {
    const remote = { TEMPORAL_ADDRESS: 'temporal.example:7233' };
    expect(settingsFrom({ ...remote, TEMPORAL_API_KEY: API_KEY })).toMatchObject({ tls: {}, apiKey: API_KEY });
    expect(settingsFrom({ ...remote, TEMPORAL_API_KEY: API_KEY, TEMPORAL_TLS: 'false' })).toMatchObject({ tls: false, apiKey: API_KEY });
    expect(settingsFrom({ ...remote, TEMPORAL_TLS: 'TRUE' }).tls).toEqual({});
    expect(settingsFrom({ ...remote, TEMPORAL_TLS: '1' }).tls).toEqual({});
    // Empty is unset (envconfig alone would read TEMPORAL_TLS= as "off" and TEMPORAL_API_KEY= as "TLS on").
    expect(settingsFrom({ ...remote, TEMPORAL_TLS: '', TEMPORAL_API_KEY: '' })).toMatchObject({ tls: false, apiKey: null });
  });

  it('sends TEMPORAL_GRPC_META_* as gRPC metadata with the CLI-normalised header names', () => {
    const settings = settingsFrom({ TEMPORAL_ADDRESS: 'temporal.example:7233', TEMPORAL_GRPC_META_X_VIGIL_PROOF: 'seen' });
    expect(settings.metadata).toEqual({ 'x-vigil-proof': 'seen' });
  });

  describe('refuses invalid settings, naming the variable or file', () => {
    const cases: [string, () => Promise<NodeJS.ProcessEnv> | NodeJS.ProcessEnv, RegExp][] = [
      ['a client certificate path that does not exist', () => mtlsVariables({ TEMPORAL_TLS_CLIENT_CERT_PATH: '/nonexistent/client.pem' }),
        /^TEMPORAL_TLS_CLIENT_CERT_PATH: cannot read \/nonexistent\/client\.pem \(ENOENT\)$/],
      ['a server CA path that does not exist, in a TOML profile', async () => ({
        TEMPORAL_CONFIG_FILE: await givenMtlsProfileFile({ server_ca_cert_path: '/nonexistent/ca.pem' }), TEMPORAL_PROFILE: 'mtls' }),
        /^tls\.server_ca_cert_path of \[profile\.mtls\] in .*\.toml: cannot read \/nonexistent\/ca\.pem \(ENOENT\)$/],
      ['a client certificate without its key', () => mtlsVariables({ TEMPORAL_TLS_CLIENT_KEY_PATH: undefined }),
        /^TEMPORAL_TLS_CLIENT_CERT_PATH is set but there is no client key .*: mTLS needs both$/],
      ['a key that does not belong to the certificate', () => mtlsVariables({ TEMPORAL_TLS_CLIENT_KEY_PATH: certs.strangerKeyPath }),
        /^the client certificate \(TEMPORAL_TLS_CLIENT_CERT_PATH\) and key \(TEMPORAL_TLS_CLIENT_KEY_PATH\) do not belong together$/],
      ['a server CA file that is not a certificate', () => mtlsVariables({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.clientKeyPath }),
        /^TEMPORAL_TLS_SERVER_CA_CERT_PATH: not a PEM certificate$/],
      ['a TEMPORAL_CONFIG_FILE that does not exist', () => ({ TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' }),
        /^TEMPORAL_CONFIG_FILE names \/nonexistent\/temporal\.toml, which does not exist$/],
      ['a TEMPORAL_PROFILE the file does not have', async () => ({ TEMPORAL_CONFIG_FILE: await givenMtlsProfileFile(), TEMPORAL_PROFILE: 'nope' }),
        /^TEMPORAL_PROFILE is "nope" but .*\.toml has no \[profile\.nope\]$/],
      ['a TEMPORAL_PROFILE with no config file at all', () => ({ TEMPORAL_PROFILE: 'prod' }), /^TEMPORAL_PROFILE is "prod" but there is no Temporal config file/],
      ['a config file that is not TOML', async () => ({ TEMPORAL_CONFIG_FILE: await givenConfigFile('[profile.default\naddress = ') }),
        /^Temporal config file .*\.toml is invalid: /],
      ['TEMPORAL_TLS that is not a boolean', () => ({ TEMPORAL_ADDRESS: 'temporal.example:7233', TEMPORAL_TLS: 'yes' }),
        /^TEMPORAL_TLS must be true, false, 1 or 0, got "yes"$/],
      ['TEMPORAL_TLS_DISABLE_HOST_VERIFICATION, which the TypeScript SDK cannot do', () => mtlsVariables({ TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' }),
        /^TEMPORAL_TLS_DISABLE_HOST_VERIFICATION is not supported/],
      ['an API key without an address', () => ({ TEMPORAL_API_KEY: API_KEY }), /^an API key is set but no Temporal address is/],
      ['an API key and an authorization header', () => ({ TEMPORAL_ADDRESS: 'temporal.example:7233', TEMPORAL_API_KEY: API_KEY, TEMPORAL_GRPC_META_AUTHORIZATION: 'Bearer x' }),
        /^both an API key and an "authorization" gRPC metadata header are set/],
    ];
    it.each(cases)('%s', async (_name, env, message) => {
      const variables = await env();
      expect(() => loadTemporalConnectionSettings(variables)).toThrow(message);
    });
  });

  it('describes the connection for logs without the API key, the key or the certificates', () => {
    const settings = settingsFrom(mtlsVariables({ TEMPORAL_API_KEY: API_KEY, TEMPORAL_GRPC_META_X_TENANT: 'secret-tenant' }));
    const description = describeTemporalConnection(settings);
    expect(description).toBe(
      `${mtls.address}, namespace ${namespace}, TLS on (server CA given, client certificate), API key set, gRPC metadata x-tenant, ` +
        `from ${settings.origin}`,
    );
    const privateKey = certs.read(certs.clientKeyPath).toString('utf8');
    for (const shown of [description, JSON.stringify({ temporal: settings }), inspect({ temporal: settings })]) {
      expect(shown).not.toContain(API_KEY);
      expect(shown).not.toContain('secret-tenant');
      expect(shown).not.toContain('PRIVATE KEY');
      expect(shown).not.toContain(privateKey.split('\n')[1]);
    }
    // Vigil's own TEMPORAL_* variables are not connection settings.
    const vigilsOwn = { TEMPORAL_PORT: '7233', TEMPORAL_CLI_PATH: '/usr/bin/temporal', TEMPORAL_CODEC_ENDPOINT: 'http://codec' };
    expect(describeTemporalConnection(settingsFrom({ TEMPORAL_ADDRESS: devServer, ...vigilsOwn }))).toBe(
      `${devServer}, namespace default, TLS off, no API key, from TEMPORAL_ADDRESS`,
    );
  });
});

describe('connecting', () => {
  it('connects plainly to the dev server, as before', async () => {
    const settings = settingsFrom({ TEMPORAL_ADDRESS: devServer, TEMPORAL_NAMESPACE: namespace });
    expect(settings.tls).toBe(false);
    const client = await givenClientConnection(settings);
    await expect(client.workflowService.describeNamespace({ namespace: settings.namespace })).resolves.toMatchObject({
      namespaceInfo: { name: namespace },
    });
    await givenNativeConnection(settings);
  });

  it('is refused by the mTLS endpoint without the TLS settings', async () => {
    const refusedBefore = mtls.refusedHandshakes.length;
    const plain = settingsFrom({ TEMPORAL_ADDRESS: mtls.address });
    await expect(connectClient(plain, { connectTimeout: '3s' })).rejects.toThrow(/^Failed to connect before the deadline$/);
    await expect(connectNative(plain)).rejects.toThrow(/^Failed to call GetSystemInfo: .*transport error/);
    // The endpoint saw plaintext where a TLS handshake belongs.
    expect(mtls.refusedHandshakes.slice(refusedBefore).join('\n')).toContain('wrong version number');
  });

  it('is refused by the mTLS endpoint with TLS but without a client certificate of its CA', async () => {
    const refusedBefore = mtls.refusedHandshakes.length;
    const noCertificate = settingsFrom({ TEMPORAL_ADDRESS: mtls.address, TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCertPath });
    await expect(connectClient(noCertificate, { connectTimeout: '3s' })).rejects.toThrow(/^Failed to connect before the deadline$/);
    // Core's side of the refusal reads either as the server's CertificateRequired alert or as a
    // closed connection (TLS 1.3 races the two); the endpoint's own record says why.
    await expect(connectNative(noCertificate)).rejects.toThrow(/^Failed to call GetSystemInfo: /);
    expect(mtls.refusedHandshakes.slice(refusedBefore).join('\n')).toContain('peer did not return a certificate');
    // A certificate of another CA: the same settings as the test below but for the pair, refused.
    const stranger = settingsFrom(
      mtlsVariables({ TEMPORAL_TLS_CLIENT_CERT_PATH: certs.strangerCertPath, TEMPORAL_TLS_CLIENT_KEY_PATH: certs.strangerKeyPath }),
    );
    await expect(connectNative(stranger)).rejects.toThrow(/^Failed to call GetSystemInfo: /);
  });

  it('refuses an endpoint whose certificate is not signed by a trusted CA', async () => {
    const withoutCa = settingsFrom(mtlsVariables({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: undefined }));
    await expect(connectNative(withoutCa)).rejects.toThrow(/UnknownIssuer/);
  });

  it('connects the client and a worker through the mTLS endpoint with TEMPORAL_* variables, and runs a workflow end to end', async () => {
    const settings = settingsFrom(mtlsVariables());
    const connection = await givenClientConnection(settings);
    await expect(connection.workflowService.getSystemInfo({})).resolves.toMatchObject({ capabilities: expect.anything() });
    const nativeConnection = await givenNativeConnection(settings);

    const taskQueue = `vigil-tls-${randomUUID()}`;
    const worker = await Worker.create({ connection: nativeConnection, namespace: settings.namespace, taskQueue, workflowsPath: GREETING_WORKFLOWS });
    const client = new Client({ connection, namespace: settings.namespace });
    const greeting = await worker.runUntil(
      client.workflow.execute('greet', { taskQueue, workflowId: `greet-${randomUUID()}`, args: ['mTLS'], workflowExecutionTimeout: '1 minute' }),
    );
    expect(greeting).toBe('Hello, mTLS');
  });

  it('connects both through the mTLS endpoint with a TOML profile', async () => {
    const settings = settingsFrom({ TEMPORAL_CONFIG_FILE: await givenMtlsProfileFile(), TEMPORAL_PROFILE: 'mtls', TEMPORAL_NAMESPACE: namespace });
    const connection = await givenClientConnection(settings);
    await expect(connection.workflowService.describeNamespace({ namespace: settings.namespace })).resolves.toMatchObject({
      namespaceInfo: { name: namespace },
    });
    const nativeConnection = await givenNativeConnection(settings);
    await expect(nativeConnection.workflowService.getSystemInfo({})).resolves.toBeDefined();
  });

  it('sends the API key as "authorization: Bearer <key>", with the configured metadata, from both connections', async () => {
    const settings = settingsFrom({
      TEMPORAL_ADDRESS: recording.address,
      TEMPORAL_NAMESPACE: namespace,
      TEMPORAL_API_KEY: API_KEY,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: certs.caCertPath,
      TEMPORAL_GRPC_META_X_VIGIL_PROOF: 'seen',
    });
    const seen = (from: number) => recording.requests.slice(from);

    const beforeClient = recording.requests.length;
    const connection = await givenClientConnection(settings);
    await connection.workflowService.describeNamespace({ namespace });
    const clientCalls = seen(beforeClient);

    const beforeNative = recording.requests.length;
    const nativeConnection = await givenNativeConnection(settings);
    await nativeConnection.workflowService.describeNamespace({ namespace });
    const nativeCalls = seen(beforeNative);

    for (const calls of [clientCalls, nativeCalls]) {
      expect(calls.map((call) => call[':path'])).toContain('/temporal.api.workflowservice.v1.WorkflowService/DescribeNamespace');
      for (const call of calls) {
        expect(call.authorization).toBe(`Bearer ${API_KEY}`);
        expect(call['x-vigil-proof']).toBe('seen');
      }
    }
    // Two different gRPC stacks really spoke: grpc-js for the client, Core (Rust) for the worker.
    expect(clientCalls[0]['user-agent']).not.toBe(nativeCalls[0]['user-agent']);
  });
});
