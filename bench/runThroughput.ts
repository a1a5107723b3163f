/**
 * `npm run bench`: runs of a no-op `process` agent through Vigil's API, against a bare Temporal
 * workflow with one no-op activity on the same server (the baseline), in two regimes:
 * - latency: one run in flight at a time (what one run costs, no queueing);
 * - throughput: many in flight (what the machine sustains).
 * For each: runs/s and p50/p99 from the API call to the adapter process starting and to the run
 * being `succeeded`, as ratios to the baseline, and where Vigil's time goes.
 *
 *   npm run bench -- --runs 200 --concurrency 20 --latency-runs 50
 */
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { startBenchServers } from './servers.ts';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { benchApi, startBenchVigil } from './benchVigil.ts';
import type { RunningVigil } from '../src/vigil.ts';
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
async function prepareVigil(vigil: RunningVigil, adminToken: string) {
  const call = benchApi(vigil, adminToken);
  const company = await call('POST', '/api/companies', { name: 'Bench', issuePrefix: 'BENCH' });
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
  type RunRow = Awaited<ReturnType<typeof vigil.prisma.heartbeatRun.findMany>>[number];
  const waiting = new Map<string, (row: RunRow) => void>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      if (waiting.size > 0) {
        const rows = await vigil.prisma.heartbeatRun.findMany({ where: { id: { in: [...waiting.keys()] }, status: { in: TERMINAL as never } } });
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

function report(name: string, vigil: Figures, base: Figures, breakdown: Record<string, number>) {
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  console.log(`\n### ${name}\n\n| figure | Vigil | baseline | Vigil / baseline |\n|---|---|---|---|`);
  console.log(`| runs/s | ${vigil.runsPerSec.toFixed(1)} | ${base.runsPerSec.toFixed(1)} | ${ratio(vigil.runsPerSec, base.runsPerSec)} |`);
  for (const [label, key] of [['start p50', 'startP50'], ['start p99', 'startP99'], ['done p50', 'doneP50'], ['done p99', 'doneP99']] as const) {
    console.log(`| ${label} | ${ms(vigil[key])} | ${ms(base[key])} | ${ratio(vigil[key], base[key])} |`);
  }
  console.log('\nWhere a Vigil run spends its time (p50):');
  for (const [label, value] of Object.entries(breakdown)) console.log(`- ${label}: ${ms(value)}`);
  const met = vigil.runsPerSec / base.runsPerSec >= 0.8 && vigil.startP99 / base.startP99 <= 1.5;
  console.log(`\nTargets (runs/s ≥ 0.8× baseline, start p99 ≤ 1.5× baseline): ${met ? 'met' : 'NOT met'}`);
}

async function main() {
  const servers = await startBenchServers('vigil-bench', log);
  const { temporal } = servers;
  const { vigil, adminToken } = await startBenchVigil(servers, { name: 'bench-vigil' });
  const vigilBench = await prepareVigil(vigil, adminToken);
  const baseline = await startBaseline(temporal.address, temporal.namespace);
  try {
    log(`${os.cpus().length} cores; ${AGENTS} no-op agents (maxConcurrentRuns 10 each)`);
    for (const phase of PHASES) {
      log(`${phase.name}: ${phase.runs} Vigil runs, then ${phase.runs} baseline workflows`);
      const measured = await vigilBench.measure(phase.runs, phase.concurrency);
      const base = await baseline.measure(phase.runs, phase.concurrency);
      report(phase.name, measured.figures, base, measured.breakdown);
    }
  } finally {
    await vigilBench.stop();
    await baseline.stop();
    await vigil.stop();
    await servers.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
