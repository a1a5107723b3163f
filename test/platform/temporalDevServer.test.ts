import { mkdtemp, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.ts';
import { isPidAlive, isPortAnswering } from '../../src/platform/processes.ts';
import { findFreePorts } from '../../src/platform/freePorts.ts';
import { startTemporalDevServer, type TemporalDevServer } from '../../src/temporal/devServer.ts';
import { loadTemporalDevConfig, parseTemporalDevConfig, type TemporalDevConfig } from '../../src/temporal/devServerConfig.ts';
import { VIGIL_SEARCH_ATTRIBUTES } from '../../src/temporal/searchAttributeKeys.ts';
import { ensureSearchAttributes } from '../../src/temporal/searchAttributes.ts';
import { resolveTemporalCli } from '../../src/temporal/temporalCli.ts';
import { killWithSigkill, runFixture } from './childProcess.ts';

const KEYWORD = 2; // temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD

let binary: string;
const config = loadTemporalDevConfig();
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  const vigil = loadConfig();
  binary = await resolveTemporalCli({ explicitPath: vigil.temporalCliPath, cacheDir: vigil.cacheDir, log: () => {} });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function givenDataDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-temporal-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function givenServer(
  opts: { dataDir?: string | null; config?: TemporalDevConfig; headless?: boolean; port?: number } = {},
): Promise<{ server: TemporalDevServer; lines: string[] }> {
  const lines: string[] = [];
  const [port, uiPort] = await findFreePorts(2);
  const server = await startTemporalDevServer({
    binary,
    config: opts.config ?? config,
    dataDir: opts.dataDir ?? null,
    port: opts.port ?? port,
    uiPort,
    headless: opts.headless ?? true,
    log: (line) => lines.push(line),
  });
  cleanups.push(() => server.stop());
  return { server, lines };
}

async function connect(address: string): Promise<Connection> {
  const connection = await Connection.connect({ address });
  cleanups.push(() => connection.close());
  return connection;
}

async function customSearchAttributes(connection: Connection, namespace: string) {
  return (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {};
}

/** A workflow nobody executes: it stays Running, which is what persistence must keep. */
async function givenWaitingWorkflow(address: string, namespace: string, workflowId: string): Promise<void> {
  const client = new Client({ connection: await connect(address), namespace });
  await client.workflow.start('vigilPersistenceProbe', { taskQueue: 'nobody-polls-this', workflowId });
}

async function workflowStatus(address: string, namespace: string, workflowId: string): Promise<string> {
  const client = new Client({ connection: await connect(address), namespace });
  return (await client.workflow.getHandle(workflowId).describe()).status.name;
}

describe('temporal-dev.yml', () => {
  it('declares exactly the search attributes that the code defines, all Keyword', () => {
    expect(config.searchAttributes).toEqual(
      Object.fromEntries(VIGIL_SEARCH_ATTRIBUTES.map((key) => [key.name, 'Keyword'])),
    );
    expect(VIGIL_SEARCH_ATTRIBUTES.every((key) => key.type === SearchAttributeType.KEYWORD)).toBe(true);
  });

  it('rejects unknown keys and bad values with the path of each problem', () => {
    expect(() => parseTemporalDevConfig('namespace: default\nport: 70000\nportt: 1\n')).toThrow(/Unrecognized key: "portt"[\s\S]*at port/);
  });
});

describe('Temporal dev server', () => {
  it('starts in memory on free ports, serving the namespace, Vigil search attributes and the Web UI', async () => {
    const { server, lines } = await givenServer({ headless: false });
    expect(server.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(server.namespace).toBe('default');
    expect(server.reused).toBe(false);
    expect(server.uiUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect((await fetch(server.uiUrl!)).status).toBe(200);

    const connection = await connect(server.address);
    const described = await connection.workflowService.describeNamespace({ namespace: server.namespace });
    expect(described.namespaceInfo?.name).toBe('default');
    const attributes = await customSearchAttributes(connection, server.namespace);
    for (const key of VIGIL_SEARCH_ATTRIBUTES) expect(attributes[key.name]).toBe(KEYWORD);
    expect(lines.some((line) => line.startsWith(`Temporal dev server started on ${server.address}`))).toBe(true);

    const port = Number(server.address.split(':')[1]);
    await server.stop();
    await server.stop(); // idempotent
    expect(isPidAlive(server.pid)).toBe(false);
    expect(await isPortAnswering(port)).toBe(false);
  });

  it('keeps workflows and registered search attributes across a restart when it has a database file', async () => {
    const dataDir = await givenDataDir();
    const [port] = await findFreePorts(1);
    const cold = await givenServer({ dataDir, port });
    expect(await readFile(path.join(dataDir, 'temporal', 'server.pid'), 'utf8')).toBe(`${cold.server.pid}\n`);
    await givenWaitingWorkflow(cold.server.address, cold.server.namespace, 'survives-restart');
    const extra = defineSearchAttributeKey('VigilPersistenceProbe', SearchAttributeType.KEYWORD);
    await ensureSearchAttributes(await connect(cold.server.address), cold.server.namespace, [extra]);
    await cold.server.stop();

    const warm = await givenServer({ dataDir, port });
    expect(warm.server.reused).toBe(false);
    expect(warm.server.pid).not.toBe(cold.server.pid);
    expect(await workflowStatus(warm.server.address, warm.server.namespace, 'survives-restart')).toBe('RUNNING');
    const attributes = await customSearchAttributes(await connect(warm.server.address), warm.server.namespace);
    expect(attributes[extra.name]).toBe(KEYWORD);
  });

  it('reuses the dev server left running when its owner was killed with SIGKILL', async () => {
    const dataDir = await givenDataDir();
    const [port, uiPort] = await findFreePorts(2);
    const owner = runFixture<{ address: string; pid: number }>('startTemporalChild.ts', [binary, dataDir, String(port), String(uiPort)]);
    const orphan = await owner.ready;
    await givenWaitingWorkflow(orphan.address, 'default', 'started-before-the-crash');
    await killWithSigkill(owner);
    expect(isPidAlive(orphan.pid)).toBe(true);

    const server = await startTemporalDevServer({ binary, config, dataDir, port, uiPort, log: () => {} });
    cleanups.push(() => server.stop());
    expect(server.reused).toBe(true);
    expect(server.pid).toBe(orphan.pid);
    expect(await workflowStatus(server.address, server.namespace, 'started-before-the-crash')).toBe('RUNNING');

    await server.stop();
    expect(isPidAlive(orphan.pid)).toBe(false);
  });

  it('replaces an orphan whose settings differ, keeping its data', async () => {
    const dataDir = await givenDataDir();
    const [port, uiPort] = await findFreePorts(2);
    const owner = runFixture<{ address: string; pid: number }>('startTemporalChild.ts', [binary, dataDir, String(port), String(uiPort)]);
    const orphan = await owner.ready;
    await givenWaitingWorkflow(orphan.address, 'default', 'kept-by-the-replacement');
    await killWithSigkill(owner);

    const { server, lines } = await givenServer({ dataDir, headless: true }); // another port, no UI
    expect(server.reused).toBe(false);
    expect(isPidAlive(orphan.pid)).toBe(false);
    expect(lines.some((line) => line.includes(`previous Vigil (pid ${orphan.pid}): its settings differ`))).toBe(true);
    expect(await workflowStatus(server.address, server.namespace, 'kept-by-the-replacement')).toBe('RUNNING');
  });

  it('refuses a dev server whose owning Vigil process is still alive', async () => {
    const dataDir = await givenDataDir();
    const [port, uiPort] = await findFreePorts(2);
    const owner = runFixture<{ pid: number }>('startTemporalChild.ts', [binary, dataDir, String(port), String(uiPort)]);
    const running = await owner.ready;
    cleanups.push(async () => {
      owner.child.stdin.write('stop\n');
      await owner.exited;
    });

    await expect(startTemporalDevServer({ binary, config, dataDir, port, uiPort, log: () => {} })).rejects.toThrow(
      new RegExp(`\\(pid ${running.pid}\\) is in use by another Vigil process \\(pid ${owner.child.pid}\\)`),
    );
    expect(isPidAlive(running.pid)).toBe(true);
  });

  it('fails with the tail of the server output when the server cannot start', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => blocker.once('listening', resolve));
    cleanups.push(() => new Promise((resolve) => blocker.close(() => resolve())));
    const httpPort = (blocker.address() as net.AddressInfo).port;

    await expect(givenServer({ config: { ...config, httpPort } })).rejects.toThrow(
      new RegExp(`did not start: it stopped \\(exit code 1\\)[\\s\\S]*can't set frontend HTTP port ${httpPort}`),
    );
  });

  it('refuses a frontend port that another program holds', async () => {
    const { server } = await givenServer();
    const port = Number(server.address.split(':')[1]);
    await expect(givenServer({ port })).rejects.toThrow(`frontend port ${port} on 127.0.0.1 is used by another program`);
  });
});

describe('ensureSearchAttributes (external Temporal)', () => {
  it('registers the missing Vigil search attributes once, and rejects one with another type', async () => {
    const { server } = await givenServer({ config: { ...config, searchAttributes: {} } });
    const connection = await connect(server.address);
    expect(Object.keys(await customSearchAttributes(connection, server.namespace)).filter((name) => name.startsWith('Vigil'))).toEqual([]);

    const first = await ensureSearchAttributes(connection, server.namespace);
    expect(first.added.sort()).toEqual(VIGIL_SEARCH_ATTRIBUTES.map((key) => key.name).sort());
    const second = await ensureSearchAttributes(connection, server.namespace);
    expect(second).toEqual({ added: [], existing: VIGIL_SEARCH_ATTRIBUTES.map((key) => key.name) });

    const clash = defineSearchAttributeKey('VigilRunStatus', SearchAttributeType.INT);
    await expect(ensureSearchAttributes(connection, server.namespace, [clash])).rejects.toThrow(
      /VigilRunStatus exists in namespace "default" with another type/,
    );
  });
});
