/**
 * `npm run bench:agents`: what a run of a coding-agent CLI adapter (`claude_local`, `codex_local`)
 * costs around the CLI itself, against a no-op `process` agent measured in the same invocation.
 *
 * Starts its own PostgreSQL, Temporal dev server and Vigil (as bench/runThroughput.ts does), a fake
 * Anthropic and a fake OpenAI server on 127.0.0.1, and three agents: the no-op `process` agent
 * (`/bin/sh -c 'echo {"type":"result",…}'`, the baseline) and the REAL Claude Code and Codex CLIs,
 * each with its own HOME / CODEX_HOME pointed at its fake. The fakes and the agent configs come
 * from test/support (fakeModelServers/, agentCliConfigs.ts): the benchmark imports test support on
 * purpose, so that it runs the CLIs exactly as the adapter tests do.
 *
 * Each round wakes every agent once through `POST /api/agents/:id/wakeup`, one run at a time, and
 * waits for the run to finish (2 warm-up rounds, then `--runs`). Every wake names its own task, so
 * each CLI run starts a fresh session, like the baseline. Per run, from the run row and its events:
 * - spawn → first output event: `process_started_at` → the first `log` / `agent.message` event
 *   after `adapter.invoke` (`created_at`). The run recorder batches output for 200 ms or until the
 *   process exits, so a short CLI run's first event is written at its exit;
 * - last output → finished: the last such event → `finished_at` (activity end, workflow task, finalize);
 * - spawn → finished, and API call → finished (wall clock, the call's start → `finished_at`).
 * Also, from the run's log file: spawn → first / last output line received, before the recorder's
 * batching; the first is mostly the CLI starting up.
 * Each round then runs the same three commands directly (no Vigil, same command line, env, cwd and
 * prompt): the CLI's own time, spawn → first output and spawn → exit.
 *
 *   npm run bench:agents -- --runs 20
 */
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import { startBenchServers } from './servers.ts';
import { benchApi, startBenchVigil } from './benchVigil.ts';
import type { RunningVigil } from '../src/vigil.ts';
import { agentCliFor } from '../src/adapters/agentClis.ts';
import { renderAgentPrompt } from '../src/domain/agentPrompt.ts';
import { startAnthropicMessagesServer } from '../test/support/fakeModelServers/anthropicMessagesServer.ts';
import { startOpenAiResponsesServer } from '../test/support/fakeModelServers/openaiResponsesServer.ts';
import type { FakeModelServer } from '../test/support/fakeModelServers/recordingServer.ts';
import { claudeAgentConfig, codexAgentConfig, createClaudeHome, createCodexHome, type AgentHome } from '../test/support/agentCliConfigs.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
}

const RUNS = arg('runs', 20);
const WARM_UPS = 2;
const RUN_TIMEOUT_MS = 120_000;
const TERMINAL = ['succeeded', 'failed', 'cancelled', 'timed_out'];
const OUTPUT_EVENTS = ['log', 'agent.message'];
const NOOP_SCRIPT = 'echo \'{"type":"result","summary":"ok"}\'';
const log = (line: string) => process.stdout.write(`[bench] ${line}\n`);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

/**
 * Everything started, stopped in reverse order however the benchmark ends. Each stop is bounded:
 * after Ctrl-C the Temporal dev server (in this process's group) is already gone, and a worker
 * that cannot reach it must not keep PostgreSQL running.
 */
