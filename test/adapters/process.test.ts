import { execFileSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually, isPidAlive } from '../support/fixtures.ts';
import { isProcessGroupAlive, terminateProcessGroup } from '../../src/adapters/processGroup.ts';
import { runProcessAdapter } from '../../src/adapters/process.ts';
import type { AdapterOutputChunk, AdapterSpawnInfo, ProcessAdapterConfig } from '../../src/adapters/types.ts';
import type { AdapterResult } from '../../src/domain/adapterResult.ts';

const AGENTS = fileURLToPath(new URL('../fixtures/agents/', import.meta.url));
const agentPath = (name: string): string => path.join(AGENTS, name);

/** A run token that matches no generic pattern, so only exact-secret redaction can hide it. */
const RUN_TOKEN = 'plain-run-token-4f9c2b7e1d';

interface AgentRun {
  result: Promise<AdapterResult>;
  spawned: Promise<AdapterSpawnInfo>;
  chunks: AdapterOutputChunk[];
  /** "spawn" and "output" in the order the adapter called back. */
  callbacks: string[];
  controller: AbortController;
  stdoutText(): string;
  allText(): string;
  /** Resolves once the joined output contains `text`. */
  outputContains(text: string): Promise<void>;
}

interface StartOptions {
  config?: Partial<ProcessAdapterConfig>;
  vigilEnv?: Record<string, string>;
  secrets?: string[];
  baseEnv?: Record<string, string | undefined>;
  onSpawn?: (info: AdapterSpawnInfo) => Promise<void>;
  signal?: AbortSignal;
}

/** Every process group a test started: ended after it, whether it passed or failed. */
const startedGroups = new Set<number>();

afterEach(async () => {
  for (const pgid of startedGroups) {
    if (await isProcessGroupAlive(pgid)) await terminateProcessGroup(pgid, { graceMs: 200 });
  }
  startedGroups.clear();
});

function startAgent(command: string, options: StartOptions = {}): AgentRun {
  const chunks: AdapterOutputChunk[] = [];
  const callbacks: string[] = [];
  const controller = new AbortController();
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  let resolveSpawned!: (info: AdapterSpawnInfo) => void;
  const spawned = new Promise<AdapterSpawnInfo>((resolve) => (resolveSpawned = resolve));
  const allText = (): string => chunks.map((c) => c.text).join('');
  const result = runProcessAdapter({
    config: { command, graceSec: 1, ...options.config },
    env: options.vigilEnv ?? { VIGIL_RUN_ID: 'run-1', VIGIL_API_KEY: RUN_TOKEN },
    secrets: options.secrets ?? [RUN_TOKEN],
    signal: options.signal ?? controller.signal,
    baseEnv: options.baseEnv,
    async onSpawn(info) {
      startedGroups.add(info.processGroupId);
      callbacks.push('spawn');
      await options.onSpawn?.(info);
      resolveSpawned(info);
    },
    onOutput(chunk) {
      callbacks.push('output');
      chunks.push(chunk);
      const text = allText();
      for (const waiter of waiters.splice(0)) {
        if (text.includes(waiter.text)) waiter.resolve();
        else waiters.push(waiter);
      }
    },
  });
  return {
    result,
    spawned,
    chunks,
    callbacks,
    controller,
    allText,
    stdoutText: () => chunks.filter((c) => c.stream === 'stdout').map((c) => c.text).join(''),
    outputContains: (text) =>
      allText().includes(text) ? Promise.resolve() : new Promise((resolve) => waiters.push({ text, resolve })),
  };
}

const sh = (script: string, options: StartOptions = {}): AgentRun =>
  startAgent('/bin/sh', { ...options, config: { args: ['-c', script], ...options.config } });

interface ProcessRow {
  pid: number;
  pgid: number;
  stat: string;
}

