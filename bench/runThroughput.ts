/**
 * `npm run bench`: N runs of a no-op `process` agent through Vigil's API, against a bare Temporal
 * workflow with one no-op activity on the same server. Prints runs/s and p50/p99 latencies from the
 * API call to the adapter process starting and to the run being `succeeded`, as ratios to the
 * baseline, and where Vigil's time goes.
 *
 *   npm run bench -- --runs 200 --concurrency 20
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { startEmbeddedPostgres } from '../src/store/embeddedPostgres.ts';
import { applyMigrations } from '../src/store/migrate.ts';
import { resolveTemporalCli } from '../src/temporal/temporalCli.ts';
import { loadTemporalDevConfig } from '../src/temporal/devServerConfig.ts';
import { startTemporalDevServer } from '../src/temporal/devServer.ts';
import { findFreePort } from '../src/platform/processes.ts';
import { generateAdminToken } from '../src/auth/tokens.ts';
import { startVigil } from '../src/vigil.ts';
import { baselineWorkflow } from './baseline.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const RUNS = arg('runs', 200);
const CONCURRENCY = arg('concurrency', 20);
const AGENTS = Math.max(1, Math.ceil(CONCURRENCY / 10));

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

interface Figures {
  runsPerSec: number;
  startP50: number;
  startP99: number;
  doneP50: number;
  doneP99: number;
}

function figures(samples: Array<{ calledAt: number; startedAt: number; doneAt: number }>): Figures {
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

async function measureBaseline(address: string, namespace: string): Promise<Figures> {
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
  // Warm up the worker (bundle loaded, caches hot) before timing.
  await client.workflow.execute(baselineWorkflow, { taskQueue, workflowId: `warmup-${randomUUID()}`, args: [0] });
  const samples = await pool(RUNS, CONCURRENCY, async (i) => {
    const calledAt = Date.now() + i / 1e6; // unique key per call
    await client.workflow.execute(baselineWorkflow, { taskQueue, workflowId: `baseline-${randomUUID()}`, args: [calledAt] });
    return { calledAt, startedAt: startedAt.get(calledAt)!, doneAt: Date.now() };
  });
  worker.shutdown();
  await running;
  return figures(samples);
}

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const config = loadConfig();
  const root = await mkdtemp(path.join(os.tmpdir(), 'vigil-bench-'));
  const log = (line: string) => process.stdout.write(`[bench] ${line}\n`);
  const pg = await startEmbeddedPostgres({ dataDir: root, port: await findFreePort(), log });
  await applyMigrations(pg.databaseUrl);
  const binary = await resolveTemporalCli({ explicitPath: config.temporalCliPath, cacheDir: config.cacheDir, log });
  const temporal = await startTemporalDevServer({ binary, config: loadTemporalDevConfig(), dataDir: null, port: await findFreePort(), uiPort: await findFreePort(), headless: true, log });
  const adminToken = generateAdminToken();
  const vigil = await startVigil({
    databaseUrl: pg.databaseUrl,
    temporalAddress: temporal.address,
    temporalNamespace: temporal.namespace,
    temporalUiUrl: null,
    taskQueue: `bench-vigil-${randomUUID()}`,
    dataDir: root,
    adminToken,
    runTokenSecret: null,
    adapterHeartbeatTimeoutMs: 10_000,
    host: '127.0.0.1',
    port: 0,
    logger: createLogger('warn'),
  });
  try {
    const call = async (method: string, route: string, body: unknown, token = adminToken) => {
      const response = await fetch(`${vigil.apiUrl}${route}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const json: any = await response.json();
      if (response.status >= 300) throw new Error(`${method} ${route} → ${response.status} ${JSON.stringify(json)}`);
      return json;
    };
    const company = await call('POST', '/api/companies', { name: 'Bench', issuePrefix: 'BENCH' });
    const agents = await Promise.all(
      Array.from({ length: AGENTS }, (_, i) =>
        call('POST', `/api/companies/${company.id}/agents`, {
          name: `noop-${i}`,
          adapterType: 'process',
          adapterConfig: { command: '/bin/sh', args: ['-c', 'echo \'{"type":"result","summary":"ok"}\''] },
          runtimeConfig: { heartbeat: { maxConcurrentRuns: 10 } },
        }),
      ),
    );
    // Warm-up: one run per agent.
    await pool(AGENTS, AGENTS, async (i) => {
      const run = await call('POST', `/api/agents/${agents[i].id}/wakeup`, { payload: { taskId: `warmup-${i}` } });
      while ((await vigil.prisma.heartbeatRun.findUniqueOrThrow({ where: { id: run.id } })).status !== 'succeeded') await new Promise((r) => setTimeout(r, 20));
    });

    log(`Vigil: ${RUNS} runs, ${CONCURRENCY} in flight, ${AGENTS} agents`);
    const calls = await pool(RUNS, CONCURRENCY, async (i) => {
      const calledAt = Date.now();
      const run = await call('POST', `/api/agents/${agents[i % AGENTS].id}/wakeup`, { payload: { taskId: `bench-${i}` } });
      const apiDoneAt = Date.now();
      for (;;) {
        const row = await vigil.prisma.heartbeatRun.findUniqueOrThrow({ where: { id: run.id } });
        if (row.status === 'succeeded') return { calledAt, apiDoneAt, row };
        if (['failed', 'cancelled', 'timed_out'].includes(row.status)) throw new Error(`run ${run.id} ended ${row.status}: ${row.error}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    });
    const vigilFigures = figures(calls.map((c) => ({ calledAt: c.calledAt, startedAt: c.row.processStartedAt!.getTime(), doneAt: c.row.finishedAt!.getTime() })));
    const breakdown = {
      apiCallP50: percentile(calls.map((c) => c.apiDoneAt - c.calledAt), 50),
      queuedToClaimedP50: percentile(calls.map((c) => c.row.startedAt!.getTime() - c.row.createdAt.getTime()), 50),
      claimedToSpawnP50: percentile(calls.map((c) => c.row.processStartedAt!.getTime() - c.row.startedAt!.getTime()), 50),
      spawnToFinishedP50: percentile(calls.map((c) => c.row.finishedAt!.getTime() - c.row.processStartedAt!.getTime()), 50),
    };
    log(`baseline: ${RUNS} bare workflows with one no-op activity`);
    const base = await measureBaseline(temporal.address, temporal.namespace);

    const ms = (v: number) => `${v.toFixed(0)} ms`;
    const rows = [
      ['runs/s', vigilFigures.runsPerSec.toFixed(1), base.runsPerSec.toFixed(1), (vigilFigures.runsPerSec / base.runsPerSec).toFixed(2)],
      ['start p50', ms(vigilFigures.startP50), ms(base.startP50), (vigilFigures.startP50 / base.startP50).toFixed(2)],
      ['start p99', ms(vigilFigures.startP99), ms(base.startP99), (vigilFigures.startP99 / base.startP99).toFixed(2)],
      ['done p50', ms(vigilFigures.doneP50), ms(base.doneP50), (vigilFigures.doneP50 / base.doneP50).toFixed(2)],
      ['done p99', ms(vigilFigures.doneP99), ms(base.doneP99), (vigilFigures.doneP99 / base.doneP99).toFixed(2)],
    ];
    console.log('\n| figure | Vigil | baseline | ratio |\n|---|---|---|---|');
    for (const row of rows) console.log(`| ${row.join(' | ')} |`);
    console.log('\nWhere a Vigil run spends its time (p50):');
    console.log(`  API call (enqueue + workflow start): ${ms(breakdown.apiCallP50)}`);
    console.log(`  queued → claimed (workflow task + claim transaction): ${ms(breakdown.queuedToClaimedP50)}`);
    console.log(`  claimed → process spawned (activity dispatch + spawn): ${ms(breakdown.claimedToSpawnP50)}`);
    console.log(`  spawned → succeeded (process + output + finalize): ${ms(breakdown.spawnToFinishedP50)}`);
    const verdict = vigilFigures.runsPerSec / base.runsPerSec >= 0.8 && vigilFigures.startP99 / base.startP99 <= 1.5;
    console.log(`\nTargets (runs/s ≥ 0.8× baseline, start p99 ≤ 1.5× baseline): ${verdict ? 'met' : 'NOT met'}`);
  } finally {
    await vigil.stop();
    await temporal.stop();
    await pg.stop();
    await rm(root, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
