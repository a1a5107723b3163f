/**
 * The per-host spawn helper (issue 12): agents are forked by a small helper process, not on the
 * worker's event loop, and the worker sees them as it saw its own children — pid, own process
 * group, stdin, output in order with backpressure, exit code or signal, the same spawn errors —
 * and never loses one silently: a helper that dies mid-run ends its runs as process_lost, and
 * the next spawn starts a new helper. No process is left behind, whatever the outcome.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { eventually, isPidAlive } from '../support/fixtures.ts';
import { isProcessGroupAlive, terminateProcessGroup } from '../../src/adapters/processGroup.ts';
import { runProcessAdapter } from '../../src/adapters/process.ts';
import type { AgentProcess } from '../../src/adapters/spawnHelper/agentProcess.ts';
import { retainSpawnHelper, spawnAgentProcess, spawnHelperPid, stopSpawnHelper } from '../../src/adapters/spawnHelper/helperClient.ts';
import { OUTPUT_WINDOW_BYTES } from '../../src/adapters/spawnHelper/protocol.ts';
import type { AdapterSpawnInfo, ProcessAdapterConfig } from '../../src/adapters/types.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AGENTS = path.join(ROOT, 'test/fixtures/agents');

/** Every process group and helper a test started: ended after it, whether it passed or failed. */
const startedGroups = new Set<number>();
const helperPids = new Set<number>();
const scratch = mkdtempSync(path.join(tmpdir(), 'vigil-spawn-helper-'));

afterEach(async () => {
  for (const pgid of startedGroups) {
    if (await isProcessGroupAlive(pgid)) await terminateProcessGroup(pgid, { graceMs: 200 });
  }
  startedGroups.clear();
});

afterAll(async () => {
  await stopSpawnHelper();
  for (const pid of helperPids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone, as it should be
    }
  }
  rmSync(scratch, { recursive: true, force: true });
});

function noteHelper(): number {
  const pid = spawnHelperPid();
  if (pid === null) throw new Error('no spawn helper runs');
  helperPids.add(pid);
  return pid;
}

/** Starts `script` with /bin/sh through the helper, in the test's working directory. */
async function shViaHelper(script: string, stdin = false): Promise<AgentProcess> {
  const agent = await spawnAgentProcess({ command: '/bin/sh', args: ['-c', script], cwd: scratch, env: { PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdin });
  startedGroups.add(agent.pid);
  noteHelper();
  return agent;
}

interface Collected {
  stdout: string;
  stderr: string;
  exit: { code: number | null; signal: NodeJS.Signals | null };
}

async function collect(agent: AgentProcess): Promise<Collected> {
  let stdout = '';
  let stderr = '';
  agent.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  agent.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const exited = new Promise<Collected['exit']>((resolve) => agent.once('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve) => agent.once('close', () => resolve()));
  return { stdout, stderr, exit: await exited };
}

/** Like `collect`, counting stdout bytes instead of keeping them. */
async function collectBytes(agent: AgentProcess): Promise<{ stdoutBytes: number; exit: Collected['exit'] }> {
  let stdoutBytes = 0;
  agent.stdout!.on('data', (chunk: Buffer) => (stdoutBytes += chunk.length));
  const exited = new Promise<Collected['exit']>((resolve) => agent.once('exit', (code, signal) => resolve({ code, signal })));
  await new Promise<void>((resolve) => agent.once('close', () => resolve()));
  return { stdoutBytes, exit: await exited };
}

/** pgrp and session of a live process, from /proc. */
function groupAndSession(pid: number): { pgrp: number; session: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { pgrp: Number(fields[2]), session: Number(fields[3]) };
}

function vmRssKiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1]);
}

function runAgent(command: string, config: Partial<ProcessAdapterConfig> = {}) {
  let resolveSpawned!: (info: AdapterSpawnInfo) => void;
  const spawned = new Promise<AdapterSpawnInfo>((resolve) => (resolveSpawned = resolve));
  const output: string[] = [];
  const result = runProcessAdapter({
    config: { command, graceSec: 1, ...config },
    env: { VIGIL_RUN_ID: 'run-1' },
    secrets: [],
    signal: new AbortController().signal,
    async onSpawn(info) {
      startedGroups.add(info.processGroupId);
      resolveSpawned(info);
    },
    onOutput(chunk) {
      output.push(chunk.text);
    },
  });
  return { result, spawned, output };
}

