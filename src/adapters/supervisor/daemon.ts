/**
 * The per-host agent supervisor process (issue 13): a plain Node script that starts agents on the
 * workers' behalf and outlives them. It owns each agent's process group, lets the agent write its
 * output straight into its run's files, records how the leader ended, and ends the group when its
 * deadline passes (R13), when a worker asks (R14), or when no worker attaches within the run's
 * unattended window. A worker that dies or restarts loses nothing: the next one attaches by run id.
 *
 * Started detached (its own session) as `node daemon.ts <supervisorDir>`; it speaks protocol.ts
 * over `<supervisorDir>/supervisor.sock` and goes away by itself once nobody uses it.
 *
 * Node imports only, and this folder plus processGroup.ts: it loads nothing else of Vigil.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { signalProcessGroup, terminateProcessGroup } from '../processGroup.ts';
import { isSameProcessAlive, processStartTicks } from './processStart.ts';
import {
  encodeLine,
  LineDecoder,
  SUPERVISOR_PROTOCOL_VERSION,
  type AgentExit,
  type AgentState,
  type SupervisorEvent,
  type SupervisorReply,
  type SupervisorRequest,
} from './protocol.ts';
import {
  ensurePrivateDirectory,
  exitRecordPath,
  lostRecordPath,
  outputPath,
  PID_FILE_NAME,
  processRecordPath,
  readRecord,
  runDirectory,
  runsDirectory,
  socketPath,
  writeRecord,
  type ProcessRecord,
} from './runFiles.ts';

/** With no connection and no running agent for this long, the supervisor exits. */
const IDLE_EXIT_MS = 2_000;
/** Ended runs nobody released (their worker never came back) are removed after this long. */
const ENDED_RUN_RETENTION_MS = 7 * 24 * 60 * 60 * 1000;
/** setTimeout's longest delay; longer waits are chained. */
const MAX_TIMER_MS = 2 ** 31 - 1;

type Reply = SupervisorReply extends infer R ? (R extends { requestId: number } ? Omit<R, 'requestId'> : never) : never;
type Request<Op extends SupervisorRequest['op']> = Extract<SupervisorRequest, { op: Op }>;

/** A worker's connection. */
interface Peer {
  socket: Socket;
  /** Runs this connection is attached to (told of their exit). */
  runs: Set<string>;
}

/** What the supervisor holds of a run it started and whose leader has not exited yet. */
interface Live {
  child: ChildProcess;
  pid: number;
  graceMs: number;
  unattendedMs: number;
  attached: Set<Peer>;
  /** Set when the supervisor ends the group; the first reason wins. */
  endedBy: AgentExit['endedBy'];
  /** The group's termination, once started. */
  ending: Promise<unknown> | null;
  /** Resolves once the leader's exit is recorded. */
  exited: Promise<void>;
  recordExit: () => void;
  cancelDeadline: (() => void) | null;
  cancelUnattended: (() => void) | null;
}

interface Run {
  state: Exclude<AgentState, { state: 'unknown' }>;
  live: Live | null;
}

const supervisorDir = process.argv[2];
if (!supervisorDir) {
  process.stderr.write('usage: node daemon.ts <supervisorDir>\n');
  process.exit(64);
}
const runs = new Map<string, Run>();
const peers = new Set<Peer>();
/** Spawns whose outcome (pid or error) is not known yet: the supervisor must not go idle meanwhile. */
let pendingSpawns = 0;
let server: Server | null = null;
let cancelIdleExit: (() => void) | null = null;

function log(line: string): void {
  // Never the env or stdin of a spawn: they may hold secrets.
  process.stderr.write(`${new Date().toISOString()} [vigil supervisor ${process.pid}] ${line}\n`);
}

/** setTimeout for any delay (chained past ~24.8 days); returns its cancel. */
function later(ms: number, fire: () => void): () => void {
  let handle: NodeJS.Timeout;
  const arm = (remaining: number) => {
    const step = Math.min(Math.max(0, remaining), MAX_TIMER_MS);
    handle = setTimeout(() => (remaining > step ? arm(remaining - step) : fire()), step);
  };
  arm(ms);
  return () => clearTimeout(handle);
}

function send(peer: Peer, message: SupervisorReply | SupervisorEvent): void {
  if (!peer.socket.destroyed && peer.socket.writable) peer.socket.write(encodeLine(message));
}

// --- ending a group -------------------------------------------------------------------------

/**
 * Ends the run's group: SIGTERM, SIGKILL after the run's grace (R13, R14). Resolves once the group
 * is gone and the leader's exit is recorded.
 */
