/**
 * `npm run bench:spawn`: what the per-host agent supervisor (issue 13) costs per run, beside a
 * direct `child_process.spawn` of the same no-op agent, both measured in this one invocation.
 *
 * The agent is `/bin/sh -c 'echo <result line>'` (one line of output, so "all output read" means
 * something), in its own process group with stdout/stderr captured, as an agent gets them:
 * - direct: `spawn()` on this event loop, output piped; done at the child's `close`;
 * - supervisor: `superviseAgent(dir, key, request)` (client.ts) against a supervisor in a temp
 *   directory; the agent writes its files, this process reads them; done once `agent.exited`
 *   resolved and both tails are read to their end (`agent.finishOutput()`), then `agent.release()`.
 *
 * For each way, with this process's heap empty and inflated with live objects (the worker's size,
 * a fork copies its page tables), in alternating rounds (so a busy machine weighs on both alike),
 * it prints: per-agent latency (spawn → exit seen → all output read) p50/p99/max, agents/s at N
 * in flight, this process's event-loop delay p50/p99/max (1 ms timer) and CPU ms per
 * agent, and for the supervisor its own CPU ms per agent (user + system), the CPU of the agents it
 * reaped, and its RSS (peak), from /proc/<pid>/stat and status (pid from `<dir>/supervisor.pid`).
 *
 *   npm run bench:spawn -- [--agents 200] [--concurrency 4] [--heap-mib 500] [--rounds 4]
 *
 * Everything it starts it ends: each agent is awaited to its exit and released, the supervisor is
 * sent SIGTERM by the pid it wrote (it has no agent left) and awaited, its directory removed.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHistogram, type RecordableHistogram } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { superviseAgent, type AgentSpawnRequest } from '../src/adapters/supervisor/client.ts';
import { PID_FILE_NAME } from '../src/adapters/supervisor/runFiles.ts';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

const AGENTS = option('agents', 200);
const CONCURRENCY = option('concurrency', 4);
const HEAP_MIB = option('heap-mib', 500);
/** Each way's agents are run in this many rounds, the ways alternating (ABBA...). */
const ROUNDS = option('rounds', 4);
const RESULT_LINE = '{"type":"result","summary":"ok"}';
const AGENT = { command: '/bin/sh', args: ['-c', `echo '${RESULT_LINE}'`] };
const AGENT_ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

type Way = 'direct' | 'supervisor';

/** What /proc says of a process: CPU ticks (own, and of the children it reaped) and RSS. */
function procStat(pid: number): { ownTicks: number; childTicks: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { ownTicks: Number(fields[11]) + Number(fields[12]), childTicks: Number(fields[13]) + Number(fields[14]) };
}