describe('spawning through the helper', () => {
  it('starts the agent in its own process group and session, outside the helper', async () => {
    const agent = await shViaHelper('sleep 30');
    const helper = noteHelper();
    expect(agent.pid).not.toBe(helper);
    expect(groupAndSession(agent.pid)).toEqual({ pgrp: agent.pid, session: agent.pid });
    // The helper has its own session too: a Ctrl-C meant for Vigil reaches neither.
    expect(groupAndSession(helper).session).toBe(helper);
    expect(groupAndSession(helper).session).not.toBe(groupAndSession(process.pid).session);
    const seen = collect(agent);
    await terminateProcessGroup(agent.pid, { graceMs: 200 });
    expect((await seen).exit).toEqual({ code: null, signal: 'SIGTERM' });
  });

  it('relays stdin, and stdout and stderr each in order, then the exit code', async () => {
    const lines = Array.from({ length: 2_000 }, (_, i) => `line ${i}`);
    const agent = await shViaHelper('cat; i=0; while [ $i -lt 2000 ]; do echo "line $i"; echo "err $i" >&2; i=$((i+1)); done; exit 7', true);
    agent.stdin!.end('the prompt\n');
    const seen = await collect(agent);
    expect(seen.exit).toEqual({ code: 7, signal: null });
    expect(seen.stdout).toBe(`the prompt\n${lines.join('\n')}\n`);
    expect(seen.stderr).toBe(`${lines.map((line) => line.replace('line', 'err')).join('\n')}\n`);
  });

  it('reports the signal that ended the agent', async () => {
    const agent = await shViaHelper('echo up; kill -USR1 $$; sleep 5');
    expect((await collect(agent)).exit).toEqual({ code: null, signal: 'SIGUSR1' });
  });

  it('gives the same spawn errors as a direct spawn: ENOENT and EACCES, with the same texts', async () => {
    await expect(spawnAgentProcess({ command: '/nonexistent/agent', args: [], cwd: scratch, env: {}, stdin: false })).rejects.toMatchObject({ code: 'ENOENT' });

    const missing = runAgent('/nonexistent/agent-binary');
    expect(await missing.result).toMatchObject({ exitCode: null, processLost: false, errorMessage: 'Command not found: /nonexistent/agent-binary' });
    expect((await runAgent('vigil-no-such-agent-cli').result).errorMessage).toBe('Command not found: vigil-no-such-agent-cli');
    const notExecutable = path.join(scratch, 'agent.sh');
    writeFileSync(notExecutable, '#!/bin/sh\necho hi\n');
    chmodSync(notExecutable, 0o644);
    expect((await runAgent(notExecutable).result).errorMessage).toBe(`Command is not executable (permission denied): ${notExecutable}`);
  });

  it('holds a verbose agent back while its output is not read: the helper buffers at most a window', async () => {
    const helperBefore = noteHelper();
    const rssBefore = vmRssKiB(helperBefore);
    // 64 MiB of output, and nobody reads it for a while.
    const agent = await shViaHelper('head -c 67108864 /dev/zero');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    // What reached the worker's side unread: at most the stream's buffer plus one window.
    expect(agent.stdout!.readableLength).toBeLessThanOrEqual(64 * 1024 + OUTPUT_WINDOW_BYTES + 64 * 1024);
    expect(await isPidAlive(agent.pid)).toBe(true); // blocked on its full pipe, not done
    // Nor did the helper take it in: it stopped reading the agent's pipe after one window.
    expect(vmRssKiB(helperBefore) - rssBefore).toBeLessThan(16 * 1024);
    const seen = collectBytes(agent);
    expect(await seen).toEqual({ stdoutBytes: 64 * 1024 * 1024, exit: { code: 0, signal: null } });
  });
});