function endGroup(runId: string, live: Live, reason: NonNullable<AgentExit['endedBy']>, graceMs = live.graceMs): Promise<void> {
  if (live.endedBy === null) live.endedBy = reason;
  if (live.ending === null) {
    log(`ending run ${runId} (pid ${live.pid}): ${reason}`);
    live.cancelDeadline?.();
    live.cancelUnattended?.();
    live.ending = terminateProcessGroup(live.pid, { graceMs }).catch((err: Error) => log(`ending run ${runId} failed: ${err.message}`));
  }
  return Promise.all([live.ending, live.exited]).then(() => undefined);
}

/** No connection is attached to a running run: its unattended window starts. */
function startUnattendedWindow(runId: string, live: Live): void {
  if (live.attached.size > 0 || live.cancelUnattended !== null || live.ending !== null) return;
  live.cancelUnattended = later(live.unattendedMs, () => {
    live.cancelUnattended = null;
    log(`run ${runId} (pid ${live.pid}): no worker attached within ${live.unattendedMs} ms`);
    void endGroup(runId, live, 'unattended');
  });
}

function attachPeer(peer: Peer, runId: string, live: Live): void {
  live.attached.add(peer);
  peer.runs.add(runId);
  live.cancelUnattended?.();
  live.cancelUnattended = null;
}

function detachPeer(peer: Peer, runId: string): void {
  peer.runs.delete(runId);
  const live = runs.get(runId)?.live;
  if (!live) return;
  live.attached.delete(peer);
  startUnattendedWindow(runId, live);
}

// --- spawning -------------------------------------------------------------------------------

