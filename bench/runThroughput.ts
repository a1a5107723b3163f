/**
 * `npm run bench`: runs of a no-op `process` agent through Vigil's API, against two bare Temporal
 * workflows on the same server (bench/baseline.ts): one whose activity does nothing (the no-op
 * baseline: what Temporal alone costs) and one whose activity spawns the same no-op process as
 * Vigil's agents (the spawn baseline: what the child process itself costs), in two regimes:
 * - latency: one run in flight at a time (what one run costs, no queueing);
 * - throughput: many in flight (what the machine sustains).
 * For each: runs/s and p50/p99 from the API call to the adapter process starting and to the run
 * being `succeeded`, as ratios to both baselines, and where Vigil's time goes. Vigil is measured
 * three ways in the same invocation: API and worker in this process (`startVigil`), in one OS
 * process of its own (VIGIL_ROLE=all), and as an `api` process plus a `worker` process.
 * Then SQL statements per run, Vigil in this process: for the no-issue wakes of both regimes and
 * for a small phase of wakes bound to an issue assigned to the agent (issue 12's budget counts a
 * succeeded run with an issue).
 *
 *   npm run bench -- --runs 200 --concurrency 20 --latency-runs 50 --issue-runs 20
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
import { baselineWorkflow, spawnBaselineWorkflow } from './baseline.ts';
import { NOOP_AGENT, baselineActivities } from './baselineActivities.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const PHASES = [
  { name: 'latency (1 in flight)', runs: arg('latency-runs', 50), concurrency: 1 },
  { name: `throughput (${arg('concurrency', 20)} in flight)`, runs: arg('runs', 200), concurrency: arg('concurrency', 20) },
];
/** Issue-bound wakes, one in flight, for the statements per run with an issue. */
const ISSUE_RUNS = arg('issue-runs', 20);
/** `--list-statements`: print the statements of the last issue-bound run, in order. */
const LIST_STATEMENTS = process.argv.includes('--list-statements');
const AGENTS = Math.max(1, Math.ceil(Math.max(...PHASES.map((p) => p.concurrency)) / 10));
/** How long one run may take before the bench gives up on it. */
const RUN_TIMEOUT_MS = 60_000;
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