const STOP_WAIT_MS = 20_000;
const opened: Array<{ what: string; stop: () => Promise<unknown> }> = [];
let stopped: Promise<void> | null = null;
/** One clean-up, however many ways (a signal, an error, the end) ask for it. */
function stopEverything(): Promise<void> {
  stopped ??= stopInReverse();
  return stopped;
}
async function stopInReverse(): Promise<void> {
  while (opened.length > 0) {
    const { what, stop } = opened.pop()!;
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer after ${STOP_WAIT_MS} ms`)), STOP_WAIT_MS)));
    await Promise.race([stop(), gaveUp])
      .catch((error: unknown) => console.error(`[bench] stopping ${what} failed:`, error))
      .finally(() => clearTimeout(timer));
  }
}

/** The command being run directly right now, if any (killed by pid when the benchmark stops). */
let directChild: ChildProcess | null = null;

type AdapterType = 'process' | 'claude_local' | 'codex_local';
const ADAPTERS: AdapterType[] = ['process', 'claude_local', 'codex_local'];

/** What one agent needs: how Vigil runs it, and the same command to run directly. */
interface BenchAgent {
  adapterType: AdapterType;
  id: string;
  adapterConfig: Record<string, unknown>;
  direct: { command: string; args: string[]; env: Record<string, string>; cwd: string };
  server: FakeModelServer | null;
}

interface VigilSample {
  spawnToFirstOutput: number;
  lastOutputToFinished: number;
  spawnToFinished: number;
  apiToFinished: number;
  /** From the log file: when Vigil received the first and the last chunk, before the recorder batched them. */
  spawnToFirstLine: number;
  spawnToLastLine: number;
}

interface DirectSample {
  firstOutput: number;
  exit: number;
}

interface ModelSide {
  anthropic: FakeModelServer;
  openai: FakeModelServer;
  claudeHome: AgentHome;
  codexHome: AgentHome;
}

async function prepareAgents(vigil: RunningVigil, adminToken: string, root: string, side: ModelSide): Promise<BenchAgent[]> {
  const call = benchApi(vigil, adminToken);
  const company = await call('POST', '/api/companies', { name: 'Bench agents', issuePrefix: 'BAGT' });
  const { anthropic, openai, claudeHome, codexHome } = side;
  const claude = claudeAgentConfig({ baseUrl: anthropic.url, home: claudeHome.dir });
  const codex = codexAgentConfig({ baseUrl: openai.url, codexHome: codexHome.dir });
  const specs = [
    { adapterType: 'process' as const, server: null, adapterConfig: { command: '/bin/sh', args: ['-c', NOOP_SCRIPT], cwd: root } },
    { adapterType: 'claude_local' as const, server: anthropic, adapterConfig: { ...claude, cwd: claudeHome.dir, timeoutSec: 120 } },
    { adapterType: 'codex_local' as const, server: openai, adapterConfig: { ...codex, cwd: codexHome.dir, timeoutSec: 120 } },
  ];
  const agents: BenchAgent[] = [];
  for (const spec of specs) {
    const created = await call('POST', `/api/companies/${company.id}/agents`, {
      name: `bench-${spec.adapterType}`,
      role: 'engineer',
      adapterType: spec.adapterType,
      adapterConfig: spec.adapterConfig,
    });
    const cli = agentCliFor(spec.adapterType);
    const config = spec.adapterConfig as { command: string; args?: string[]; env?: Record<string, string>; cwd: string; extraArgs?: string[] };
    agents.push({
      adapterType: spec.adapterType,
      id: created.id,
      adapterConfig: spec.adapterConfig,
      server: spec.server,
      // The adapter's own command line (src/adapters/*/…Cli.ts), a fresh session.
      direct: { command: config.command, args: cli ? cli.commandLine(config, null) : config.args!, env: config.env ?? {}, cwd: config.cwd },
    });
  }
  return agents;
}

/** Wakes the agent through the API and reads the finished run's figures from its row, events and log. */
async function vigilRun(vigil: RunningVigil, adminToken: string, root: string, agent: BenchAgent, taskId: string): Promise<VigilSample> {
  const calledAt = Date.now();
  const response = await fetch(`${vigil.apiUrl}/api/agents/${agent.id}/wakeup`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ payload: { taskId } }),
  });
  const woken: any = await response.json();
  if (response.status !== 202) throw new Error(`wakeup ${agent.adapterType} → ${response.status} ${JSON.stringify(woken)}`);
  const deadline = calledAt + RUN_TIMEOUT_MS;
  let row = await vigil.prisma.heartbeatRun.findUniqueOrThrow({ where: { id: woken.id } });
  while (!TERMINAL.includes(row.status)) {
    if (Date.now() > deadline) throw new Error(`${agent.adapterType} run ${row.id} still ${row.status} after ${RUN_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
    row = await vigil.prisma.heartbeatRun.findUniqueOrThrow({ where: { id: woken.id } });
  }
  if (row.status !== 'succeeded') throw new Error(`${agent.adapterType} run ${row.id} ended ${row.status}: ${row.error}`);

  const events = await vigil.prisma.heartbeatRunEvent.findMany({ where: { runId: row.id }, orderBy: { seq: 'asc' } });
  const invoke = events.find((e) => e.eventType === 'adapter.invoke');
  const outputs = events.filter((e) => invoke && e.seq > invoke.seq && OUTPUT_EVENTS.includes(e.eventType));
  if (!invoke || outputs.length === 0) throw new Error(`${agent.adapterType} run ${row.id}: no adapter.invoke or no output event`);
  const spawned = row.processStartedAt!.getTime();
  const finished = row.finishedAt!.getTime();
  // The run's stored log (run_log_chunks, in order), as the API serves it.
  const chunks = await vigil.prisma.runLogChunk.findMany({ where: { runId: row.id }, orderBy: { seq: 'asc' }, select: { content: true } });
  const lines = chunks.map((chunk) => chunk.content).join('').trim().split('\n').map((line) => JSON.parse(line) as { ts: string });
  return {
    spawnToFirstOutput: outputs[0].createdAt.getTime() - spawned,
    lastOutputToFinished: finished - outputs[outputs.length - 1].createdAt.getTime(),
    spawnToFinished: finished - spawned,
    apiToFinished: finished - calledAt,
    spawnToFirstLine: new Date(lines[0].ts).getTime() - spawned,
    spawnToLastLine: new Date(lines[lines.length - 1].ts).getTime() - spawned,
  };
}

/**
 * The same command without Vigil: same arguments, config env, cwd and prompt on stdin. Provider
 * variables inherited from the shell are dropped (as test/support/agentCliConfigs.ts does).
 */
function directRun(agent: BenchAgent, prompt: string): Promise<DirectSample> {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(ANTHROPIC_|CLAUDE_|OPENAI_|CODEX_|VIGIL_)/.test(name)));
  const { command, args, env, cwd } = agent.direct;
  const child = spawn(command, args, { cwd, env: { ...inherited, ...env }, stdio: 'pipe' });
  directChild = child;
  // After spawn() returns, as Vigil's `process_started_at` is (the fork itself is not counted).
  const started = performance.now();
  let firstOutput: number | null = null;
  let stderr = '';
  const noteOutput = () => (firstOutput ??= performance.now() - started);
  child.stdout.on('data', noteOutput);
  child.stderr.on('data', (data: Buffer) => {
    noteOutput();
    stderr += data.toString('utf8');
  });
  child.stdin.on('error', () => {});
  child.stdin.end(agent.adapterType === 'process' ? '' : prompt);
  const killer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(killer);
      reject(error);
    });
    child.once('exit', (code) => {
      const exit = performance.now() - started;
      clearTimeout(killer);
      directChild = null;
      if (code !== 0) reject(new Error(`${command} (direct) exited ${code}: ${stderr.slice(-500)}`));
      else resolve({ firstOutput: firstOutput ?? exit, exit });
    });
  });
}