function memoryMiB(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+) kB`).exec(status)?.[1]);
  return { rss: Math.round(kb('VmRSS') / 1024), peak: Math.round(kb('VmHWM') / 1024) };
}

/** Clock ticks per second as /proc counts them (USER_HZ, 100 on Linux). */
const TICK_MS = 10;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function readToEnd(stream: Readable): Promise<number> {
  let bytes = 0;
  for await (const chunk of stream) bytes += (chunk as Buffer).length;
  return bytes;
}

/** One agent forked on this event loop, output piped; resolves (latency ms) once it exited and its pipes closed. */
async function runDirect(): Promise<number> {
  const began = process.hrtime.bigint();
  const child = spawn(AGENT.command, AGENT.args, { cwd: '/', env: AGENT_ENV, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error('direct spawn failed');
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  const [stdoutBytes] = await Promise.all([readToEnd(child.stdout!), readToEnd(child.stderr!), closed]);
  if (stdoutBytes !== RESULT_LINE.length + 1) throw new Error(`direct: read ${stdoutBytes} bytes of output`);
  return Number(process.hrtime.bigint() - began) / 1e6;
}

let supervisorDir = '';
let nextKey = 0;

/** One agent through the supervisor; resolves (latency ms) once its exit is seen and its files are read; released after. */
async function runSupervised(): Promise<number> {
  const began = process.hrtime.bigint();
  const request: AgentSpawnRequest = { ...AGENT, cwd: '/', env: AGENT_ENV, stdin: null, deadlineAt: null, graceMs: 1_000, unattendedMs: 60_000 };
  const outcome = await superviseAgent(supervisorDir, `bench-${process.pid}-${nextKey++}`, request);
  if (outcome.kind !== 'agent') throw new Error(`supervisor: ${outcome.kind === 'spawn_failed' ? outcome.error.message : 'gone'}`);
  const { agent } = outcome;
  await agent.exited;
  agent.finishOutput();
  const [stdoutBytes] = await Promise.all([readToEnd(agent.stdout), readToEnd(agent.stderr)]);
  const latencyMs = Number(process.hrtime.bigint() - began) / 1e6;
  if (stdoutBytes !== RESULT_LINE.length + 1) throw new Error(`supervisor: read ${stdoutBytes} bytes of output`);
  await agent.release();
  return latencyMs;
}

function supervisorPid(): number {
  const pid = Number(readFileSync(path.join(supervisorDir, PID_FILE_NAME), 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) throw new Error('no supervisor pid');
  return pid;
}

interface Measured {
  way: Way;
  heapMiB: number;
  callerRssMiB: number;
  latencyMs: { p50: number; p99: number; max: number };
  agentsPerSec: number;
  loopDelayMs: { p50: number; p99: number; max: number };
  callerCpuMsPerAgent: number;
  supervisor: { cpuMsPerAgent: number; reapedCpuMsPerAgent: number; rssMiB: number; peakMiB: number } | null;
}

/**
 * How late this event loop runs while the agents start: a 1 ms timer re-armed each time it fires,
 * each firing recording the time since the last (ns), as monitorEventLoopDelay at resolution 1 does
 * (an idle loop reads about 1.1 ms), into a histogram that adds up over the rounds, which that
 * one's does not: it counts the pause between a disable and the next enable as one long delay.
 */
function sampleLoopDelay(into: RecordableHistogram): () => void {
  let armedAt = performance.now();
  let timer: NodeJS.Timeout;
  const fire = () => {
    const now = performance.now();
    into.record(Math.max(1, Math.round((now - armedAt) * 1e6)));
    armedAt = now;
    timer = setTimeout(fire, 1);
  };
  timer = setTimeout(fire, 1);
  return () => clearTimeout(timer);
}

/** One way's samples at one heap size, summed over its rounds. */
class Tally {
  readonly latencies: number[] = [];
  readonly delay = createHistogram();
  wallMs = 0;
  callerCpuUs = 0;
  supervisorTicks = { own: 0, child: 0 };

  constructor(readonly way: Way) {}

  result(heapMiB: number): Measured {
    const agents = this.latencies.length;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    const round = (value: number) => Math.round(value * 100) / 100;
    const ms = (ns: number) => round(ns / 1e6);
    let supervisor: Measured['supervisor'] = null;
    if (this.way === 'supervisor') {
      const memory = memoryMiB(supervisorPid());
      supervisor = {
        cpuMsPerAgent: round((this.supervisorTicks.own * TICK_MS) / agents),
        reapedCpuMsPerAgent: round((this.supervisorTicks.child * TICK_MS) / agents),
        rssMiB: memory.rss,
        peakMiB: memory.peak,
      };
    }
    return {
      way: this.way,
      heapMiB,
      callerRssMiB: memoryMiB(process.pid).rss,
      latencyMs: { p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted[sorted.length - 1]) },
      agentsPerSec: Math.round((agents / this.wallMs) * 1000 * 10) / 10,
      loopDelayMs: { p50: ms(this.delay.percentile(50)), p99: ms(this.delay.percentile(99)), max: ms(this.delay.max) },
      callerCpuMsPerAgent: round(this.callerCpuUs / 1000 / agents),
      supervisor,
    };
  }
}

/** `agents` agents of one way, CONCURRENCY in flight, added to its tally. */
async function measureRound(tally: Tally, agents: number): Promise<void> {
  const run = tally.way === 'direct' ? runDirect : runSupervised;
  // Warm-up, outside the measurement (and, for the supervisor, its start or its pid once idle).
  for (let i = 0; i < CONCURRENCY; i++) await run();
  const pid = tally.way === 'supervisor' ? supervisorPid() : null;
  const supervisorBefore = pid ? procStat(pid) : null;
  const cpuBefore = process.cpuUsage();
  let next = 0;
  const began = performance.now();
  const stopSampling = sampleLoopDelay(tally.delay);
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < agents) {
        next++;
        tally.latencies.push(await run());
      }
    }),
  );
  stopSampling();
  tally.wallMs += performance.now() - began;
  const cpu = process.cpuUsage(cpuBefore);
  tally.callerCpuUs += cpu.user + cpu.system;
  if (pid && supervisorBefore) {
    const after = procStat(pid);
    tally.supervisorTicks.own += after.ownTicks - supervisorBefore.ownTicks;
    tally.supervisorTicks.child += after.childTicks - supervisorBefore.childTicks;
  }
}

/** Both ways at this heap size, in alternating rounds, so that what else loads the machine weighs on both alike. */
async function measureBoth(heapMiB: number): Promise<Measured[]> {
  const tallies = [new Tally('direct'), new Tally('supervisor')];
  for (let round = 0; round < ROUNDS; round++) {
    const agents = Math.ceil(AGENTS / ROUNDS);
    for (const tally of round % 2 === 0 ? tallies : [...tallies].reverse()) await measureRound(tally, agents);
  }
  return tallies.map((tally) => tally.result(heapMiB));
}

/** Live objects, as a worker's heap holds them: arrays of doubles, 8 MiB each, every page touched. */
function inflateHeap(mib: number): number[][] {
  const ballast: number[][] = [];
  for (let i = 0; i < mib / 8; i++) ballast.push(new Array<number>(1 << 20).fill(i + 0.5));
  return ballast;
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM by the pid it wrote (every agent is released by now), then wait until it is gone. */
async function endSupervisor(): Promise<void> {
  let pid: number;
  try {
    pid = supervisorPid();
  } catch {
    return; // never started, or already gone
  }
  if (processAlive(pid)) process.kill(pid, 'SIGTERM');
  for (let waited = 0; processAlive(pid) && waited < 5_000; waited += 50) await sleep(50);
  if (processAlive(pid)) process.kill(pid, 'SIGKILL');
}

async function main(): Promise<void> {
  supervisorDir = mkdtempSync(path.join(os.tmpdir(), 'vigil-bench-spawn-'));
  const rows: Measured[] = [];
  try {
    rows.push(...(await measureBoth(0)));
    const ballast = inflateHeap(HEAP_MIB);
    rows.push(...(await measureBoth(HEAP_MIB)));
    if (ballast.length === 0) throw new Error('unreachable: keeps the ballast alive until here');
  } finally {
    await endSupervisor();
    rmSync(supervisorDir, { recursive: true, force: true });
  }
  console.log(`spawnOffLoop: ${Math.ceil(AGENTS / ROUNDS) * ROUNDS} no-op agents per way and heap (/bin/sh -c 'echo <result line>'), ${CONCURRENCY} in flight, in ${ROUNDS} alternating rounds (each after ${CONCURRENCY} warm-up agents); ${os.cpus().length} CPUs, load average ${os.loadavg()[0].toFixed(1)} at the end`);
  console.log('| way | live heap | caller RSS | latency p50 / p99 / max (ms) | agents/s | caller loop delay p50 / p99 / max (ms) | caller CPU ms/agent | supervisor CPU ms/agent (own + reaped agents) | supervisor RSS (peak) |');
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) {
    const supervisor = row.supervisor ? `${row.supervisor.cpuMsPerAgent} + ${row.supervisor.reapedCpuMsPerAgent}` : '—';
    const supervisorRss = row.supervisor ? `${row.supervisor.rssMiB} MiB (${row.supervisor.peakMiB})` : '—';
    console.log(
      `| ${row.way} | ${row.heapMiB} MiB | ${row.callerRssMiB} MiB | ${row.latencyMs.p50} / ${row.latencyMs.p99} / ${row.latencyMs.max} | ${row.agentsPerSec} | ` +
        `${row.loopDelayMs.p50} / ${row.loopDelayMs.p99} / ${row.loopDelayMs.max} | ${row.callerCpuMsPerAgent} | ${supervisor} | ${supervisorRss} |`,
    );
  }
  for (const heapMiB of [0, HEAP_MIB]) {
    const direct = rows.find((row) => row.way === 'direct' && row.heapMiB === heapMiB)!;
    const supervised = rows.find((row) => row.way === 'supervisor' && row.heapMiB === heapMiB)!;
    const ratio = (a: number, b: number) => (b > 0 ? `${(a / b).toFixed(2)}×` : '—');
    console.log(
      `supervisor / direct at ${heapMiB} MiB: latency p50 ${ratio(supervised.latencyMs.p50, direct.latencyMs.p50)}, p99 ${ratio(supervised.latencyMs.p99, direct.latencyMs.p99)}, ` +
        `agents/s ${ratio(supervised.agentsPerSec, direct.agentsPerSec)}, loop delay p99 ${ratio(supervised.loopDelayMs.p99, direct.loopDelayMs.p99)}`,
    );
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
