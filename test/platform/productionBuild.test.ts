/**
 * `npm run build` + `npm run start:prod`'s contract: the build compiles src/ alone into JavaScript
 * that plain `node` runs (every relative import rewritten to an existing `.js` file) and writes the
 * workflow bundle beside it; the compiled Vigil, started with no TypeScript tooling and from
 * another working directory, migrates an empty database, loads that prebuilt bundle instead of
 * bundling, and a shell-script agent's run goes through to `succeeded` over the REST API.
 *
 * The build goes to a temporary app folder laid out as a deployment would be (dist/ beside links
 * to the checkout's package.json, node_modules, prisma/ and temporal-dev.yml), never into the tree.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import { generateAdminToken } from '../../src/auth/tokens.ts';
import { findFreePorts } from '../../src/platform/freePorts.ts';
import { heartbeatScheduleId } from '../../src/domain/heartbeatSchedule.ts';
import { ApiClient } from '../support/apiClient.ts';
import { agentScript, eventually } from '../support/fixtures.ts';
import { createScratchDatabase } from '../support/scratchDatabase.ts';
import { SUITE_MARK_VARIABLE } from '../support/leftoverProcesses.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** What a deployment ships beside dist/ (src/platform/appFiles.ts). */
const APP_FILES = ['package.json', 'node_modules', 'prisma', 'temporal-dev.yml'];

let tmp = '';
let outDir = '';
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<unknown>> = [];

const running = (child: ChildProcess) => child.exitCode === null && child.signalCode === null;

/**
 * Environment without NODE_OPTIONS (nor anything else vitest or tsx set), plus the suite's leak
 * mark and the run's own agent supervisor directory (never the machine's).
 */
function plainEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...extra };
  for (const name of [SUITE_MARK_VARIABLE, 'VIGIL_SUPERVISOR_DIR']) {
    if (process.env[name]) env[name] = process.env[name];
  }
  return env;
}

/** Runs `npm run build` in its own process group, so a timed-out build is ended whole. */
async function npmRunBuild(into: string): Promise<string> {
  const child = spawn('npm', ['run', 'build'], { cwd: ROOT, env: plainEnv({ VIGIL_BUILD_OUT_DIR: into }), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.push(child);
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const [code] = await once(child, 'exit');
  if (code !== 0) throw new Error(`npm run build failed (${code}):\n${output}`);
  return output;
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)));
}

/** Relative specifiers of static imports/exports and dynamic imports in emitted JavaScript. */
function relativeImports(code: string): string[] {
  const pattern = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s*)['"](\.{1,2}\/[^'"]+)['"]/gm;
  return [...code.matchAll(pattern)].map((match) => match[1]);
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'vigil-prod-build-'));
  const app = path.join(tmp, 'app');
  await mkdir(app);
  for (const file of APP_FILES) await symlink(path.join(ROOT, file), path.join(app, file));
  outDir = path.join(app, 'dist');
  await npmRunBuild(outDir);
}, 300_000);

afterAll(async () => {
  for (const child of children) {
    // Vigil stops on SIGINT like `npm start`; whatever is left of its process group (a build's
    // tsc, a Vigil that did not stop in time) is killed by the group's id.
    if (running(child)) {
      child.kill('SIGINT');
      await Promise.race([once(child, 'exit'), new Promise((resolve) => setTimeout(resolve, 20_000))]);
    }
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // the group is gone
    }
  }
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  if (tmp) await rm(tmp, { recursive: true, force: true });
}, 120_000);

describe('npm run build', () => {
  it('compiles src/ alone into JavaScript whose relative imports all name .js files, with the workflow bundle beside it', async () => {
    const files = await filesUnder(outDir);
    expect(files).toEqual(expect.arrayContaining(['main.js', 'workflow-bundle.js', 'temporal/worker.js', 'generated/prisma/client.js']));
    expect(files.filter((file) => file.endsWith('.ts'))).toEqual([]);

    const scripts = files.filter((file) => file.endsWith('.js') && file !== 'workflow-bundle.js');
    // Only src/ (generated Prisma client included): every module has its TypeScript source there.
    expect(scripts.filter((file) => !existsSync(path.join(ROOT, 'src', file.replace(/\.js$/, '.ts'))))).toEqual([]);
    const broken: string[] = [];
    for (const file of scripts) {
      for (const specifier of relativeImports(await readFile(path.join(outDir, file), 'utf8'))) {
        if (!specifier.endsWith('.js') || !existsSync(path.resolve(outDir, path.dirname(file), specifier))) broken.push(`${file}: ${specifier}`);
      }
    }
    expect(broken).toEqual([]);
    expect(relativeImports(await readFile(path.join(outDir, 'main.js'), 'utf8'))).toContain('./vigil.js');
  });
});

