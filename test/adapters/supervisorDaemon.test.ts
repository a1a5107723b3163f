/**
 * The per-host agent supervisor (issue 13), as a worker meets it: the real daemon started on a
 * temporary directory, spoken to over its socket, starting real agents. An agent outlives the
 * connection that started it, writes its output into its files whoever watches, and is ended by
 * the supervisor at its deadline (R13), on a terminate (R14) or when nobody attaches in time; a
 * supervisor that died leaves its agents lost (R21), and only the very processes it started (pid
 * and start ticks) are killed. No process is left behind, whatever the outcome.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { eventually, isGroupAlive, isPidAlive } from '../support/fixtures.ts';
import { signalProcessGroup } from '../../src/adapters/processGroup.ts';
import { processStartTicks } from '../../src/adapters/supervisor/processStart.ts';
import { encodeLine, LineDecoder, type AgentExit, type SupervisorEvent, type SupervisorRequest } from '../../src/adapters/supervisor/protocol.ts';
import { exitRecordPath, outputPath, processRecordPath, readExit, runDirectory, runsDirectory, socketPath } from '../../src/adapters/supervisor/runFiles.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const AGENTS = path.join(ROOT, 'test/fixtures/agents');
const DAEMON = 'src/adapters/supervisor/daemon.ts';
const ENV = { PATH: process.env.PATH ?? '/usr/bin:/bin' };

/** Every daemon, agent group and stray process a test started: killed after it, passed or failed. */
const daemons = new Set<ChildProcess>();
const groups = new Set<number>();
const clients = new Set<Client>();
const scratch = mkdtempSync(path.join(tmpdir(), 'vigil-supervisor-'));

afterEach(async () => {
  for (const client of clients) client.close();
  clients.clear();
  for (const pgid of groups) signalProcessGroup(pgid, 'SIGKILL');
  for (const daemon of daemons) if (daemon.exitCode === null && daemon.signalCode === null) daemon.kill('SIGKILL');
  for (const pgid of groups) await eventually(async () => !(await isGroupAlive(pgid)), 10_000, `group ${pgid} gone`);
  groups.clear();
  daemons.clear();
});

afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let dirCount = 0;
function freshDir(): string {
  dirCount += 1;
  return path.join(scratch, `sup-${dirCount}`);
}

/** Starts the daemon on `dir` as a worker does: detached, its stderr into a log file. */
function startDaemon(dir: string): ChildProcess {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const logFd = openSync(path.join(dir, 'supervisor.log'), 'a', 0o600);
  const daemon = spawn(process.execPath, ['--import', 'tsx', DAEMON, dir], { cwd: ROOT, detached: true, stdio: ['ignore', 'ignore', logFd] });
  closeSync(logFd);
  daemons.add(daemon);
  return daemon;
}

function exitOf(daemon: ChildProcess): Promise<number | null> {
  if (daemon.exitCode !== null || daemon.signalCode !== null) return Promise.resolve(daemon.exitCode);
  return new Promise((resolve) => daemon.once('exit', (code) => resolve(code)));
}

type Body = SupervisorRequest extends infer R ? (R extends { requestId: number } ? Omit<R, 'requestId'> : never) : never;
type AnyReply = { requestId: number; ok: boolean; [key: string]: unknown };

/** A worker's side of the protocol: requests answered by requestId, exit events kept until asked for. */
class Client {
  private nextId = 1;
  private readonly pending = new Map<number, (reply: AnyReply) => void>();
  private readonly exits = new Map<string, AgentExit>();
  private readonly exitWaiters = new Map<string, (exit: AgentExit) => void>();
  readonly closed: Promise<void>;

  private constructor(readonly socket: Socket) {
    const decoder = new LineDecoder<AnyReply | SupervisorEvent>();
    socket.on('data', (chunk: Buffer) => {
      for (const message of decoder.push(chunk)) {
        if ('event' in message) {
          const { runId, exit } = message as SupervisorEvent;
          this.exits.set(runId, exit);
          this.exitWaiters.get(runId)?.(exit);
        } else {
          const reply = message as AnyReply;
          this.pending.get(reply.requestId)?.(reply);
          this.pending.delete(reply.requestId);
        }
      }
    });
    socket.on('error', () => {});
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
  }