function spawnAgent(peer: Peer, request: Request<'spawn'>, reply: (message: Reply) => void): void {
  const { runId } = request;
  const directory = runDirectory(supervisorDir, runId);
  mkdirSync(runsDirectory(supervisorDir), { recursive: true, mode: 0o700 });
  try {
    // Not recursive: an existing directory (EEXIST) is a run spawned before; attach instead.
    mkdirSync(directory, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return reply({ ok: false, code: 'exists', message: `run ${runId} was spawned before` });
  }
  const failed = (err: NodeJS.ErrnoException) => {
    rmSync(directory, { recursive: true, force: true });
    reply({ ok: false, code: err.code ?? null, message: err.message ?? String(err) });
  };
  let child: ChildProcess;
  let outFd: number | null = null;
  let errFd: number | null = null;
  try {
    outFd = openSync(outputPath(supervisorDir, runId, 'stdout'), 'a', 0o600);
    errFd = openSync(outputPath(supervisorDir, runId, 'stderr'), 'a', 0o600);
    child = spawn(request.command, request.args, {
      cwd: request.cwd,
      env: request.env,
      detached: true, // setsid(): the agent leads its own process group, pgid = pid
      // The agent writes its own output into its files: nothing is lost while no worker is attached.
      stdio: [request.stdin !== null ? 'pipe' : 'ignore', outFd, errFd],
    });
  } catch (err) {
    return failed(err as NodeJS.ErrnoException);
  } finally {
    // The agent holds its own copies: the supervisor keeps no descriptor of a run's files.
    if (outFd !== null) closeSync(outFd);
    if (errFd !== null) closeSync(errFd);
  }
  if (child.pid === undefined) {
    // ENOENT / EACCES arrive as an 'error' event right after spawn() returns.
    pendingSpawns += 1;
    child.once('error', (err: NodeJS.ErrnoException) => {
      pendingSpawns -= 1;
      failed(err);
      reviewIdle();
    });
    return;
  }
  const pid = child.pid;
  child.on('error', () => {}); // post-spawn errors (a failed kill) must not end the supervisor
  if (child.stdin) {
    // The agent may exit, or close stdin, before reading its prompt: that is its business.
    child.stdin.on('error', () => {});
    child.stdin.end(request.stdin);
  }
  // Read while the leader cannot have been reaped yet; null only if it is already a zombie (its exit follows).
  const startTicks = processStartTicks(pid) ?? 0;
  const spawnedAt = new Date().toISOString();
  try {
    writeRecord(processRecordPath(supervisorDir, runId), { pid, startTicks, spawnedAt } satisfies ProcessRecord);
  } catch (err) {
    // The agent runs all the same and is watched; only a successor could not prove it (it would be lost).
    log(`run ${runId}: recording its process failed: ${(err as Error).message}`);
  }
  let recordExit!: () => void;
  const exited = new Promise<void>((resolve) => (recordExit = resolve));
  const live: Live = {
    child,
    pid,
    graceMs: request.graceMs,
    unattendedMs: request.unattendedMs,
    attached: new Set(),
    endedBy: null,
    ending: null,
    exited,
    recordExit,
    cancelDeadline: null,
    cancelUnattended: null,
  };
  const run: Run = { state: { state: 'running', pid, startTicks, spawnedAt }, live };
  runs.set(runId, run);
  child.once('exit', (code, signal) => onLeaderExit(runId, run, live, code, signal));
  attachPeer(peer, runId, live);
  if (request.deadlineAt !== null) {
    // R13: the supervisor enforces the deadline whether or not a worker is attached.
    live.cancelDeadline = later(request.deadlineAt - Date.now(), () => {
      live.cancelDeadline = null;
      void endGroup(runId, live, 'timeout');
    });
  }
  log(`spawned run ${runId}: pid ${pid}, ${path.basename(request.command)}`);
  reply({ ok: true, ...run.state });
}

function onLeaderExit(runId: string, run: Run, live: Live, code: number | null, signal: NodeJS.Signals | null): void {
  const exit: AgentExit = { code, signal, exitedAt: new Date().toISOString(), endedBy: live.endedBy };
  live.cancelDeadline?.();
  live.cancelUnattended?.();
  try {
    // Recorded before anyone is told: a worker that misses the event reads it on attach (or from the file).
    writeRecord(exitRecordPath(supervisorDir, runId), exit);
  } catch (err) {
    log(`run ${runId}: recording its exit failed: ${(err as Error).message}`);
  }
  const { pid, startTicks, spawnedAt } = run.state as Extract<AgentState, { state: 'running' }>;
  run.state = { state: 'exited', pid, startTicks, spawnedAt, exit };
  run.live = null;
  log(`run ${runId} (pid ${pid}) exited: code ${code}, signal ${signal}, ended by ${exit.endedBy ?? 'itself'}`);
  for (const peer of live.attached) {
    send(peer, { event: 'exited', runId, exit });
    peer.runs.delete(runId);
  }
  live.recordExit();
  reviewIdle();
}

// --- requests -------------------------------------------------------------------------------

async function handle(peer: Peer, request: SupervisorRequest): Promise<void> {
  const reply = (message: Reply) => send(peer, { requestId: request.requestId, ...message } as SupervisorReply);
  try {
    switch (request.op) {
      case 'hello':
        return reply({ ok: true, protocol: SUPERVISOR_PROTOCOL_VERSION, pid: process.pid });
      case 'spawn':
        return spawnAgent(peer, request, reply);
      case 'attach': {
        const run = runs.get(request.runId);
        if (!run) return reply({ ok: true, state: 'unknown' });
        if (run.live) attachPeer(peer, request.runId, run.live);
        return reply({ ok: true, ...run.state });
      }
      case 'detach':
        detachPeer(peer, request.runId);
        return reply({ ok: true });
      case 'terminate': {
        const live = runs.get(request.runId)?.live;
        // R14: a cancel ends the whole group; answered once the leader's exit is recorded.
        if (live) await endGroup(request.runId, live, 'terminate', request.graceMs);
        return reply({ ok: true });
      }
      case 'release': {
        const directory = runDirectory(supervisorDir, request.runId);
        const live = runs.get(request.runId)?.live;
        if (live) await endGroup(request.runId, live, 'terminate');
        rmSync(directory, { recursive: true, force: true });
        runs.delete(request.runId);
        return reply({ ok: true });
      }
    }
  } catch (err) {
    reply({ ok: false, code: (err as NodeJS.ErrnoException).code ?? null, message: (err as Error).message });
  }
}

const OPS = new Set<string>(['hello', 'spawn', 'attach', 'detach', 'terminate', 'release']);

/** Whether `value` is a request this supervisor can act on; anything else is a broken peer. */
function isRequest(value: unknown): value is SupervisorRequest {
  if (typeof value !== 'object' || value === null) return false;
  const { op, requestId, runId } = value as Record<string, unknown>;
  return typeof op === 'string' && OPS.has(op) && Number.isInteger(requestId) && (op === 'hello' || typeof runId === 'string');
}

function onConnection(socket: Socket): void {
  const peer: Peer = { socket, runs: new Set() };
  peers.add(peer);
  reviewIdle();
  const decoder = new LineDecoder<unknown>();
  socket.on('data', (chunk: Buffer) => {
    let messages: unknown[];
    try {
      messages = decoder.push(chunk);
    } catch {
      return socket.destroy(); // a bad line: this peer is broken
    }
    for (const message of messages) {
      if (!isRequest(message)) return socket.destroy();
      void handle(peer, message);
    }
  });
  socket.on('error', () => {});
  // A worker that died or stopped: its runs go on; those nobody else watches start their unattended window.
  socket.on('close', () => {
    peers.delete(peer);
    for (const runId of [...peer.runs]) detachPeer(peer, runId);
    reviewIdle();
  });
}

// --- recovery at startup --------------------------------------------------------------------

/** A file's age, or null when it does not exist. */
function ageOf(file: string): number | null {
  try {
    return Date.now() - statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

/**
 * What a previous supervisor left: ended runs are remembered (old ones removed), and runs it
 * started but never saw end are lost (R21) — a leader still running, proven by pid and start
 * ticks, has its group killed, since nobody can tell its output or its exit any more.
 */
function recoverRuns(): void {
  let names: string[];
  try {
    names = readdirSync(runsDirectory(supervisorDir));
  } catch {
    return;
  }
  for (const runId of names) {
    let directory: string;
    try {
      directory = runDirectory(supervisorDir, runId);
      if (!statSync(directory).isDirectory()) continue;
    } catch {
      continue; // not a run's directory
    }
    const exitFile = exitRecordPath(supervisorDir, runId);
    const lostFile = lostRecordPath(supervisorDir, runId);
    const endedAge = ageOf(exitFile) ?? ageOf(lostFile);
    if (endedAge !== null && endedAge > ENDED_RUN_RETENTION_MS) {
      rmSync(directory, { recursive: true, force: true });
      continue;
    }
    const started = readRecord<ProcessRecord>(processRecordPath(supervisorDir, runId));
    const exit = readRecord<AgentExit>(exitFile);
    if (exit && started) {
      runs.set(runId, { state: { state: 'exited', ...started, exit }, live: null });
      continue;
    }
    const lost: AgentState = { state: 'lost', pid: started?.pid ?? null, startTicks: started?.startTicks ?? null, spawnedAt: started?.spawnedAt ?? null };
    runs.set(runId, { state: lost, live: null });
    if (endedAge !== null) continue; // found lost before
    if (started && isSameProcessAlive(started.pid, started.startTicks)) {
      signalProcessGroup(started.pid, 'SIGKILL'); // pgid = pid
      log(`run ${runId}: its agent (pid ${started.pid}) outlived the supervisor that started it; group killed, run lost`);
    } else {
      log(`run ${runId}: started by a previous supervisor and not seen ending; run lost`);
    }
    writeRecord(lostFile, { at: new Date().toISOString(), pid: lost.pid });
  }
}

// --- lifetime -------------------------------------------------------------------------------

function removePidFile(): void {
  const file = path.join(supervisorDir, PID_FILE_NAME);
  try {
    if (readFileSync(file, 'utf8').trim() === String(process.pid)) unlinkSync(file);
  } catch {
    // gone already
  }
}

function isIdle(): boolean {
  if (peers.size > 0 || pendingSpawns > 0) return false;
  for (const run of runs.values()) if (run.live) return false;
  return true;
}

/** Nobody uses the supervisor: it goes away by itself (the next worker starts a new one). */
function reviewIdle(): void {
  if (!isIdle()) {
    cancelIdleExit?.();
    cancelIdleExit = null;
    return;
  }
  if (cancelIdleExit !== null || server === null) return;
  cancelIdleExit = later(IDLE_EXIT_MS, () => {
    cancelIdleExit = null;
    if (!isIdle()) return;
    log('idle: exiting');
    removePidFile();
    // Closing the listening socket removes its file.
    server?.close(() => process.exit(0));
    server = null;
  });
}

function listen(attempt = 1): void {
  const file = socketPath(supervisorDir);
  const candidate = createServer(onConnection);
  candidate.once('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EADDRINUSE' || attempt > 3) {
      log(`cannot listen on ${file}: ${err.message}`);
      process.exit(1);
    }
    const probe = connect(file);
    probe.once('connect', () => {
      probe.destroy();
      log('another supervisor owns this directory: exiting');
      process.exit(0);
    });
    probe.once('error', () => {
      // A socket file nobody listens on: its supervisor died.
      try {
        unlinkSync(file);
      } catch {
        // removed meanwhile
      }
      listen(attempt + 1);
    });
  });
  candidate.listen(file, () => {
    server = candidate;
    chmodSync(file, 0o600);
    writeFileSync(path.join(supervisorDir, PID_FILE_NAME), `${process.pid}\n`, { mode: 0o600 });
    // Synchronous, before any connection is served: every run is known before the first attach.
    recoverRuns();
    log(`listening on ${file}`);
    reviewIdle();
  });
}

process.umask(0o077);
process.stderr.on('error', () => {});
// The supervisor runs in its own session; a terminal's signals are not for it.
process.on('SIGHUP', () => {});
process.on('SIGINT', () => {});
// Agents keep running; the next supervisor finds them and ends them as lost (R21).
process.on('SIGTERM', () => {
  log('SIGTERM: exiting, agents left running');
  removePidFile();
  server?.close();
  process.exit(0);
});
// One failing request must not cost every running agent its supervisor.
process.on('uncaughtException', (err) => log(`uncaught: ${err.stack ?? err.message}`));
ensurePrivateDirectory(supervisorDir);
listen();
