/**
 * Ctrl-C or SIGTERM at any moment of `npm start` stops what it started. Each scenario runs the
 * real `npm start` in a process group of its own (as a terminal runs it), holds its start-up at
 * one point with the VIGIL_STARTUP_PAUSE_AT hook (or catches a moment from the outside, through
 * `/api/health`), sends the signal the way a person (Ctrl-C: SIGINT to the whole group, which npm
 * also forwards) or a supervisor (SIGTERM to npm's pid) does, and after the exit finds none of the
 * processes it had started. The scenarios share one data directory, so each one also proves that
 * a start after an interrupted one works.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { access, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { findFreePorts } from '../../src/platform/freePorts.ts';
import type { StartupPoint } from '../../src/platform/startupInterrupt.ts';
import { eventually } from '../support/fixtures.ts';
import { processesOf, type FoundProcess } from './processScan.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dataDir = '';
let env: Record<string, string> = {};
let apiUrl = '';
/** Every process a scenario saw, killed in afterEach if it is still there (a failed test). */
const seen = new Map<number, FoundProcess>();
let current: NpmStart | null = null;

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'vigil-signals-'));
  const [port, pgPort, temporalPort, uiPort] = await findFreePorts(4);
  apiUrl = `http://127.0.0.1:${port}`;
  env = {
    VIGIL_DATA_DIR: dataDir,
    HOST: '127.0.0.1',
    PORT: String(port),
    VIGIL_PG_PORT: String(pgPort),
    TEMPORAL_PORT: String(temporalPort),
    TEMPORAL_UI_PORT: String(uiPort),
    VIGIL_LOG_LEVEL: 'warn',
  };
});

afterEach(async () => {
  if (current && current.running()) {
    kill(-current.child.pid!, 'SIGKILL');
    await current.exited;
  }
  current = null;
  for (const found of [...seen.values(), ...processesOf(dataDir, null)]) kill(found.pid, 'SIGKILL');
  seen.clear();
});