  /** Connects to the supervisor of `dir`, waiting for it to listen. */
  static async connect(dir: string): Promise<Client> {
    const socket = await eventually(
      () =>
        new Promise<Socket | null>((resolve) => {
          const candidate = connect(socketPath(dir));
          candidate.once('connect', () => resolve(candidate));
          candidate.once('error', () => resolve(null));
        }),
      30_000,
      `the supervisor of ${dir} to listen`,
    );
    const client = new Client(socket);
    clients.add(client);
    return client;
  }

  request(body: Body): Promise<AnyReply> {
    const requestId = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(requestId, resolve);
      this.socket.write(encodeLine({ ...body, requestId } as SupervisorRequest));
    });
  }

  exitOf(runId: string): Promise<AgentExit> {
    const known = this.exits.get(runId);
    if (known) return Promise.resolve(known);
    return new Promise((resolve) => this.exitWaiters.set(runId, resolve));
  }

  close(): void {
    this.socket.destroy();
  }
}

interface SpawnOptions {
  stdin?: string | null;
  deadlineAt?: number | null;
  graceMs?: number;
  unattendedMs?: number;
}

async function spawnSh(client: Client, runId: string, script: string, options: SpawnOptions = {}): Promise<AnyReply> {
  return spawnAgent(client, runId, '/bin/sh', ['-c', script], options);
}

async function spawnAgent(client: Client, runId: string, command: string, args: string[], options: SpawnOptions = {}): Promise<AnyReply> {
  const reply = await client.request({
    op: 'spawn',
    runId,
    command,
    args,
    cwd: scratch,
    env: ENV,
    stdin: options.stdin ?? null,
    deadlineAt: options.deadlineAt ?? null,
    graceMs: options.graceMs ?? 500,
    unattendedMs: options.unattendedMs ?? 60_000,
  });
  if (reply.ok && typeof reply.pid === 'number') groups.add(reply.pid);
  return reply;
}

const readOutput = (dir: string, runId: string, stream: 'stdout' | 'stderr') => readFileSync(outputPath(dir, runId, stream), 'utf8');

/** Starts a daemon on a fresh directory and connects to it. */
async function freshSupervisor(): Promise<{ dir: string; daemon: ChildProcess; client: Client }> {
  const dir = freshDir();
  const daemon = startDaemon(dir);
  const client = await Client.connect(dir);
  return { dir, daemon, client };
}