const ms = (v: number) => `${v.toFixed(0)}`;
const pair = (values: number[]) => `${ms(percentile(values, 50))} / ${ms(percentile(values, 90))} ms`;
const ratio = (values: number[], base: number[]) =>
  `${(percentile(values, 50) / percentile(base, 50)).toFixed(1)}× / ${(percentile(values, 90) / percentile(base, 90)).toFixed(1)}×`;

function report(vigilSamples: Map<AdapterType, VigilSample[]>, directSamples: Map<AdapterType, DirectSample[]>, modelCalls: Map<AdapterType, number>) {
  const figures: Array<[string, keyof VigilSample]> = [
    ['spawn → first output event (batched: ≤ 200 ms after the first line, or at exit)', 'spawnToFirstOutput'],
    ['last output event → run finished (finalize)', 'lastOutputToFinished'],
    ['spawn → run finished', 'spawnToFinished'],
    ['API call → run finished', 'apiToFinished'],
    ['spawn → first output line received (log file, before batching; mostly CLI start-up)', 'spawnToFirstLine'],
    ['spawn → last output line received (log file)', 'spawnToLastLine'],
  ];
  console.log(`\n### Through Vigil (${RUNS} runs each, p50 / p90; × = ÷ the process baseline's p50 / p90)\n`);
  console.log('| figure | `process` (baseline) | `claude_local` | × | `codex_local` | × |\n|---|---|---|---|---|---|');
  for (const [label, key] of figures) {
    const col = (type: AdapterType) => vigilSamples.get(type)!.map((s) => s[key]);
    // The log-file rows divide by the baseline's 1–3 ms: a ratio there says nothing.
    const times = (type: AdapterType) => (key.endsWith('Line') ? '—' : ratio(col(type), col('process')));
    console.log(`| ${label} | ${pair(col('process'))} | ${pair(col('claude_local'))} | ${times('claude_local')} | ${pair(col('codex_local'))} | ${times('codex_local')} |`);
  }
  console.log(`\n### The same commands run directly, no Vigil (the CLI's own time; p50 / p90)\n`);
  console.log('| figure | `/bin/sh -c echo` | Claude Code | Codex |\n|---|---|---|---|');
  for (const [label, key] of [['spawn → first output', 'firstOutput'], ['spawn → exit', 'exit']] as const) {
    console.log(`| ${label} | ${ADAPTERS.map((type) => pair(directSamples.get(type)!.map((s) => s[key]))).join(' | ')} |`);
  }
  console.log('\nWhat Vigil adds around the command, p50s: before = API call → spawn (enqueue, workflow, claim, prepare);');
  console.log('after = spawn → run finished through Vigil − spawn → exit run directly (output, supervision, finalize):');
  for (const type of ADAPTERS) {
    const p50 = (values: number[]) => percentile(values, 50);
    const samples = vigilSamples.get(type)!;
    const before = p50(samples.map((s) => s.apiToFinished - s.spawnToFinished));
    const after = p50(samples.map((s) => s.spawnToFinished)) - p50(directSamples.get(type)!.map((s) => s.exit));
    console.log(`- ${type}: before ${ms(before)} ms, after ${ms(after)} ms`);
  }
  console.log('\nModel requests per run (fake servers, measured rounds and warm-ups, Vigil and direct):');
  for (const [type, count] of modelCalls) console.log(`- ${type}: ${(count / (2 * (RUNS + WARM_UPS))).toFixed(2)}`);
}

