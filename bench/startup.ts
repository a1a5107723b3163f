/**
 * `npm run bench:startup`: what the production build saves at start. `npm start` (tsx compiles
 * src/ as it loads it, the worker bundles the workflows with webpack) is the baseline;
 * `npm run start:prod` (plain node on dist/, the prebuilt workflow bundle) is measured in the same
 * invocation, against one external PostgreSQL and Temporal dev server (bench/servers.ts), so only
 * Vigil's own start is measured: no initdb, no server start, no migration (already applied).
 *
 * Per start:
 * - start-up: spawn of `npm run <script>` → the first `GET /api/health` answered 200 (polled every 20 ms);
 * - memory, 2 s after ready, from /proc/<pid>/status: VmRSS and VmHWM (peak) of the node process
 *   running Vigil, and VmRSS of that process plus all its descendants (tsx's esbuild service, if
 *   any). npm's own wrapper process is left out: the same in both.
 * One warm-up start of each first (tsx's transform cache, the page cache), then `--reps` starts of
 * each, alternating, so both see the same machine. dist/ is built first with `npm run build`.
 *
 * Usage: npm run bench:startup [-- --reps 5]
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { startBenchServers } from './servers.ts';
import { generateAdminToken } from '../src/auth/tokens.ts';
import { findFreePorts } from '../src/platform/freePorts.ts';
import { sleep } from '../src/platform/processes.ts';

const { values } = parseArgs({ options: { reps: { type: 'string', default: '5' } } });
const REPS = Number(values.reps);
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SETTLE_MS = 2_000;
const VARIANTS = [
  { script: 'start', label: '`npm start` (tsx, bundles at start)' },
  { script: 'start:prod', label: '`npm run start:prod` (dist/, prebuilt bundle)' },
] as const;
type Script = (typeof VARIANTS)[number]['script'];

interface StartSample {
  readyMs: number;
  /** Vigil's node process. */
  rssMiB: number;
  peakRssMiB: number;
  /** Vigil's node process and its descendants. */
  treeRssMiB: number;
  descendants: number;
}

const say = (line: string) => process.stdout.write(`${line}\n`);
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function statusKiB(pid: number, field: 'VmRSS' | 'VmHWM'): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
}

/** Every process below `pid`, from the parent ids in /proc/<pid>/stat. */
async function descendantsOf(pid: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    const child = Number(entry);
    if (!Number.isInteger(child)) continue;
    try {
      const stat = await readFile(`/proc/${child}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(parent, [...(children.get(parent) ?? []), child]);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length > 0) {
    const next = queue.shift()!;
    found.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return found;
}

async function stopGroup(child: ChildProcess, vigilPid: number | null): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  // Vigil stops on SIGINT as under a terminal's Ctrl-C; npm then exits with it.
  if (vigilPid) process.kill(vigilPid, 'SIGINT');
  if (!(await Promise.race([exited.then(() => true), sleep(30_000).then(() => false)]))) {
    process.kill(-child.pid!, 'SIGKILL');
    await exited;
  }
}

async function measureStart(script: Script, servers: Awaited<ReturnType<typeof startBenchServers>>, taskQueue: string): Promise<StartSample> {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-bench-startup-'));
  const [port] = await findFreePorts(1);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: servers.databaseUrl,
    TEMPORAL_ADDRESS: servers.temporal.address,
    TEMPORAL_NAMESPACE: servers.temporal.namespace,
    VIGIL_TASK_QUEUE: taskQueue,
    VIGIL_DATA_DIR: dataDir,
    VIGIL_ADMIN_TOKEN: generateAdminToken(),
    HOST: '127.0.0.1',
    PORT: String(port),
    VIGIL_LOG_LEVEL: 'warn',
  };
  delete env.NODE_OPTIONS;
  const started = performance.now();
  const child = spawn('npm', ['run', '--silent', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  let vigilPid: number | null = null;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`npm run ${script} exited with ${child.exitCode} before it was ready:\n${output}`);
      if (performance.now() - started > 180_000) throw new Error(`npm run ${script} was not ready after 180 s:\n${output}`);
      const status = await fetch(`http://127.0.0.1:${port}/api/health`).then((response) => response.status, () => 0);
      if (status === 200) break;
      await sleep(20);
    }
    const readyMs = performance.now() - started;
    // npm runs `sh -c "exec node …"`: its one child is the node process running Vigil.
    vigilPid = (await descendantsOf(child.pid!))[0];
    await sleep(SETTLE_MS);
    const descendants = await descendantsOf(vigilPid);
    let treeKiB = await statusKiB(vigilPid, 'VmRSS');
    const rssKiB = treeKiB;
    for (const pid of descendants) treeKiB += await statusKiB(pid, 'VmRSS').catch(() => 0);
    return { readyMs, rssMiB: rssKiB / 1024, peakRssMiB: (await statusKiB(vigilPid, 'VmHWM')) / 1024, treeRssMiB: treeKiB / 1024, descendants: descendants.length };
  } finally {
    await stopGroup(child, vigilPid);
    await rm(dataDir, { recursive: true, force: true });
  }
}

say(`bench:startup — ${REPS} start(s) of each after one warm-up, ${os.cpus().length} CPUs, Node ${process.version}`);
const built = performance.now();
const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, encoding: 'utf8' });
if (build.status !== 0) throw new Error(`npm run build failed:\n${build.stdout}${build.stderr}`);
say(`npm run build: ${((performance.now() - built) / 1000).toFixed(1)} s`);

const servers = await startBenchServers('vigil-bench-startup', () => undefined);
const samples: Record<Script, StartSample[]> = { start: [], 'start:prod': [] };
try {
  const taskQueue = `vigil-bench-startup-${randomUUID()}`;
  for (const { script } of VARIANTS) await measureStart(script, servers, taskQueue);
  for (let rep = 0; rep < REPS; rep++) {
    for (const { script } of rep % 2 ? [...VARIANTS].reverse() : VARIANTS) {
      const sample = await measureStart(script, servers, taskQueue);
      samples[script].push(sample);
      say(`  ${script.padEnd(10)} ready ${sample.readyMs.toFixed(0).padStart(5)} ms  RSS ${sample.rssMiB.toFixed(0)} MiB (peak ${sample.peakRssMiB.toFixed(0)}, with ${sample.descendants} descendant(s) ${sample.treeRssMiB.toFixed(0)})`);
    }
  }
} finally {
  await servers.stop();
}

const figures: Array<[string, (sample: StartSample) => number, string]> = [
  ['spawn → /api/health 200', (sample) => sample.readyMs, 'ms'],
  ['RSS of Vigil’s node process, 2 s after ready', (sample) => sample.rssMiB, 'MiB'],
  ['peak RSS (VmHWM) of Vigil’s node process', (sample) => sample.peakRssMiB, 'MiB'],
  ['RSS of Vigil’s process and its descendants', (sample) => sample.treeRssMiB, 'MiB'],
];
say('');
say(`| figure (median, min–max of ${REPS}) | ${VARIANTS[0].label} | ${VARIANTS[1].label} | × baseline |`);
say('|---|---|---|---|');
for (const [name, of, unit] of figures) {
  const [base, prod] = VARIANTS.map(({ script }) => samples[script].map(of));
  const cell = (values: number[]) => `${median(values).toFixed(0)} ${unit} (${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)})`;
  say(`| ${name} | ${cell(base)} | ${cell(prod)} | ${(median(prod) / median(base)).toFixed(2)}× |`);
}
