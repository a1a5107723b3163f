/**
 * `npm run bench`: runs of a no-op `process` agent through Vigil's API, against a bare Temporal
 * workflow with one no-op activity on the same server (the baseline), in two regimes:
 * - latency: one run in flight at a time (what one run costs, no queueing);
 * - throughput: many in flight (what the machine sustains).
 * For each: runs/s and p50/p99 from the API call to the adapter process starting and to the run
 * being `succeeded`, as ratios to the baseline, and where Vigil's time goes. Vigil is measured
 * three ways in the same invocation: API and worker in this process (`startVigil`), in one OS
 * process of its own (VIGIL_ROLE=all), and as an `api` process plus a `worker` process.
 *
 *   npm run bench -- --runs 200 --concurrency 20 --latency-runs 50
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { startBenchServers } from './servers.ts';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { benchApi, startBenchVigil, startVigilProcesses } from './benchVigil.ts';
import { createPrismaClient, type PrismaClient } from '../src/store/db.ts';
import { countStatements, withApplicationName } from './statementCounter.ts';
import { baselineWorkflow } from './baseline.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const PHASES = [
  { name: 'latency (1 in flight)', runs: arg('latency-runs', 50), concurrency: 1 },
  { name: `throughput (${arg('concurrency', 20)} in flight)`, runs: arg('runs', 200), concurrency: arg('concurrency', 20) },
];
const AGENTS = Math.max(1, Math.ceil(Math.max(...PHASES.map((p) => p.concurrency)) / 10));
const TERMINAL = ['succeeded', 'failed', 'cancelled', 'timed_out'];
const log = (line: string) => process.stdout.write(`[bench] ${line}\n`);
const ms = (v: number) => `${v.toFixed(0)} ms`;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function pool<T>(count: number, concurrency: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

interface Sample {
  calledAt: number;
  startedAt: number;
  doneAt: number;
}

interface Figures {
  runsPerSec: number;
  startP50: number;
  startP99: number;
  doneP50: number;
  doneP99: number;
}

function figures(samples: Sample[]): Figures {
  const first = Math.min(...samples.map((s) => s.calledAt));
  const last = Math.max(...samples.map((s) => s.doneAt));
  const starts = samples.map((s) => s.startedAt - s.calledAt);
  const dones = samples.map((s) => s.doneAt - s.calledAt);
  return {
    runsPerSec: samples.length / ((last - first) / 1000),
    startP50: percentile(starts, 50),
    startP99: percentile(starts, 99),
    doneP50: percentile(dones, 50),
    doneP99: percentile(dones, 99),
  };
}

/** The baseline: a worker for `baselineWorkflow`, its activity noting when it started. */
async function startBaseline(address: string, namespace: string) {
  const startedAt = new Map<number, number>();
  const taskQueue = `bench-baseline-${randomUUID()}`;
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address }),
    namespace,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('./baseline.ts', import.meta.url)),
    activities: {
      async noop(calledAtMs: number) {
        startedAt.set(calledAtMs, Date.now());
        return calledAtMs;
      },
    },
    maxConcurrentActivityTaskExecutions: 50,
  });
  const running = worker.run();
  const client = new Client({ connection: await Connection.connect({ address }), namespace });
  const execute = (calledAt: number) => client.workflow.execute(baselineWorkflow, { taskQueue, workflowId: `baseline-${randomUUID()}`, args: [calledAt] });
  await execute(0); // warm-up
  return {
    async measure(runs: number, concurrency: number): Promise<Figures> {
      const samples = await pool(runs, concurrency, async (i) => {
        const calledAt = Date.now() + i / 1e6; // a unique key per call
        await execute(calledAt);
        return { calledAt, startedAt: startedAt.get(calledAt)!, doneAt: Date.now() };
      });
      return figures(samples);
    },
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}

