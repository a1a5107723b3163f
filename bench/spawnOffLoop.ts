/**
 * What the per-host spawn helper (issue 12) saves: `child_process.spawn` forks synchronously on
 * the caller's event loop, and the fork copies the page tables of the whole process, so a worker
 * of several hundred MiB stalls every other activity's heartbeats for each agent it starts.
 *
 * The bench inflates this process's heap with live objects (the worker's size), then starts N
 * no-op agents (`true`, own process group, piped stdout/stderr as an agent gets them) directly
 * and through the helper, while `perf_hooks.monitorEventLoopDelay` records how late the loop
 * runs. It prints, for each way and heap size: event-loop delay p50/p99/max, spawn latency
 * (request → pid) p50/p99/max, and the wall time for all N.
 *
 *   npx tsx bench/spawnOffLoop.ts [--agents 200] [--concurrency 4] [--heap-mib 500]
 *
 * Everything it starts it ends: each agent is awaited to its close, the helper is stopped.
 */
import { spawn } from 'node:child_process';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { retainSpawnHelper, spawnAgentProcess, spawnHelperPid, stopSpawnHelper } from '../src/adapters/spawnHelper/helperClient.ts';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const AGENTS = option('agents', 200);
const CONCURRENCY = option('concurrency', 4);
const HEAP_MIB = option('heap-mib', 500);
const AGENT_COMMAND = '/bin/true';

type Way = 'direct' | 'helper';

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Math.round(Number(match?.[1]) / 1024);
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Resolves once the agent has exited and its pipes are closed. */
function closed(agent: { stdout: Readable | null; stderr: Readable | null; once(event: 'close', listener: () => void): unknown }): Promise<void> {
  agent.stdout?.resume();
  agent.stderr?.resume();
  return new Promise((resolve) => agent.once('close', () => resolve()));
}

/** One agent started the way the adapter did before issue 12: forked on this event loop. */
async function startDirect(): Promise<number> {
  const requested = process.hrtime.bigint();
  const child = spawn(AGENT_COMMAND, [], { cwd: '/', env: { PATH: process.env.PATH }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error('direct spawn failed');
  const latencyMs = Number(process.hrtime.bigint() - requested) / 1e6;
  await closed(child);
  return latencyMs;
}

/** One agent started through the spawn helper. */
async function startViaHelper(): Promise<number> {
  const requested = process.hrtime.bigint();
  const agent = await spawnAgentProcess({ command: AGENT_COMMAND, args: [], cwd: '/', env: { PATH: process.env.PATH ?? '' }, stdin: false });
  const latencyMs = Number(process.hrtime.bigint() - requested) / 1e6;
  await closed(agent);
  return latencyMs;
}

interface Measured {
  way: Way;
  heapMiB: number;
  rssMiB: number;
  loopDelayMs: { p50: number; p99: number; max: number };
  spawnLatencyMs: { p50: number; p99: number; max: number };
  wallMs: number;
}

async function measure(way: Way, heapMiB: number): Promise<Measured> {
  const start = way === 'direct' ? startDirect : startViaHelper;
  // Warm-up, outside the measurement: first spawn of each way.
  await start();
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const latencies: number[] = [];
  let next = 0;
  const began = Date.now();
  delay.enable();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < AGENTS) {
        next++;
        latencies.push(await start());
      }
    }),
  );
  delay.disable();
  const wallMs = Date.now() - began;
  latencies.sort((a, b) => a - b);
  const ms = (ns: number) => Math.round((ns / 1e6) * 100) / 100;
  const round = (value: number) => Math.round(value * 100) / 100;
  return {
    way,
    heapMiB,
    rssMiB: rssMiB(process.pid),
    loopDelayMs: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
    spawnLatencyMs: { p50: round(percentile(latencies, 50)), p99: round(percentile(latencies, 99)), max: round(latencies[latencies.length - 1]) },
    wallMs,
  };
}

/** Live objects, as a worker's heap holds them: arrays of doubles, 8 MiB each, every page touched. */
function inflateHeap(mib: number): number[][] {
  const ballast: number[][] = [];
  for (let i = 0; i < mib / 8; i++) ballast.push(new Array<number>(1 << 20).fill(i + 0.5));
  return ballast;
}

async function main(): Promise<void> {
  const releaseHelper = retainSpawnHelper();
  const rows: Measured[] = [];
  try {
    for (const way of ['direct', 'helper'] as const) rows.push(await measure(way, 0));
    const ballast = inflateHeap(HEAP_MIB);
    for (const way of ['direct', 'helper'] as const) rows.push(await measure(way, HEAP_MIB));
    if (ballast.length === 0) throw new Error('unreachable: keeps the ballast alive until here');
    const helperPid = spawnHelperPid();
    const helperRss = helperPid ? rssMiB(helperPid) : null;
    console.log(`spawnOffLoop: ${AGENTS} no-op agents (${AGENT_COMMAND}), ${CONCURRENCY} at a time; helper RSS ${helperRss} MiB`);
    console.log('| way | live heap | worker RSS | loop delay p50 / p99 / max (ms) | spawn latency p50 / p99 / max (ms) | wall (ms) |');
    console.log('|---|---|---|---|---|---|');
    for (const row of rows) {
      console.log(
        `| ${row.way} | ${row.heapMiB} MiB | ${row.rssMiB} MiB | ${row.loopDelayMs.p50} / ${row.loopDelayMs.p99} / ${row.loopDelayMs.max} | ` +
          `${row.spawnLatencyMs.p50} / ${row.spawnLatencyMs.p99} / ${row.spawnLatencyMs.max} | ${row.wallMs} |`,
      );
    }
  } finally {
    await releaseHelper();
    await stopSpawnHelper();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
