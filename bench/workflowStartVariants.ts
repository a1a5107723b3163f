/**
 * Scratch measurement for issue 12's "starting the follow-up workflows: 1,000 in < 2 s": where the
 * time of starting run workflows goes. Each variant runs on a fresh in-memory Temporal dev server
 * (as `npm run bench:recovery` uses), after 50 warm-up starts, on a task queue nobody polls; it
 * reports wall time, the server's CPU time and this process's CPU time. Variants change one thing
 * each against today's call (signalWithStart, 32 in parallel, search attributes + memo + summary,
 * temporal-dev.yml as it is). Repetitions interleave the variants, so the machine's load drifts
 * over all of them alike.
 *
 *   npx tsx bench/workflowStartVariants.ts --runs 1000 --repeat 3
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { loadConfig } from '../src/config.ts';
import { resolveTemporalCli } from '../src/temporal/temporalCli.ts';
import { loadTemporalDevConfig, type TemporalDevConfig } from '../src/temporal/devServerConfig.ts';
import { startTemporalDevServer } from '../src/temporal/devServer.ts';
import { findFreePorts } from '../src/platform/freePorts.ts';
import { heartbeatRunWorkflow, slotFreedSignal } from '../src/workflows/heartbeatRun.ts';
import { mapBounded } from '../src/platform/concurrency.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}
const RUNS = Number(arg('runs', '1000'));
const REPEAT = Number(arg('repeat', '3'));
const ONLY = arg('only', '').split('|').filter(Boolean);
const log = (line: string) => process.stdout.write(`[bench] ${line}\n`);

/** CPU ms a process has used (utime + stime from /proc, 100 ticks a second). */
function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

interface Variant {
  name: string;
  call: 'signalWithStart' | 'start' | 'start, signal if running';
  concurrency: number;
  attributes: boolean;
  dynamicConfig?: Record<string, unknown>;
  /** Environment of the dev server process (GOGC: the Go garbage collector's target). */
  env?: Record<string, string>;
  /** The client over the worker's kind of connection (Core, in Rust) instead of grpc-js. */
  native?: boolean;
}

const TODAY: Variant = { name: 'today: signalWithStart ×32', call: 'signalWithStart', concurrency: 32, attributes: true };
const VARIANTS: Variant[] = [
  TODAY,
  { ...TODAY, name: 'signalWithStart ×16', concurrency: 16 },
  { ...TODAY, name: 'signalWithStart ×64', concurrency: 64 },
  { ...TODAY, name: 'start ×32', call: 'start' as const },
  { ...TODAY, name: 'start ×32, signal if already running', call: 'start, signal if running' as const },
  { ...TODAY, name: 'no search attributes/memo/summary', attributes: false },
  { ...TODAY, name: 'dev server without forceSearchAttributesCacheRefreshOnRead', dynamicConfig: { 'system.forceSearchAttributesCacheRefreshOnRead': false } },
  { ...TODAY, name: 'dev server with GOGC=400', env: { GOGC: '400' } },
  { ...TODAY, name: 'dev server without the forced refresh, GOGC=400', dynamicConfig: { 'system.forceSearchAttributesCacheRefreshOnRead': false }, env: { GOGC: '400' } },
  { ...TODAY, name: 'client over a NativeConnection', native: true },
  { ...TODAY, name: 'client over a NativeConnection, dev server without the forced refresh', native: true, dynamicConfig: { 'system.forceSearchAttributesCacheRefreshOnRead': false } },
].filter((v) => ONLY.length === 0 || ONLY.some((only) => v.name.includes(only)));

async function measure(variant: Variant, base: TemporalDevConfig, binary: string): Promise<{ wall: number; server: number; client: number }> {
  const [port] = await findFreePorts(1);
  const config = { ...base, dynamicConfig: { ...base.dynamicConfig, ...variant.dynamicConfig } };
  const saved = { ...process.env };
  Object.assign(process.env, variant.env);
  const temporal = await startTemporalDevServer({ binary, config, dataDir: null, port, uiPort: null, headless: true, log: () => {} }).finally(() => {
    for (const key of Object.keys(variant.env ?? {})) if (saved[key] === undefined) delete process.env[key];
    Object.assign(process.env, saved);
  });
  const connection = variant.native ? await NativeConnection.connect({ address: temporal.address }) : await Connection.connect({ address: temporal.address });
  try {
    const client = new Client({ connection, namespace: temporal.namespace });
    const taskQueue = `idle-${randomUUID()}`;
    const startOne = async (runId: string) => {
      const options = {
        workflowId: `run-${runId}`,
        taskQueue,
        args: [{ runId, adapterHeartbeatTimeoutMs: 10_000 }] as [Parameters<typeof heartbeatRunWorkflow>[0]],
        ...(variant.attributes
          ? {
              searchAttributes: { VigilCompanyId: [randomUUID()], VigilAgentId: [randomUUID()], VigilRunStatus: ['queued'], VigilIssueId: [randomUUID()], VigilIssueIdentifier: ['ABC-123'], VigilRetryOfRunId: [randomUUID()], VigilRetryKind: ['assignment_recovery'] },
              memo: { runId, agentId: randomUUID(), issueIdentifier: 'ABC-123', wakeReason: 'issue_assignment_recovery', retryOfRunId: randomUUID() },
              staticSummary: 'ABC-123 · issue_assignment_recovery · assignment_recovery',
            }
          : {}),
      };
      if (variant.call === 'signalWithStart') await client.workflow.signalWithStart(heartbeatRunWorkflow, { ...options, signal: slotFreedSignal, signalArgs: [] });
      else await client.workflow.start(heartbeatRunWorkflow, options);
    };
    await mapBounded(Array.from({ length: 50 }, () => randomUUID()), variant.concurrency, startOne); // warm-up
    const ids = Array.from({ length: RUNS }, () => randomUUID());
    const server = cpuMs(temporal.pid);
    const own = process.cpuUsage();
    const t = performance.now();
    await mapBounded(ids, variant.concurrency, startOne);
    const wall = performance.now() - t;
    const used = process.cpuUsage(own);
    return { wall, server: cpuMs(temporal.pid) - server, client: (used.user + used.system) / 1000 };
  } finally {
    await connection.close();
    await temporal.stop();
  }
}

async function main() {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const config = loadConfig();
  const binary = await resolveTemporalCli({ explicitPath: config.temporalCliPath, cacheDir: config.cacheDir, log });
  const devConfig = loadTemporalDevConfig();
  const results = new Map<string, Array<{ wall: number; server: number; client: number }>>();
  for (let r = 0; r < REPEAT; r++) {
    for (const variant of VARIANTS) {
      const m = await measure(variant, devConfig, binary);
      results.set(variant.name, [...(results.get(variant.name) ?? []), m]);
      log(`${variant.name}: ${RUNS} starts in ${m.wall.toFixed(0)} ms (server CPU ${m.server} ms, client CPU ${m.client.toFixed(0)} ms)`);
    }
  }
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  console.log(`\n| variant (${RUNS} starts, median of ${REPEAT}) | wall | server CPU | client CPU |\n|---|---|---|---|`);
  for (const [name, ms] of results) {
    console.log(`| ${name} | ${median(ms.map((m) => m.wall)).toFixed(0)} ms | ${median(ms.map((m) => m.server)).toFixed(0)} ms | ${median(ms.map((m) => m.client)).toFixed(0)} ms |`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