/** Vigil: a company with no-op `process` agents, woken through the API. */
async function prepareVigil(vigil: { apiUrl: string }, adminToken: string, prisma: PrismaClient, issuePrefix: string) {
  const call = benchApi(vigil, adminToken);
  const company = await call('POST', '/api/companies', { name: `Bench ${issuePrefix}`, issuePrefix });
  const agents: Array<{ id: string }> = await Promise.all(
    Array.from({ length: AGENTS }, (_, i) =>
      call('POST', `/api/companies/${company.id}/agents`, {
        name: `noop-${i}`,
        adapterType: 'process',
        adapterConfig: { command: '/bin/sh', args: ['-c', 'echo \'{"type":"result","summary":"ok"}\''] },
        runtimeConfig: { heartbeat: { maxConcurrentRuns: 10 } },
      }),
    ),
  );

  // One poller for every run in flight (one query per tick), so measuring does not load the DB.
  type RunRow = Awaited<ReturnType<typeof prisma.heartbeatRun.findMany>>[number];
  const waiting = new Map<string, (row: RunRow) => void>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      if (waiting.size > 0) {
        const rows = await prisma.heartbeatRun.findMany({ where: { id: { in: [...waiting.keys()] }, status: { in: TERMINAL as never } } });
        for (const row of rows) {
          waiting.get(row.id)?.(row);
          waiting.delete(row.id);
        }
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  let counter = 0;
  const runOnce = async (agentIndex: number) => {
    const calledAt = Date.now();
    const run = await call('POST', `/api/agents/${agents[agentIndex % AGENTS].id}/wakeup`, { payload: { taskId: `bench-${counter++}` } });
    const apiDoneAt = Date.now();
    const row = await new Promise<RunRow>((resolve) => waiting.set(run.id, resolve));
    if (row.status !== 'succeeded') throw new Error(`run ${run.id} ended ${row.status}: ${row.error}`);
    return { calledAt, apiDoneAt, row };
  };
  await pool(AGENTS, AGENTS, runOnce); // warm-up
  return {
    async measure(runs: number, concurrency: number) {
      const calls = await pool(runs, concurrency, runOnce);
      const p50 = (values: number[]) => percentile(values, 50);
      return {
        figures: figures(calls.map((c) => ({ calledAt: c.calledAt, startedAt: c.row.processStartedAt!.getTime(), doneAt: c.row.finishedAt!.getTime() }))),
        breakdown: {
          'API call (enqueue + workflow start)': p50(calls.map((c) => c.apiDoneAt - c.calledAt)),
          'run created → claimed (workflow task + claim)': p50(calls.map((c) => c.row.startedAt!.getTime() - c.row.createdAt.getTime())),
          'claimed → process spawned (activity dispatch + spawn)': p50(calls.map((c) => c.row.processStartedAt!.getTime() - c.row.startedAt!.getTime())),
          'spawned → succeeded (process, output, finalize)': p50(calls.map((c) => c.row.finishedAt!.getTime() - c.row.processStartedAt!.getTime())),
        },
      };
    },
    async stop() {
      polling = false;
      await poller;
    },
  };
}

type Measured = Awaited<ReturnType<Awaited<ReturnType<typeof prepareVigil>>['measure']>>;

const VARIANTS = ['in this process', 'one process (all)', 'api + worker processes'] as const;
type Variant = (typeof VARIANTS)[number];

function report(name: string, measured: Map<Variant, Measured>, base: Figures) {
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  const variants = [...measured.keys()];
  console.log(`\n### ${name}\n\n| figure | ${variants.map((v) => `Vigil, ${v}`).join(' | ')} | baseline | ${variants.map((v) => `${v} / baseline`).join(' | ')} |`);
  console.log(`|---|${variants.map(() => '---|').join('')}---|${variants.map(() => '---|').join('')}`);
  const row = (label: string, value: (f: Figures) => number, format: (v: number) => string) =>
    console.log(`| ${label} | ${variants.map((v) => format(value(measured.get(v)!.figures))).join(' | ')} | ${format(value(base))} | ${variants.map((v) => ratio(value(measured.get(v)!.figures), value(base))).join(' | ')} |`);
  row('runs/s', (f) => f.runsPerSec, (v) => v.toFixed(1));
  for (const [label, key] of [['start p50', 'startP50'], ['start p99', 'startP99'], ['done p50', 'doneP50'], ['done p99', 'doneP99']] as const) row(label, (f) => f[key], ms);
  for (const variant of variants) {
    console.log(`\nWhere a Vigil run spends its time (p50), ${variant}:`);
    for (const [label, value] of Object.entries(measured.get(variant)!.breakdown)) console.log(`- ${label}: ${ms(value)}`);
  }
  const inProcess = measured.get('in this process')!.figures;
  const met = inProcess.runsPerSec / base.runsPerSec >= 0.8 && inProcess.startP99 / base.startP99 <= 1.5;
  console.log(`\nTargets, in this process (runs/s ≥ 0.8× baseline, start p99 ≤ 1.5× baseline): ${met ? 'met' : 'NOT met'}`);
}

async function main() {
  const servers = await startBenchServers('vigil-bench', log);
  const { temporal } = servers;
  const prisma = createPrismaClient(servers.databaseUrl, 4);
  // The in-process Vigil's connections carry their own application_name, so its statements can be counted.
  const statements = countStatements('vigil-bench');
  const inProcess = await startBenchVigil(servers, { name: 'bench-vigil', databaseUrl: withApplicationName(servers.databaseUrl, 'vigil-bench') });
  const combined = await startVigilProcesses(servers, 'all');
  const split = await startVigilProcesses(servers, 'split');
  const benches = new Map<Variant, Awaited<ReturnType<typeof prepareVigil>>>([
    ['in this process', await prepareVigil(inProcess.vigil, inProcess.adminToken, inProcess.vigil.prisma, 'BENCH')],
    ['one process (all)', await prepareVigil(combined, combined.adminToken, prisma, 'ALL')],
    ['api + worker processes', await prepareVigil(split, split.adminToken, prisma, 'SPLIT')],
  ]);
  const baseline = await startBaseline(temporal.address, temporal.namespace);
  try {
    log(`${os.cpus().length} cores; ${AGENTS} no-op agents per Vigil (maxConcurrentRuns 10 each)`);
    const perRun = new Map<string, number>();
    for (const phase of PHASES) {
      const measured = new Map<Variant, Measured>();
      for (const [variant, bench] of benches) {
        log(`${phase.name}: ${phase.runs} runs, Vigil ${variant}`);
        statements.reset();
        measured.set(variant, await bench.measure(phase.runs, phase.concurrency));
        if (variant === 'in this process') perRun.set(phase.name, statements.count / phase.runs);
      }
      log(`${phase.name}: ${phase.runs} baseline workflows`);
      const base = await baseline.measure(phase.runs, phase.concurrency);
      report(phase.name, measured, base);
      console.log(`\nSQL statements per run, Vigil in this process (enqueue → claim → execute → finalize, BEGIN/COMMIT included, with the live-event hub's reads): ${perRun.get(phase.name)!.toFixed(1)} (issue 12's budget: ≤ 20)`);
    }
  } finally {
    for (const bench of benches.values()) await bench.stop();
    await baseline.stop();
    await split.stop();
    await combined.stop();
    await inProcess.vigil.stop();
    await prisma.$disconnect();
    await servers.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