/** The baselines: one worker for both workflows, its activities noting when they started. */
async function startBaselines(address: string, namespace: string) {
  const startedAt = new Map<number, number>();
  const taskQueue = `bench-baseline-${randomUUID()}`;
  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address }),
    namespace,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('./baseline.ts', import.meta.url)),
    activities: baselineActivities(startedAt),
    maxConcurrentActivityTaskExecutions: 50,
  });
  const running = worker.run();
  const client = new Client({ connection: await Connection.connect({ address }), namespace });
  const workflows = { noop: baselineWorkflow, spawn: spawnBaselineWorkflow };
  const execute = (kind: keyof typeof workflows, calledAt: number) =>
    client.workflow.execute(workflows[kind], { taskQueue, workflowId: `baseline-${kind}-${randomUUID()}`, args: [calledAt] });
  await execute('noop', 0); // warm-up
  await execute('spawn', 0);
  return {
    async measure(kind: keyof typeof workflows, runs: number, concurrency: number): Promise<Figures> {
      const samples = await pool(runs, concurrency, async (i) => {
        const calledAt = Date.now() + i / 1e6; // a unique key per call
        await execute(kind, calledAt);
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
        adapterConfig: NOOP_AGENT,
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
  const wake = async (agentId: string, payload: Record<string, string>) => {
    const calledAt = Date.now();
    const run = await call('POST', `/api/agents/${agentId}/wakeup`, { payload });
    const apiDoneAt = Date.now();
    const row = await new Promise<RunRow>((resolve, reject) => {
      // A run that never ends fails the bench (and so stops what it started) instead of hanging it.
      const timer = setTimeout(() => {
        waiting.delete(run.id);
        reject(new Error(`run ${run.id} did not end within ${RUN_TIMEOUT_MS / 1000} s`));
      }, RUN_TIMEOUT_MS);
      waiting.set(run.id, (ended) => {
        clearTimeout(timer);
        resolve(ended);
      });
    });
    if (row.status !== 'succeeded') throw new Error(`run ${run.id} ended ${row.status}: ${row.error}`);
    return { calledAt, apiDoneAt, row };
  };
  const runOnce = (agentIndex: number) => wake(agents[agentIndex % AGENTS].id, { taskId: `bench-${counter++}` });
  await pool(AGENTS, AGENTS, runOnce); // warm-up
  return {
    /**
     * `runs` wakes bound to an issue, one at a time: each issue is created first (`backlog`,
     * assigned to the agent, so its creation wakes nobody), then the agent is woken with
     * `{ issueId }`. `window(run)` brackets each run from its wake call until its statements have
     * settled, so what creating the issues costs is left out.
     */
    async measureIssueBound(runs: number, window: <T>(run: () => Promise<T>) => Promise<T>) {
      const agent = agents[0];
      const runsBefore = await prisma.heartbeatRun.count({ where: { agentId: agent.id } });
      const issues: Array<{ id: string }> = [];
      for (let i = 0; i < runs; i++) issues.push(await call('POST', `/api/companies/${company.id}/issues`, { title: `Bench issue ${i}`, status: 'backlog', assigneeAgentId: agent.id }));
      await new Promise((r) => setTimeout(r, 300));
      const woken = (await prisma.heartbeatRun.count({ where: { agentId: agent.id } })) - runsBefore;
      if (woken > 0) throw new Error(`creating ${runs} backlog issues made ${woken} runs`);
      const rows: RunRow[] = [];
      for (const issue of issues) rows.push((await window(() => wake(agent.id, { issueId: issue.id }))).row);
      const unbound = rows.filter((row, i) => (row.contextSnapshot as { issueId?: string } | null)?.issueId !== issues[i].id);
      if (unbound.length > 0) throw new Error(`${unbound.length} issue-bound wakes made runs without their issue`);
    },
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

interface Baselines {
  /** Bare workflow, no-op activity: what Temporal alone costs. */
  noop: Figures;
  /** Bare workflow whose activity spawns the agents' no-op process: what the child adds. */
  spawn: Figures;
}

/** Issue 12's targets for Vigil against the no-op baseline, by how many runs are in flight. */
function targetsFor(concurrency: number) {
  return concurrency === 1 ? { runsPerSec: 0.85, startP99: 1.3 } : { runsPerSec: 0.5, startP99: 2.5 };
}

function report(name: string, concurrency: number, measured: Map<Variant, Measured>, base: Baselines) {
  const ratio = (a: number, b: number) => (a / b).toFixed(2);
  const variants = [...measured.keys()];
  const vs = (baseline: string) => variants.map((v) => `${v} / ${baseline}`);
  const header = [...variants.map((v) => `Vigil, ${v}`), 'bare, no-op activity', 'bare, spawn activity', ...vs('no-op'), ...vs('spawn')];
  console.log(`\n### ${name}\n\n| figure | ${header.join(' | ')} |`);
  console.log(`|---|${header.map(() => '---|').join('')}`);
  const row = (label: string, value: (f: Figures) => number, format: (v: number) => string) => {
    const vigil = variants.map((v) => value(measured.get(v)!.figures));
    const cells = [...vigil.map(format), format(value(base.noop)), format(value(base.spawn)), ...vigil.map((v) => ratio(v, value(base.noop))), ...vigil.map((v) => ratio(v, value(base.spawn)))];
    console.log(`| ${label} | ${cells.join(' | ')} |`);
  };
  row('runs/s', (f) => f.runsPerSec, (v) => v.toFixed(1));
  for (const [label, key] of [['start p50', 'startP50'], ['start p99', 'startP99'], ['done p50', 'doneP50'], ['done p99', 'doneP99']] as const) row(label, (f) => f[key], ms);
  console.log(
    `\nThe child process itself (spawn baseline − no-op baseline): start p50 ${ms(base.spawn.startP50 - base.noop.startP50)}, ` +
      `done p50 ${ms(base.spawn.doneP50 - base.noop.doneP50)}, runs/s ${base.spawn.runsPerSec.toFixed(1)} against ${base.noop.runsPerSec.toFixed(1)}.`,
  );
  for (const variant of variants) {
    const f = measured.get(variant)!.figures;
    console.log(`Vigil ${variant} on top of the spawn baseline: start p50 ${ms(f.startP50 - base.spawn.startP50)}, done p50 ${ms(f.doneP50 - base.spawn.doneP50)}.`);
  }
  for (const variant of variants) {
    console.log(`\nWhere a Vigil run spends its time (p50), ${variant}:`);
    for (const [label, value] of Object.entries(measured.get(variant)!.breakdown)) console.log(`- ${label}: ${ms(value)}`);
  }
  const target = targetsFor(concurrency);
  console.log(`\nTargets (issue 12, against the no-op baseline, ${concurrency} in flight: runs/s ≥ ${target.runsPerSec}×, start p99 ≤ ${target.startP99}×):`);
  for (const variant of variants) {
    const f = measured.get(variant)!.figures;
    const throughput = f.runsPerSec / base.noop.runsPerSec;
    const startP99 = f.startP99 / base.noop.startP99;
    const met = throughput >= target.runsPerSec && startP99 <= target.startP99;
    console.log(`- Vigil ${variant}: runs/s ${throughput.toFixed(2)}×, start p99 ${startP99.toFixed(2)}× → ${met ? 'met' : 'NOT met'}`);
  }
}

/** Statements of `run()` and those it causes: counted until none has come for `quietMs`. */
function statementWindow(statements: ReturnType<typeof countStatements>, perRun: number[], quietMs = 200) {
  return async <T>(run: () => Promise<T>): Promise<T> => {
    const before = statements.count;
    const result = await run();
    for (let seen = -1; seen !== statements.count; ) {
      seen = statements.count;
      await new Promise((r) => setTimeout(r, quietMs));
    }
    perRun.push(statements.count - before);
    return result;
  };
}

async function main() {
  const servers = await startBenchServers('vigil-bench', log);
  const { temporal } = servers;
  const prisma = createPrismaClient(servers.databaseUrl, 4);
  // The in-process Vigil's connections carry their own application_name, so its statements can be counted.
  const statements = countStatements('vigil-bench', LIST_STATEMENTS);
  const inProcess = await startBenchVigil(servers, { name: 'bench-vigil', databaseUrl: withApplicationName(servers.databaseUrl, 'vigil-bench') });
  const combined = await startVigilProcesses(servers, 'all');
  const split = await startVigilProcesses(servers, 'split');
  const benches = new Map<Variant, Awaited<ReturnType<typeof prepareVigil>>>([
    // The bench's own client polls every variant, so the poller's reads are never counted as Vigil's.
    ['in this process', await prepareVigil(inProcess.vigil, inProcess.adminToken, prisma, 'BENCH')],
    ['one process (all)', await prepareVigil(combined, combined.adminToken, prisma, 'ALL')],
    ['api + worker processes', await prepareVigil(split, split.adminToken, prisma, 'SPLIT')],
  ]);
  const baselines = await startBaselines(temporal.address, temporal.namespace);
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
      log(`${phase.name}: ${phase.runs} bare workflows with a no-op activity, then ${phase.runs} with a spawn activity`);
      const noop = await baselines.measure('noop', phase.runs, phase.concurrency);
      const spawn = await baselines.measure('spawn', phase.runs, phase.concurrency);
      report(phase.name, phase.concurrency, measured, { noop, spawn });
      console.log(`\nSQL statements per run, Vigil in this process, wakes without an issue (enqueue → claim → execute → finalize, BEGIN/COMMIT included, with the live-event hub's reads): ${perRun.get(phase.name)!.toFixed(1)}`);
    }
    if (ISSUE_RUNS > 0) {
      log(`issue-bound: ${ISSUE_RUNS} runs, 1 in flight, Vigil in this process`);
      const counts: number[] = [];
      const window = statementWindow(statements, counts);
      let lastRun: readonly string[] = [];
      await benches.get('in this process')!.measureIssueBound(ISSUE_RUNS, async (run) => {
        statements.reset();
        const result = await window(run);
        lastRun = [...statements.texts];
        return result;
      });
      if (LIST_STATEMENTS) console.log(`\nThe statements of the last issue-bound run:\n${lastRun.map((text, i) => `${String(i + 1).padStart(3)}. ${text}`).join('\n')}`);
      const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
      console.log(
        `\nSQL statements per succeeded run with an issue, Vigil in this process (enqueue → claim → execute → finalize, BEGIN/COMMIT included, ` +
          `each run counted from its wake call until its statements settle; n=${counts.length}): mean ${mean.toFixed(1)}, ` +
          `p50 ${percentile(counts, 50)}, min ${Math.min(...counts)}, max ${Math.max(...counts)} (issue 12's budget: ≤ 20 → ${mean <= 20 ? 'met' : 'NOT met'})`,
      );
      for (const phase of PHASES) console.log(`SQL statements per run without an issue, ${phase.name}: ${perRun.get(phase.name)!.toFixed(1)}`);
    }
  } finally {
    // Each step runs even when one before it failed (a Vigil whose run hung may not stop cleanly),
    // so the servers and their temporary folder always go.
    const steps = [
      ...[...benches.values()].map((bench) => () => bench.stop()),
      () => baselines.stop(),
      () => split.stop(),
      () => combined.stop(),
      () => inProcess.vigil.stop(),
      () => prisma.$disconnect(),
      () => servers.stop(),
    ];
    for (const step of steps) await step().catch((error: unknown) => console.error('[bench] stopping:', error));
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