afterAll(async () => {
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

interface NpmStart {
  child: ChildProcess;
  output(): string;
  running(): boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function npmStart(pauseAt?: StartupPoint): NpmStart {
  const child = spawn('npm', ['start'], {
    cwd: ROOT,
    env: { ...process.env, ...env, ...(pauseAt ? { VIGIL_STARTUP_PAUSE_AT: pauseAt } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // its own process group, like a terminal's foreground job
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }));
  current = { child, output: () => output, running: () => child.exitCode === null && child.signalCode === null, exited };
  return current;
}

async function outputShows(started: NpmStart, text: string, timeoutMs = 60_000): Promise<void> {
  await eventually(async () => started.output().includes(text) || !started.running(), timeoutMs, `"${text}"`);
  if (!started.output().includes(text)) throw new Error(`npm start exited before "${text}":\n${started.output()}`);
}

async function health(): Promise<{ status: number; body: { status: string; db: string; temporal: string } } | null> {
  try {
    const response = await fetch(`${apiUrl}/api/health`);
    return { status: response.status, body: (await response.json()) as { status: string; db: string; temporal: string } };
  } catch {
    return null; // not listening yet
  }
}

/** What this start has running right now, remembered for the cleanup. */
function scan(started: NpmStart): FoundProcess[] {
  const found = processesOf(dataDir, started.child.pid!);
  for (const process of found) seen.set(process.pid, process);
  return found;
}

/**
 * Sends `signal` the way it arrives in real life: `group` is a Ctrl-C (the terminal signals the
 * whole foreground group: npm, which forwards it, and node), `npm` a supervisor's SIGTERM.
 * Expects a clean stop: exit code 0, `stopped`, and nothing left of what was running before.
 */
async function stopAndExpectNothingLeft(started: NpmStart, signal: NodeJS.Signals, to: 'group' | 'npm'): Promise<FoundProcess[]> {
  const before = scan(started);
  kill(to === 'group' ? -started.child.pid! : started.child.pid!, signal);
  const exit = await started.exited;
  expect(exit, started.output()).toEqual({ code: 0, signal: null });
  expect(started.output()).toContain(`[vigil] ${signal}: stopping`);
  expect(started.output()).toContain('[vigil] stopped');
  // The servers are stopped before the process exits, not after.
  expect(processesOf(dataDir, null).map((found) => found.commandLine)).toEqual([]);
  for (const { pid } of before) expect(isRunning(pid), `pid ${pid} is still running`).toBe(false);
  // Helpers in its group without a stop of their own (tsx's esbuild service) go with their stdin.
  await eventually(async () => processesOf(dataDir, started.child.pid!).length === 0, 10_000, 'its process group to be empty');
  return before;
}

/** Alive and not a zombie. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

// A backend the postmaster has just forked still shows the postmaster's command line until it
// sets its title, and leads a group of its own too (PostgreSQL's children call setsid): the
// postmaster is the match whose parent is not itself a match.
const postmasters = (found: FoundProcess[]) => {
  const matches = found.filter((p) => p.commandLine.includes(`-D ${path.join(dataDir, 'postgres')}`));
  return matches.filter((p) => !matches.some((other) => other.pid === p.parentPid));
};
const temporalServers = (found: FoundProcess[]) => found.filter((p) => p.commandLine.includes('server start-dev'));
const exists = (file: string) => access(path.join(dataDir, file)).then(() => true, () => false);

describe('a signal during npm start', () => {
  it('Ctrl-C while PostgreSQL starts (first start): the postmaster that was not ready yet is stopped', async () => {
    const started = npmStart('postgres-spawned');
    await outputShows(started, 'paused at postgres-spawned');
    const before = await stopAndExpectNothingLeft(started, 'SIGINT', 'group');
    expect(postmasters(before)).toHaveLength(1);
    expect(started.output()).toContain('PostgreSQL stopped before it was ready');
    // One Ctrl-C reached node twice (terminal and npm): one stop, not a forced exit.
    expect(started.output().match(/SIGINT: stopping/g)).toHaveLength(1);
    expect(started.output()).not.toContain('again: exiting now');
    expect(await exists('postgres/postmaster.pid')).toBe(false);
  });

  it('SIGTERM during migrations: PostgreSQL is stopped', async () => {
    const started = npmStart('migrations');
    await outputShows(started, 'paused at migrations');
    expect(started.output()).toMatch(/PostgreSQL 17 started on/); // the interrupted first start left a usable cluster
    const before = await stopAndExpectNothingLeft(started, 'SIGTERM', 'npm');
    expect(postmasters(before)).toHaveLength(1);
    expect(started.output()).toContain('PostgreSQL stopped (pid');
  });

  it('Ctrl-C while the Temporal dev server starts: it and PostgreSQL are stopped', async () => {
    const started = npmStart('temporal-spawned');
    await outputShows(started, 'paused at temporal-spawned');
    const before = await stopAndExpectNothingLeft(started, 'SIGINT', 'group');
    expect(postmasters(before)).toHaveLength(1);
    expect(temporalServers(before)).toHaveLength(1);
    expect(started.output()).toContain('Temporal dev server stopped before it served');
    expect(await exists('temporal/server.json')).toBe(false);
  });

  it('answers 503 "starting" until start-up finished; Ctrl-C at its first answer (the worker bundling) stops everything', async () => {
    const started = npmStart();
    // The API listens before the worker starts (agents get its URL): its first answer comes
    // seconds before the workflow bundle is built.
    const first = await eventually(() => health(), 90_000, '/api/health to answer');
    expect(first).toEqual({ status: 503, body: { status: 'starting', db: 'ok', temporal: 'ok' } });
    const before = await stopAndExpectNothingLeft(started, 'SIGINT', 'group');
    expect(postmasters(before)).toHaveLength(1);
    expect(temporalServers(before)).toHaveLength(1);
    expect(started.output()).not.toContain('Ready.');
  });

  it('SIGTERM right after the first healthy answer: stops everything and leaves a clean data directory', async () => {
    const started = npmStart();
    await eventually(async () => (await health())?.status === 200, 90_000, '/api/health to answer 200');
    const before = await stopAndExpectNothingLeft(started, 'SIGTERM', 'npm');
    expect(postmasters(before)).toHaveLength(1);
    expect(temporalServers(before)).toHaveLength(1);
    for (const file of ['postgres/postmaster.pid', 'postgres.owner.json', 'temporal/server.json', 'temporal/server.pid']) {
      expect(await exists(file), file).toBe(false);
    }
  });
});