function processTable(): ProcessRow[] {
  return execFileSync('ps', ['-eo', 'pid=,pgid=,stat='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .map(([pid, pgid, stat]) => ({ pid: Number(pid), pgid: Number(pgid), stat }));
}

/**
 * The group is gone: signal 0 to it fails with ESRCH. This machine's PID 1 reaps orphans only
 * every second or two, so members that already died may linger as zombies for a moment; those
 * are dead, not left behind.
 */
function expectGroupGone(pgid: number): void {
  let code: string | undefined;
  try {
    process.kill(-pgid, 0);
  } catch (err) {
    code = (err as NodeJS.ErrnoException).code;
  }
  if (code === 'ESRCH') return;
  const alive = processTable().filter((row) => row.pgid === pgid && !row.stat.startsWith('Z'));
  expect(alive).toEqual([]);
}

function expectPidDead(pid: number): void {
  const row = processTable().find((r) => r.pid === pid);
  expect(row === undefined || row.stat.startsWith('Z')).toBe(true);
}

async function waitForGroupMembers(pgid: number, count: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (processTable().filter((row) => row.pgid === pgid && !row.stat.startsWith('Z')).length >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`process group ${pgid} never reached ${count} members`);
}

function pidFromOutput(text: string, label: string): number {
  const match = new RegExp(`${label} (\\d+)`).exec(text);
  if (!match) throw new Error(`no "${label} <pid>" in output: ${text}`);
  return Number(match[1]);
}

describe('process adapter', () => {
  it('reports the summary and the other keys of the result line when the agent succeeds', async () => {
    const run = startAgent(agentPath('succeed.sh'));
    const result = await run.result;
    expect(result).toMatchObject({
      exitCode: 0,
      signal: null,
      timedOut: false,
      cancelled: false,
      processLost: false,
      summary: 'Fixed the flaky test',
      errorMessage: null,
      errorCode: null,
      errorFamily: null,
    });
    expect(result.resultJson).toMatchObject({ costUsd: 0.012, usage: { input_tokens: 120, output_tokens: 45 } });
    expect(result.resultJson).not.toHaveProperty('type');
    expect(result.resultJson).not.toHaveProperty('summary');
    expect(result.resultJson.stdout).toContain('progress: 2/2 steps done');
    expect(result.stdoutExcerpt).toContain('editing src/flaky.test.ts');
    expect(result.finishedAt.getTime()).toBeGreaterThanOrEqual(result.startedAt.getTime());
  });

  it('falls back to the last non-empty stdout text, at most 4 KiB, when there is no result line', async () => {
    const short = await sh('echo first; echo; echo "all done here"; echo; echo "   "').result;
    expect(short.summary).toBe('first\n\nall done here');
    const long = await sh('echo early; head -c 10000 /dev/zero | tr "\\0" x; echo; echo "last words"').result;
    expect(Buffer.byteLength(long.summary ?? '', 'utf8')).toBeLessThanOrEqual(4096);
    expect(long.summary?.endsWith('last words')).toBe(true);
    expect(long.summary).not.toContain('early');
    const silent = await sh('true').result;
    expect(silent.summary).toBeNull();
  });

  it('fails with the exit code and the stderr tail, and succeeds on exit 0 despite stderr text', async () => {
    const failed = await startAgent(agentPath('fail.sh')).result;
    expect(failed.exitCode).toBe(3);
    expect(failed.errorMessage).toBe('Process exited with code 3: fatal: could not parse the task description');
    expect(failed.errorFamily).toBeNull();
    expect(failed.errorCode).toBeNull();
    expect(failed.stderrExcerpt).toContain('fatal: could not parse');

    const noisy = await sh('echo "warning: deprecated flag" >&2; exit 0').result;
    expect(noisy.errorMessage).toBeNull();
    expect(noisy.stderrExcerpt).toContain('warning');
  });

  it('classifies an overloaded or rate-limited upstream as transient_upstream', async () => {
    const overloaded = await startAgent(agentPath('overloaded.sh')).result;
    expect(overloaded.exitCode).toBe(1);
    expect(overloaded.errorFamily).toBe('transient_upstream');
    expect(overloaded.errorMessage).toContain('overloaded (HTTP 503)');

    const rateLimited = await sh('echo "429 Too Many Requests: rate-limited, retry later" >&2; exit 2').result;
    expect(rateLimited.errorFamily).toBe('transient_upstream');

    const explicit = await sh(
      `echo '{"type":"result","summary":"gave up","errorFamily":"transient_upstream","errorCode":"claude_transient_upstream","retryNotBefore":"2030-01-01T00:00:00Z"}'; exit 1`,
    ).result;
    expect(explicit).toMatchObject({
      errorFamily: 'transient_upstream',
      errorCode: 'claude_transient_upstream',
      retryNotBefore: '2030-01-01T00:00:00.000Z',
      summary: 'gave up',
    });

    const ordinaryFailure = await sh('echo "processed 429 files, 503 left"; exit 1').result;
    expect(ordinaryFailure.errorFamily).toBeNull();
    const succeededAnyway = await sh('echo "model overloaded, retried, fine"; exit 0').result;
    expect(succeededAnyway.errorFamily).toBeNull();
  });

  it('times out: SIGTERM to the group, timedOut, and the group is gone', async () => {
    const run = startAgent(agentPath('sleep.sh'), { config: { timeoutSec: 1, graceSec: 1 } });
    const { processGroupId } = await run.spawned;
    const result = await run.result;
    expect(result).toMatchObject({ timedOut: true, cancelled: false, processLost: false, signal: 'SIGTERM' });
    expect(result.errorMessage).toBe('Timed out after 1s');
    expect(result.resultJson.killEscalatedToSigkill).toBeUndefined(); // SIGTERM was enough: no SIGKILL after the grace
    expectGroupGone(processGroupId);
  });

  it('escalates a timeout to SIGKILL after the grace when the group ignores SIGTERM', async () => {
    const run = startAgent(agentPath('stubborn.sh'), { config: { timeoutSec: 1, graceSec: 1 } });
    const { processGroupId } = await run.spawned;
    await run.outputContains('ignoring SIGTERM');
    const grandchild = pidFromOutput(run.allText(), 'grandchild pid');
    const result = await run.result;
    expect(result).toMatchObject({ timedOut: true, processLost: false, signal: 'SIGKILL' });
    expect(result.resultJson.killEscalatedToSigkill).toBe(true);
    expect(result.errorMessage).toMatch(/^Timed out after 1s; process group \d+ ignored SIGTERM and was killed with SIGKILL/);
    // SIGTERM came first and the group outlived it: the SIGKILL followed, after the grace.
    expect(run.allText()).toContain('got SIGTERM, ignoring it');
    expectGroupGone(processGroupId);
    expectPidDead(grandchild);
  });

  it('cancel while running kills the whole group, the SIGTERM-proof grandchild included', async () => {
    const run = startAgent(agentPath('stubborn.sh'), { config: { graceSec: 1 } });
    const { pid, processGroupId } = await run.spawned;
    await run.outputContains('ignoring SIGTERM');
    const grandchild = pidFromOutput(run.allText(), 'grandchild pid');
    run.controller.abort();
    const result = await run.result;
    expect(result).toMatchObject({ cancelled: true, timedOut: false, processLost: false, signal: 'SIGKILL' });
    expect(result.errorMessage).toContain(`Cancelled; process group ${processGroupId} was terminated`);
    expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
    expectGroupGone(processGroupId);
    expectPidDead(grandchild);
  });

  it('cancel of an agent that honours SIGTERM resolves when the group is gone, not after the grace', async () => {
    // An hour of grace: waiting it out would fail the test by its own timeout.
    const run = startAgent(agentPath('sleep.sh'), { config: { graceSec: 3600 } });
    const { processGroupId } = await run.spawned;
    await run.outputContains('working');
    run.controller.abort();
    const result = await run.result;
    expect(result).toMatchObject({ cancelled: true, signal: 'SIGTERM', processLost: false });
    expect(result.resultJson.killEscalatedToSigkill).toBeUndefined();
    expectGroupGone(processGroupId);
  });

  it('does not start the process when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const run = startAgent(agentPath('sleep.sh'), { signal: controller.signal });
    const result = await run.result;
    expect(run.callbacks).toEqual([]);
    expect(result).toMatchObject({ cancelled: true, exitCode: null, errorMessage: 'Cancelled before the process started' });
  });

  it('reports process lost when the child is killed with SIGKILL from outside', async () => {
    const run = startAgent(agentPath('sleep.sh'));
    const { pid, processGroupId } = await run.spawned;
    await run.outputContains('working');
    await waitForGroupMembers(processGroupId, 2); // the shell and its `sleep`
    process.kill(pid, 'SIGKILL');
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
    // sleep.sh's own `sleep` child survived the leader; it must not outlive the run.
    expect(result.resultJson.descendantsKilled).toBe(true);
    expectGroupGone(processGroupId);
  });

  it('kills descendants that a leader which exited 0 left in its group', async () => {
    const run = startAgent(agentPath('leaves-descendant.sh'));
    const { processGroupId } = await run.spawned;
    const result = await run.result;
    const descendant = pidFromOutput(result.stdoutExcerpt, 'descendant pid');
    expect(result).toMatchObject({ exitCode: 0, errorMessage: null, processLost: false });
    expect(result.resultJson.descendantsKilled).toBe(true);
    expectGroupGone(processGroupId);
    expectPidDead(descendant);
  });

  it('fails cleanly, without onSpawn, when the command or the working directory does not exist', async () => {
    const missing = startAgent('/nonexistent/agent-binary');
    const missingResult = await missing.result;
    expect(missing.callbacks).toEqual([]);
    expect(missingResult).toMatchObject({ exitCode: null, processLost: false, errorMessage: 'Command not found: /nonexistent/agent-binary' });

    const onPath = await startAgent('vigil-no-such-agent-cli').result;
    expect(onPath.errorMessage).toBe('Command not found: vigil-no-such-agent-cli');

    const dir = mkdtempSync(path.join(tmpdir(), 'vigil-agent-'));
    const notExecutable = path.join(dir, 'agent.sh');
    writeFileSync(notExecutable, '#!/bin/sh\necho hi\n');
    chmodSync(notExecutable, 0o644);
    expect((await startAgent(notExecutable).result).errorMessage).toBe(
      `Command is not executable (permission denied): ${notExecutable}`,
    );

    const badCwd = startAgent(agentPath('succeed.sh'), { config: { cwd: '/nonexistent/workspace' } });
    expect((await badCwd.result).errorMessage).toBe('Working directory does not exist: /nonexistent/workspace');
    expect(badCwd.callbacks).toEqual([]);

    const cwdRun = await sh('pwd', { config: { cwd: dir } }).result;
    expect(cwdRun.summary).toBe(dir);
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives the child the VIGIL_* variables, which config.env cannot override, and none of Vigil’s own settings', async () => {
    const run = startAgent(agentPath('print-env.sh'), {
      config: { env: { VIGIL_RUN_ID: 'spoofed', VIGIL_API_KEY: 'spoofed-key', AGENT_FLAVOUR: 'mild', PRINT_ENV_EXTRA: 'AGENT_FLAVOUR PATH DATABASE_URL' } },
      vigilEnv: { VIGIL_RUN_ID: 'run-42', VIGIL_AGENT_ID: 'agent-7', VIGIL_API_KEY: RUN_TOKEN, VIGIL_CONTEXT: '{"issueId":"i-1"}' },
      baseEnv: { PATH: process.env.PATH, VIGIL_ADMIN_TOKEN: 'vga_should_not_leak_0000', VIGIL_RUN_TOKEN_SECRET: 'xyz', DATABASE_URL: 'postgres://u:p@h/db' },
    });
    const result = await run.result;
    expect(result.exitCode).toBe(0);
    expect(result.resultJson.env).toEqual({
      VIGIL_AGENT_ID: 'agent-7',
      VIGIL_API_KEY: '[REDACTED]',
      VIGIL_CONTEXT: '{"issueId":"i-1"}',
      VIGIL_RUN_ID: 'run-42',
    });
    expect(result.resultJson.extra).toEqual({ AGENT_FLAVOUR: 'mild', PATH: process.env.PATH });
  });

  it('never lets a secret reach onOutput, excerpts, summary, resultJson or errorMessage', async () => {
    for (const secrets of [[RUN_TOKEN], []]) {
      // With no explicit secrets the token is still hidden: VIGIL_API_KEY is secret-named.
      const run = startAgent(agentPath('echo-token.sh'), { secrets, config: { env: { EXIT_CODE: '2' } } });
      const result = await run.result;
      const everything = JSON.stringify({ chunks: run.chunks, result });
      expect(everything).not.toContain(RUN_TOKEN);
      expect(everything).not.toContain(RUN_TOKEN.slice(0, 13)); // nor half of it (the split write)
      expect(run.stdoutText()).toContain('Authorization: Bearer [REDACTED]');
      expect(run.stdoutText()).toContain('split [REDACTED]');
      expect(result.summary).toBe('used [REDACTED]');
      expect(result.resultJson.note).toBe('[REDACTED]');
      expect(result.errorMessage).toBe('Process exited with code 2: Authorization: Bearer [REDACTED]');
    }
    // Shapes redacted without being told: a run token in the vgr_ format.
    const shaped = await sh('echo "key vgr_123e4567-e89b-12d3-a456-426614174000.c2lnbmF0dXJl"', { secrets: [], vigilEnv: {} }).result;
    expect(shaped.summary).toBe('key [REDACTED]');
  });

  it('calls onSpawn with pid == pgid before any output, and holds output until it returns', async () => {
    const callbacksDuringSpawn: string[][] = [];
    const run: AgentRun = sh('echo one; echo two >&2; echo three', {
      async onSpawn(info) {
        expect(info.pid).toBe(info.processGroupId);
        expect(info.startedAt).toBeInstanceOf(Date);
        // A slow database write: the child prints everything and exits meanwhile, and none of it
        // may reach onOutput before this returns.
        await eventually(async () => !(await isPidAlive(info.pid)), 10_000, 'the child to exit');
        callbacksDuringSpawn.push([...run.callbacks]);
      },
    });
    const result = await run.result;
    expect(callbacksDuringSpawn).toEqual([['spawn']]);
    expect(run.callbacks[0]).toBe('spawn');
    expect(run.callbacks.filter((c) => c === 'spawn')).toHaveLength(1);
    expect(run.stdoutText()).toBe('one\nthree\n');
    expect(run.chunks.filter((c) => c.stream === 'stderr').map((c) => c.text).join('')).toBe('two\n');
    expect(result.exitCode).toBe(0);
  });

  it('rejects, after killing the group, when onSpawn throws', async () => {
    let pgid = 0;
    const run = startAgent(agentPath('sleep.sh'), {
      async onSpawn(info) {
        pgid = info.processGroupId;
        throw new Error('could not record the pid');
      },
    });
    await expect(run.result).rejects.toThrow('could not record the pid');
    expectGroupGone(pgid);
  });

  it('decodes UTF-8 split across reads and keeps very long lines out of memory', async () => {
    // "€" is E2 82 AC; the two writes arrive as separate reads.
    const split = await sh("printf 'price: \\342\\202'; sleep 0.2; printf '\\254\\n'").result;
    expect(split.stdoutExcerpt).toBe('price: €\n');

    const run = sh("head -c 3000000 /dev/zero | tr '\\0' a; echo; echo end");
    const result = await run.result;
    const delivered = run.stdoutText();
    expect(delivered.length).toBe(3_000_000 + '\nend\n'.length);
    expect(Buffer.byteLength(result.stdoutExcerpt)).toBeLessThanOrEqual(8192);
    expect(Buffer.byteLength(String(result.resultJson.stdout))).toBeLessThanOrEqual(4096);
    expect(result.resultJson.outputTruncated).toBe(true);
    expect(result.summary?.endsWith('end')).toBe(true);
    expect(Buffer.byteLength(result.summary ?? '')).toBeLessThanOrEqual(4096);
  });
});