describe('a helper that dies', () => {
  it('ends its running agent as process_lost with its group killed, and the next spawn starts a new helper', async () => {
    const run = runAgent(path.join(AGENTS, 'sleep.sh'), { env: { SLEEP_SEC: '60' } });
    const { pid, processGroupId } = await run.spawned;
    await eventually(async () => run.output.join('').includes('working'), 10_000, 'the agent to print');
    const helper = noteHelper();
    process.kill(helper, 'SIGKILL');

    const result = await run.result;
    expect(result).toMatchObject({
      processLost: true,
      timedOut: false,
      cancelled: false,
      exitCode: null,
      signal: 'SIGKILL',
      errorCode: 'process_lost',
      errorMessage: `Process lost -- child pid ${pid} was killed by SIGKILL`,
    });
    expect(await isProcessGroupAlive(processGroupId)).toBe(false);
    await eventually(async () => !(await isPidAlive(helper)), 10_000, 'the killed helper to be gone');

    const next = runAgent('/bin/sh', { args: ['-c', 'echo again'] });
    expect(await next.result).toMatchObject({ exitCode: 0, summary: 'again', processLost: false });
    const newHelper = noteHelper();
    expect(newHelper).not.toBe(helper);
  });

  it('refuses a spawn that was waiting for its pid, or ends it as lost: never a silent hang', async () => {
    const helper = noteHelper();
    const waiting = spawnAgentProcess({ command: '/bin/sh', args: ['-c', 'sleep 30'], cwd: scratch, env: {}, stdin: false });
    process.kill(helper, 'SIGKILL');
    // Either the helper died before it read the request (refused), or it started the agent first
    // (then the agent is killed and reported lost like any running one).
    const outcome = await waiting.then(
      async (agent) => {
        startedGroups.add(agent.pid);
        return (await collect(agent)).exit;
      },
      (error: Error) => error.message,
    );
    expect([{ code: null, signal: 'SIGKILL' }, 'the spawn helper exited before it reported the process']).toContainEqual(outcome);
    await eventually(async () => !(await isPidAlive(helper)), 10_000, 'the killed helper to be gone');
  });
});

describe('the helper’s lifetime', () => {
  it('starts when a worker retains it and stops when the last one releases it', async () => {
    await stopSpawnHelper();
    expect(spawnHelperPid()).toBeNull();
    const release = retainSpawnHelper();
    const helper = noteHelper();
    const again = retainSpawnHelper();
    expect(spawnHelperPid()).toBe(helper);
    await release();
    expect(await isPidAlive(helper)).toBe(true);
    await again();
    expect(spawnHelperPid()).toBeNull();
    expect(await isPidAlive(helper)).toBe(false);
  });

  it('waits for open agents before stopping after the last release', async () => {
    const release = retainSpawnHelper();
    const agent = await shViaHelper('sleep 0.5; echo finished');
    const helper = noteHelper();
    await release();
    expect(await isPidAlive(helper)).toBe(true);
    const seen = await collect(agent);
    expect(seen).toMatchObject({ stdout: 'finished\n', exit: { code: 0, signal: null } });
    await eventually(async () => !(await isPidAlive(helper)), 10_000, 'the helper to stop');
  });

  it('exits with its worker process, even one killed with SIGKILL', async () => {
    const script = path.join(scratch, 'worker.mts');
    const client = path.join(ROOT, 'src/adapters/spawnHelper/helperClient.ts');
    writeFileSync(
      script,
      `import { spawnAgentProcess, spawnHelperPid } from ${JSON.stringify(client)};\n` +
        `const agent = await spawnAgentProcess({ command: '/bin/sh', args: ['-c', 'exit 0'], cwd: '/', env: {}, stdin: false });\n` +
        `await new Promise((resolve) => agent.once('close', resolve));\n` +
        `process.stdout.write('HELPER ' + spawnHelperPid() + '\\n');\n` +
        `setInterval(() => {}, 1000);\n`,
    );
    const worker = spawn(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    worker.stdout!.on('data', (chunk) => (output += chunk));
    try {
      const helper = await eventually(async () => Number(/HELPER (\d+)/.exec(output)?.[1]) || null, 30_000, 'the worker to report its helper');
      helperPids.add(helper);
      expect(await isPidAlive(helper)).toBe(true);
      worker.kill('SIGKILL');
      await once(worker, 'exit');
      await eventually(async () => !(await isPidAlive(helper)), 10_000, 'the helper to exit with its worker');
    } finally {
      if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
    }
  });
});