async function main() {
  // `on`, not `once`: tsx relays the terminal's Ctrl-C a second time, which must not end the clean-up.
  let stopping = false;
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log(`${signal}: stopping everything this benchmark started`);
      void stopEverything().then(() => process.exit(code));
    });
  }
  const servers = await startBenchServers('vigil-bench-agents', log);
  opened.push({ what: 'PostgreSQL and Temporal', stop: () => servers.stop() });
  const { root } = servers;
  const claudeHome = await createClaudeHome();
  opened.push({ what: 'Claude HOME', stop: () => claudeHome.remove() });
  const codexHome = await createCodexHome();
  opened.push({ what: 'CODEX_HOME', stop: () => codexHome.remove() });
  const anthropic = await startAnthropicMessagesServer();
  opened.push({ what: 'fake Anthropic server', stop: () => anthropic.close() });
  const openai = await startOpenAiResponsesServer();
  opened.push({ what: 'fake OpenAI server', stop: () => openai.close() });
  const { vigil, adminToken } = await startBenchVigil(servers, { name: 'bench-agents', dataDir: root });
  opened.push({ what: 'Vigil', stop: () => vigil.stop() });
  opened.push({
    what: 'agent processes',
    // A run cut short leaves its CLI's process group (setsid) behind: end it by its id, first.
    stop: async () => {
      directChild?.kill('SIGKILL');
      const live = await vigil.prisma.heartbeatRun.findMany({ where: { status: 'running', processGroupId: { not: null } }, select: { processGroupId: true } });
      for (const { processGroupId } of live) {
        try {
          process.kill(-processGroupId!, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    },
  });
  const agents = await prepareAgents(vigil, adminToken, root, { anthropic, openai, claudeHome, codexHome });

  const vigilSamples = new Map<AdapterType, VigilSample[]>(ADAPTERS.map((type) => [type, []]));
  const directSamples = new Map<AdapterType, DirectSample[]>(ADAPTERS.map((type) => [type, []]));
  log(`${os.cpus().length} cores; ${WARM_UPS} warm-up rounds, then ${RUNS} rounds of: one run per agent through Vigil, then each command directly`);
  for (let round = 0; round < WARM_UPS + RUNS; round++) {
    const measured = round >= WARM_UPS;
    for (const agent of agents) {
      const taskId = `bench-${round}-${agent.adapterType}`;
      const sample = await vigilRun(vigil, adminToken, root, agent, taskId);
      if (measured) vigilSamples.get(agent.adapterType)!.push(sample);
    }
    for (const agent of agents) {
      const prompt = renderAgentPrompt({
        agent: { name: `bench-${agent.adapterType}`, role: 'engineer' },
        issue: null,
        wake: { reason: 'on_demand', payload: { taskId: `bench-direct-${round}` } },
        resumes: null,
        api: { url: vigil.apiUrl },
      });
      const sample = await directRun(agent, prompt);
      if (measured) directSamples.get(agent.adapterType)!.push(sample);
    }
    if (measured && (round - WARM_UPS + 1) % 5 === 0) log(`${round - WARM_UPS + 1}/${RUNS} rounds`);
  }
  const modelCalls = new Map<AdapterType, number>(agents.filter((a) => a.server).map((a) => [a.adapterType, a.server!.modelRequests().length]));
  report(vigilSamples, directSamples, modelCalls);
}

main()
  .catch((error) => {
    // Once a signal started the clean-up, the run in flight fails because of it: not news.
    if (stopped === null) console.error(error);
    process.exitCode = 1;
  })
  .finally(() => stopEverything());