describe('agent supervisor daemon', () => {
  it('starts an agent whose output lands in its files, tells its exit, and answers attach with it afterwards', async () => {
    const { dir, daemon, client } = await freshSupervisor();
    const hello = await client.request({ op: 'hello' });
    expect(hello).toMatchObject({ ok: true, protocol: 1, pid: daemon.pid });
    expect(readFileSync(path.join(dir, 'supervisor.pid'), 'utf8').trim()).toBe(String(daemon.pid));

    const spawned = await spawnSh(client, 'run-1', 'echo out; echo err >&2; read line; echo "got $line"; exit 3', { stdin: 'the prompt\n' });
    expect(spawned).toMatchObject({ ok: true, state: 'running' });
    expect(spawned.pid).toEqual(expect.any(Number));
    const exit = await client.exitOf('run-1');
    expect(exit).toMatchObject({ code: 3, signal: null, endedBy: null });
    expect(readOutput(dir, 'run-1', 'stdout')).toBe('out\ngot the prompt\n');
    expect(readOutput(dir, 'run-1', 'stderr')).toBe('err\n');
    expect(readExit(dir, 'run-1')).toEqual(exit);
    const record = JSON.parse(readFileSync(processRecordPath(dir, 'run-1'), 'utf8'));
    expect(record).toMatchObject({ pid: spawned.pid, startTicks: spawned.startTicks, spawnedAt: spawned.spawnedAt });
    // Private to the user: raw output may hold a secret.
    expect(statSync(runDirectory(dir, 'run-1')).mode & 0o777).toBe(0o700);
    expect(statSync(outputPath(dir, 'run-1', 'stdout')).mode & 0o777).toBe(0o600);
    expect(statSync(socketPath(dir)).mode & 0o777).toBe(0o600);

    const other = await Client.connect(dir);
    expect(await other.request({ op: 'attach', runId: 'run-1' })).toMatchObject({ ok: true, state: 'exited', pid: spawned.pid, exit });
    expect(await other.request({ op: 'attach', runId: 'never-spawned' })).toEqual({ requestId: 2, ok: true, state: 'unknown' });
  });

  it('keeps an agent running when its worker connection closes; a new connection attaches and gets its exit and all its output', async () => {
    const { dir, client } = await freshSupervisor();
    const go = path.join(scratch, `go-${Date.now()}`);
    const spawned = await spawnSh(client, 'run-2', `echo before; while [ ! -e '${go}' ]; do sleep 0.1; done; echo after; exit 4`);
    expect(spawned.ok).toBe(true);
    await eventually(async () => readOutput(dir, 'run-2', 'stdout') === 'before\n', 10_000, 'the first output');
    client.close();
    await client.closed;

    // No worker attached: the agent goes on, and so does its output.
    writeFileSync(go, '');
    await eventually(async () => readOutput(dir, 'run-2', 'stdout') === 'before\nafter\n', 10_000, 'the output written while nobody was attached');
    const next = await Client.connect(dir);
    const attached = await next.request({ op: 'attach', runId: 'run-2' });
    expect(['running', 'exited']).toContain(attached.state);
    const exit = attached.state === 'exited' ? attached.exit : await next.exitOf('run-2');
    expect(exit).toMatchObject({ code: 4, signal: null, endedBy: null });
  });

  it('lets an agent run while the worker is away, then attached again, then being terminated', async () => {
    const { dir, client } = await freshSupervisor();
    const spawned = await spawnSh(client, 'run-3', 'echo started; exec sleep 300');
    await client.request({ op: 'detach', runId: 'run-3' });
    client.close();
    const next = await Client.connect(dir);
    expect(await next.request({ op: 'attach', runId: 'run-3' })).toMatchObject({ ok: true, state: 'running', pid: spawned.pid });
    expect(await isPidAlive(spawned.pid as number)).toBe(true);
    expect(await next.request({ op: 'terminate', runId: 'run-3', graceMs: 500 })).toMatchObject({ ok: true });
    expect(await next.exitOf('run-3')).toMatchObject({ signal: 'SIGTERM', endedBy: 'terminate' });
  });

  it('ends the group when no worker attaches within the unattended window', async () => {
    const { dir, client } = await freshSupervisor();
    const spawned = await spawnSh(client, 'run-4', 'sleep 300 & wait', { unattendedMs: 300 });
    client.close();
    const exit = await eventually(async () => readExit(dir, 'run-4'), 20_000, 'the unattended run to be ended');
    expect(exit).toMatchObject({ endedBy: 'unattended', signal: 'SIGTERM' });
    expect(await isGroupAlive(spawned.pid as number)).toBe(false);
    const next = await Client.connect(dir);
    expect(await next.request({ op: 'attach', runId: 'run-4' })).toMatchObject({ state: 'exited', exit: { endedBy: 'unattended' } });
  });

  it('keeps the agent when a worker attaches before the unattended window passes', async () => {
    const { dir, client } = await freshSupervisor();
    const spawned = await spawnSh(client, 'run-5', 'exec sleep 300', { unattendedMs: 1_500 });
    client.close();
    const next = await Client.connect(dir);
    expect(await next.request({ op: 'attach', runId: 'run-5' })).toMatchObject({ state: 'running' });
    // Well past the window: still running, since a worker is attached.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect(await isPidAlive(spawned.pid as number)).toBe(true);
    expect(existsSync(exitRecordPath(dir, 'run-5'))).toBe(false);
    await next.request({ op: 'terminate', runId: 'run-5', graceMs: 200 });
  });

  it('ends the group at its deadline (R13), with SIGKILL once the grace has passed', async () => {
    const { dir, client } = await freshSupervisor();
    const spawned = await spawnAgent(client, 'run-6', path.join(AGENTS, 'stubborn.sh'), [], { deadlineAt: Date.now() + 500, graceMs: 700 });
    expect(spawned.ok).toBe(true);
    const exit = await client.exitOf('run-6');
    expect(exit).toMatchObject({ endedBy: 'timeout', signal: 'SIGKILL' });
    expect(readOutput(dir, 'run-6', 'stdout')).toContain('got SIGTERM, ignoring it');
    // The grandchild, ignoring SIGTERM too, went with the group.
    await eventually(async () => !(await isGroupAlive(spawned.pid as number)), 10_000, 'the group to be gone');
  });

  it('terminates the whole group (a child of the agent too) on request (R14), answering once the exit is recorded', async () => {
    const { dir, client } = await freshSupervisor();
    const spawned = await spawnSh(client, 'run-7', 'sleep 300 & echo "child $!"; wait');
    const childPid = Number(
      (await eventually(async () => /child (\d+)/.exec(readOutput(dir, 'run-7', 'stdout')), 10_000, 'the child pid'))[1],
    );
    expect(await isPidAlive(childPid)).toBe(true);
    const exitEvent = client.exitOf('run-7');
    expect(await client.request({ op: 'terminate', runId: 'run-7', graceMs: 2_000 })).toMatchObject({ ok: true });
    expect(readExit(dir, 'run-7')).toMatchObject({ endedBy: 'terminate', signal: 'SIGTERM' });
    expect(await exitEvent).toMatchObject({ endedBy: 'terminate' });
    expect(await isGroupAlive(spawned.pid as number)).toBe(false);
    expect(await isPidAlive(childPid)).toBe(false);
    // Terminating an ended run is answered at once.
    expect(await client.request({ op: 'terminate', runId: 'run-7', graceMs: 2_000 })).toMatchObject({ ok: true });
    expect(await client.request({ op: 'terminate', runId: 'no-such-run', graceMs: 2_000 })).toMatchObject({ ok: true });
  });

  it('refuses a missing command (ENOENT) and a second spawn of one run (exists)', async () => {
    const { dir, client } = await freshSupervisor();
    const missing = await spawnAgent(client, 'run-8', path.join(scratch, 'no-such-agent'), []);
    expect(missing).toMatchObject({ ok: false, code: 'ENOENT' });
    expect(existsSync(runDirectory(dir, 'run-8'))).toBe(false);
    expect(await client.request({ op: 'attach', runId: 'run-8' })).toMatchObject({ ok: true, state: 'unknown' });

    expect(await spawnSh(client, 'run-9', 'exit 0')).toMatchObject({ ok: true });
    expect(await spawnSh(client, 'run-9', 'exit 0')).toMatchObject({ ok: false, code: 'exists' });
    await client.exitOf('run-9');
  });

  it('closes the connection of a peer that sends a bad line', async () => {
    const { dir, client } = await freshSupervisor();
    client.socket.write('this is not json\n');
    await client.closed;
    // Others are still served.
    const other = await Client.connect(dir);
    expect(await other.request({ op: 'hello' })).toMatchObject({ ok: true });
  });

  it('a new supervisor kills the agents its SIGKILLed predecessor left running (pid and start ticks matched) and answers lost (R21), never a reused pid', async () => {
    const { dir, daemon, client } = await freshSupervisor();
    const spawned = await spawnSh(client, 'run-10', 'sleep 300 & wait');
    expect(spawned.ok).toBe(true);

    // A live process of ours that is not the agent, under a pid a run dir claims with other start ticks.
    const unrelated = spawn('sleep', ['300'], { detached: true, stdio: 'ignore' });
    groups.add(unrelated.pid!);
    const ticks = await eventually(async () => processStartTicks(unrelated.pid!), 5_000, 'the unrelated process to start');
    mkdirSync(runDirectory(dir, 'reused-pid'), { recursive: true, mode: 0o700 });
    writeFileSync(processRecordPath(dir, 'reused-pid'), JSON.stringify({ pid: unrelated.pid, startTicks: ticks + 1, spawnedAt: new Date().toISOString() }));
    // A spawn that never completed, and an ended run nobody released for eight days.
    mkdirSync(runDirectory(dir, 'never-started'), { mode: 0o700 });
    mkdirSync(runDirectory(dir, 'ancient'), { mode: 0o700 });
    writeFileSync(exitRecordPath(dir, 'ancient'), JSON.stringify({ code: 0, signal: null, exitedAt: new Date().toISOString(), endedBy: null }));
    const eightDaysAgo = new Date(Date.now() - 8 * 24 * 60 * 60 * 1000);
    utimesSync(exitRecordPath(dir, 'ancient'), eightDaysAgo, eightDaysAgo);

    daemon.kill('SIGKILL');
    await exitOf(daemon);
    client.close();
    expect(await isPidAlive(spawned.pid as number)).toBe(true);

    // The dead supervisor's socket file is still there: the new one takes it over.
    expect(existsSync(socketPath(dir))).toBe(true);
    startDaemon(dir);
    const next = await Client.connect(dir);
    expect(await next.request({ op: 'attach', runId: 'run-10' })).toMatchObject({ ok: true, state: 'lost', pid: spawned.pid, startTicks: spawned.startTicks });
    await eventually(async () => !(await isGroupAlive(spawned.pid as number)), 10_000, 'the lost agent group to be killed');
    expect(await next.request({ op: 'attach', runId: 'reused-pid' })).toMatchObject({ state: 'lost', pid: unrelated.pid });
    expect(await isPidAlive(unrelated.pid!)).toBe(true);
    expect(await next.request({ op: 'attach', runId: 'never-started' })).toMatchObject({ state: 'lost', pid: null });
    expect(await next.request({ op: 'attach', runId: 'ancient' })).toMatchObject({ state: 'unknown' });
    expect(existsSync(runDirectory(dir, 'ancient'))).toBe(false);
    expect(existsSync(path.join(runDirectory(dir, 'run-10'), 'lost.json'))).toBe(true);
  });

  it('leaves a directory another live supervisor owns to it', async () => {
    const { dir, daemon } = await freshSupervisor();
    const second = startDaemon(dir);
    expect(await exitOf(second)).toBe(0);
    expect(daemon.exitCode).toBeNull();
    expect(readFileSync(path.join(dir, 'supervisor.pid'), 'utf8').trim()).toBe(String(daemon.pid));
  });

  it('exits by itself when no connection and no agent is left, removing its socket and pid file', async () => {
    const { dir, daemon, client } = await freshSupervisor();
    await spawnSh(client, 'run-11', 'sleep 1; exit 0');
    client.close();
    // It waits for the agent, then for the idle time.
    expect(await exitOf(daemon)).toBe(0);
    expect(existsSync(socketPath(dir))).toBe(false);
    expect(existsSync(path.join(dir, 'supervisor.pid'))).toBe(false);
    // The ended run stays for the next supervisor to report.
    expect(readExit(dir, 'run-11')).toMatchObject({ code: 0 });
    startDaemon(dir);
    const next = await Client.connect(dir);
    expect(await next.request({ op: 'attach', runId: 'run-11' })).toMatchObject({ state: 'exited', exit: { code: 0 } });
  });

  it('release removes the run directory, ending the group first if it still runs', async () => {
    const { dir, client } = await freshSupervisor();
    await spawnSh(client, 'run-12', 'echo done');
    await client.exitOf('run-12');
    expect(await client.request({ op: 'release', runId: 'run-12' })).toMatchObject({ ok: true });
    expect(existsSync(runDirectory(dir, 'run-12'))).toBe(false);
    expect(await client.request({ op: 'attach', runId: 'run-12' })).toMatchObject({ state: 'unknown' });

    const running = await spawnSh(client, 'run-13', 'sleep 300 & wait', { graceMs: 300 });
    expect(await client.request({ op: 'release', runId: 'run-13' })).toMatchObject({ ok: true });
    expect(existsSync(runDirectory(dir, 'run-13'))).toBe(false);
    expect(await isGroupAlive(running.pid as number)).toBe(false);
    expect(existsSync(runsDirectory(dir))).toBe(true);
  });
});