describe('npm run start:prod', () => {
  it("runs the compiled tree with plain node, no TypeScript loader and the prebuilt workflow bundle: a shell-script agent's run succeeds", async () => {
    const database = await createScratchDatabase(inject('databaseUrl'), 'vigil_prod');
    cleanups.push(() => database.drop());
    const runDir = await mkdtemp(path.join(tmp, 'run-'));
    const taskQueue = `vigil-test-prod-${randomUUID()}`;
    // Its recovery sweeper and timer schedules get ids of their own on the shared Temporal.
    const instanceId = `prod-build-${randomUUID().slice(0, 8)}`;
    const adminToken = generateAdminToken();
    const [port] = await findFreePorts(1);
    cleanups.push(() => endTemporalLeftovers(taskQueue));

    const mainJs = path.join(outDir, 'main.js');
    // Started from another working directory: every file Vigil reads is found from its own modules.
    const child = spawn(process.execPath, [mainJs], {
      cwd: runDir,
      env: plainEnv({
        DATABASE_URL: database.url,
        TEMPORAL_ADDRESS: inject('temporalAddress'),
        TEMPORAL_NAMESPACE: inject('temporalNamespace'),
        VIGIL_TASK_QUEUE: taskQueue,
        VIGIL_INSTANCE_ID: instanceId,
        VIGIL_DATA_DIR: path.join(runDir, 'data'),
        VIGIL_ADMIN_TOKEN: adminToken,
        HOST: '127.0.0.1',
        PORT: String(port),
        VIGIL_LOG_LEVEL: 'info',
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    children.push(child);
    // `[vigil]` lines on stdout, JSON log lines on stderr.
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk) => (stdout += chunk));
    child.stderr!.on('data', (chunk) => (stderr += chunk));
    const output = () => `${stdout}\n${stderr}`;
    await eventually(async () => stdout.includes('[vigil] Ready.') || !running(child), 120_000, 'the compiled Vigil to be ready');
    expect(stdout, output()).toContain('[vigil] Ready.');

    // Plain node: no loader flag, no NODE_OPTIONS, and nothing in the tree a loader could compile.
    const argv = (await readFile(`/proc/${child.pid}/cmdline`, 'utf8')).split('\0').filter(Boolean);
    expect(argv).toEqual([process.execPath, mainJs]);
    expect((await readFile(`/proc/${child.pid}/environ`, 'utf8')).split('\0').filter((entry) => entry.startsWith('NODE_OPTIONS='))).toEqual([]);

    // The empty database got the app's migrations; the worker loaded dist/'s bundle, bundled nothing.
    expect(stdout).toMatch(/\[vigil\] migrations: applied \d+_/);
    const bundleLines = stderr.split('\n').filter((line) => line.includes('workflow bundle'));
    expect(bundleLines, stderr).toHaveLength(1);
    expect(JSON.parse(bundleLines[0])).toMatchObject({ msg: 'workflow bundle prebuilt, not built at start', codePath: path.join(outDir, 'workflow-bundle.js') });

    const apiUrl = /API:\s+(\S+)\/api/.exec(stdout)![1];
    expect(apiUrl).toBe(`http://127.0.0.1:${port}`);
    const admin = new ApiClient(apiUrl, adminToken);
    const health = await admin.get('/api/health');
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok' });

    const company = (await admin.post('/api/companies', { name: 'Prod build', issuePrefix: 'PROD' })).body;
    const agent = (await admin.post(`/api/companies/${company.id}/agents`, { name: 'script', adapterConfig: { command: agentScript('succeed.sh') } })).body;
    cleanups.push(() => deleteSchedule(heartbeatScheduleId(`${instanceId}-`, agent.id)));
    const run = (await admin.post(`/api/agents/${agent.id}/wakeup`, {})).body;
    const finished = await eventually(async () => {
      const current = (await admin.get(`/api/heartbeat-runs/${run.id}`)).body;
      return ['succeeded', 'failed', 'timed_out', 'cancelled'].includes(current.status) && current;
    }, 60_000, 'the run to finish');
    expect(finished.status, output()).toBe('succeeded');

    // SIGINT: the compiled Vigil stops like `npm start` does, exit status 0.
    child.kill('SIGINT');
    const [code] = await once(child, 'exit');
    expect(code, output()).toBe(0);
  }, 240_000);
});

async function withTemporalClient<T>(use: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: inject('temporalAddress') });
  try {
    return await use(new Client({ connection, namespace: inject('temporalNamespace') }));
  } finally {
    await connection.close();
  }
}

/** The recovery sweeper `npm start` leaves running on its task queue (durable by design), ended here. */
function endTemporalLeftovers(taskQueue: string) {
  return withTemporalClient(async (client) => {
    for await (const workflow of client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND ExecutionStatus = 'Running'` })) {
      await client.workflow.getHandle(workflow.workflowId, workflow.runId).terminate('productionBuild.test.ts cleanup');
    }
  });
}

function deleteSchedule(scheduleId: string) {
  return withTemporalClient(async (client) => {
    try {
      await client.schedule.getHandle(scheduleId).delete();
    } catch (error) {
      if (!(error instanceof ScheduleNotFoundError)) throw error;
    }
  });
}
