/**
 * The worker's side of the per-host agent supervisor (issue 13). One connection per supervisor
 * directory and process; the supervisor is started (detached, in its own session, so it outlives
 * this process) when no one answers on its socket.
 *
 * `superviseAgent(dir, key, spawn)` is attach-or-spawn, keyed by the run: it attaches to the
 * agent the supervisor already knows under `key` (running, or exited with its status recorded),
 * else starts it when `spawn` is given. What it cannot attach to and may not start is `gone`.
 *
 * If the connection to the supervisor breaks (the supervisor died), every agent attached through
 * it can no longer be watched: its group is killed from here (same host, pid checked against its
 * start ticks) and it ends as SIGKILLed, which the adapter reports as a lost process (R21).
 */
import { spawn as spawnProcess } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { APP_ROOT, RUNS_COMPILED, codeModule } from '../../platform/appFiles.ts';
import { killProcessGroup } from '../processGroup.ts';
import { isSameProcessAlive } from './processStart.ts';
import {
  encodeLine,
  LineDecoder,
  SUPERVISOR_PROTOCOL_VERSION,
  type AgentSpawnRequest,
  type AgentState,
  type SupervisorEvent,
  type SupervisorReply,
  type SupervisorRequest,
} from './protocol.ts';
import { ensurePrivateDirectory, LOG_FILE_NAME, socketPath } from './runFiles.ts';
import { SupervisedAgent } from './supervisedAgent.ts';

/** How long a worker waits for a supervisor it started to listen. */
const START_WAIT_MS = 15_000;

/**
 * Where the host's supervisor lives: VIGIL_SUPERVISOR_DIR (relative to `cwd`), else one per user
 * under the system's temporary directory. Its socket's path must stay under 108 bytes (Unix).
 */
export function defaultSupervisorDir(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const configured = env.VIGIL_SUPERVISOR_DIR?.trim();
  return configured ? path.resolve(cwd, configured) : path.join(os.tmpdir(), `vigil-supervisor-${os.userInfo().uid}`);
}

/** What to start when the supervisor does not know the run yet. */
export type { AgentSpawnRequest };

export type SuperviseOutcome =
  | { kind: 'agent'; agent: SupervisedAgent }
  /** Started once and not watched to its end by any supervisor, or never started and not to be started now. */
  | { kind: 'gone'; pid: number | null }
  /** The spawn failed: `error` carries the errno `code` as child_process.spawn reports it. */
  | { kind: 'spawn_failed'; error: Error & { code?: string } };

type RequestBody = SupervisorRequest extends infer R ? (R extends { requestId: number } ? Omit<R, 'requestId'> : never) : never;

/** The daemon script: compiled beside this module in dist/, TypeScript under tsx in src/. */
function daemonCommand(): string[] {
  const script = codeModule('adapters/supervisor/daemon');
  return RUNS_COMPILED ? [script] : ['--import', 'tsx', script];
}

function startDaemon(dir: string): void {
  ensurePrivateDirectory(dir);
  const log = openSync(path.join(dir, LOG_FILE_NAME), 'a', 0o600);
  try {
    const child = spawnProcess(process.execPath, [...daemonCommand(), dir], {
      cwd: APP_ROOT, // where `--import tsx` resolves
      detached: true, // its own session: it must outlive this worker, whatever signal ends it
      stdio: ['ignore', 'ignore', log],
    });
    child.on('error', () => {});
    child.unref();
  } finally {
    closeSync(log);
  }
}

function connectOnce(file: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(file);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

class SupervisorConnection {
  private readonly decoder = new LineDecoder<SupervisorReply | SupervisorEvent>();
  private readonly waiting = new Map<number, (reply: SupervisorReply) => void>();
  private readonly watchers = new Map<string, Set<SupervisedAgent>>();
  private nextRequestId = 1;
  private gone = false;

  constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.receive(chunk));
    socket.on('error', () => this.lost());
    socket.on('close', () => this.lost());
    this.updateRef();
  }

  get isGone(): boolean {
    return this.gone;
  }

  request<R extends SupervisorReply = SupervisorReply>(body: RequestBody): Promise<R> {
    if (this.gone) return Promise.reject(new Error('the agent supervisor is gone'));
    const requestId = this.nextRequestId++;
    const answered = new Promise<R>((resolve) => this.waiting.set(requestId, resolve as (reply: SupervisorReply) => void));
    this.updateRef();
    this.socket.write(encodeLine({ ...body, requestId } as SupervisorRequest));
    return answered;
  }

  watch(key: string, agent: SupervisedAgent): void {
    const set = this.watchers.get(key) ?? new Set();
    set.add(agent);
    this.watchers.set(key, set);
    this.updateRef();
  }

  unwatch(key: string, agent: SupervisedAgent): void {
    const set = this.watchers.get(key);
    set?.delete(agent);
    if (set?.size === 0) this.watchers.delete(key);
    this.updateRef();
  }

  private receive(chunk: string): void {
    let messages: Array<SupervisorReply | SupervisorEvent>;
    try {
      messages = this.decoder.push(chunk);
    } catch {
      this.socket.destroy();
      return;
    }
    for (const message of messages) {
      if ('event' in message) {
        for (const agent of this.watchers.get(message.runId) ?? []) agent.exitReported(message.exit);
        continue;
      }
      const resolve = this.waiting.get(message.requestId);
      this.waiting.delete(message.requestId);
      resolve?.(message);
    }
    this.updateRef();
  }

  /** The supervisor died (or broke the protocol): nothing it watched can be trusted to end well. */
  private lost(): void {
    if (this.gone) return;
    this.gone = true;
    this.socket.destroy();
    for (const [requestId, resolve] of this.waiting) {
      this.waiting.delete(requestId);
      resolve({ requestId, ok: false, code: 'EPIPE', message: 'the agent supervisor is gone' });
    }
    for (const agents of this.watchers.values()) {
      for (const agent of agents) void endUnwatchedAgent(agent);
    }
    this.watchers.clear();
  }

  /** A connection with nothing to wait for never keeps the worker's process alive. */
  private updateRef(): void {
    if (this.gone) return;
    if (this.waiting.size > 0 || this.watchers.size > 0) this.socket.ref();
    else this.socket.unref();
  }
}

/** An agent whose supervisor is gone: its group is killed here and it ends as SIGKILLed (R21). */
async function endUnwatchedAgent(agent: SupervisedAgent): Promise<void> {
  if (agent.hasExited) return;
  if (isSameProcessAlive(agent.pid, agent.startTicks)) await killProcessGroup(agent.pid);
  agent.exitReported({ code: null, signal: 'SIGKILL', exitedAt: new Date().toISOString(), endedBy: null });
}

const connections = new Map<string, Promise<SupervisorConnection>>();

async function openConnection(dir: string): Promise<SupervisorConnection> {
  const file = socketPath(dir);
  const startedAt = Date.now();
  let started = false;
  for (;;) {
    try {
      const connection = new SupervisorConnection(await connectOnce(file));
      const hello = await connection.request({ op: 'hello' });
      // Reset while it was exiting idle: as if nobody listened (start one).
      if (!hello.ok && hello.code === 'EPIPE') throw Object.assign(new Error(hello.message), { code: 'EPIPE' });
      if (!hello.ok || !('protocol' in hello) || hello.protocol !== SUPERVISOR_PROTOCOL_VERSION) {
        throw new Error(`the agent supervisor in ${dir} speaks another protocol`);
      }
      return connection;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ECONNREFUSED' && code !== 'EPIPE') throw error;
      if (Date.now() - startedAt > START_WAIT_MS) throw new Error(`the agent supervisor in ${dir} did not start (see ${path.join(dir, LOG_FILE_NAME)})`);
      // Nobody listens (never started, or it went idle and exited): start one. Two workers that
      // race here start two; the second finds the socket taken and exits.
      if (!started) startDaemon(dir);
      started = true;
      await sleep(50);
    }
  }
}

function connectionFor(dir: string): Promise<SupervisorConnection> {
  const existing = connections.get(dir);
  const fresh = async (): Promise<SupervisorConnection> => {
    const opening = openConnection(dir);
    connections.set(dir, opening);
    opening.catch(() => connections.delete(dir));
    return opening;
  };
  if (!existing) return fresh();
  return existing.then((connection) => (connection.isGone ? fresh() : connection), fresh);
}

/**
 * Attach-or-spawn (issue 13): the agent the supervisor in `dir` knows as `key`, else — when
 * `spawn` is given — a new one started under `key`.
 */
export async function superviseAgent(dir: string, key: string, spawn: AgentSpawnRequest | null): Promise<SuperviseOutcome> {
  const connection = await connectionFor(dir);
  const known = await connection.request<SupervisorReply>({ op: 'attach', runId: key });
  if (!known.ok) throw new Error(`agent supervisor: ${known.message}`);
  let state = known as unknown as AgentState;
  let reattached = true;
  if (state.state === 'unknown') {
    if (!spawn) return { kind: 'gone', pid: null };
    const started = await connection.request({ op: 'spawn', runId: key, ...spawn });
    if (!started.ok) {
      if (started.code === 'exists') return superviseAgent(dir, key, null); // a racing attempt started it
      return { kind: 'spawn_failed', error: Object.assign(new Error(started.message), { code: started.code ?? undefined }) };
    }
    state = started as unknown as AgentState;
    reattached = false;
  }
  if (state.state === 'lost') return { kind: 'gone', pid: state.pid };
  if (state.state === 'unknown') return { kind: 'gone', pid: null };
  const agent = new SupervisedAgent(dir, key, state, reattached, {
    terminate: async (graceMs) => {
      await connection.request({ op: 'terminate', runId: key, graceMs });
    },
    detach: async () => {
      connection.unwatch(key, agent);
      if (!connection.isGone) await connection.request({ op: 'detach', runId: key });
    },
    release: async () => {
      connection.unwatch(key, agent);
      if (!connection.isGone) await connection.request({ op: 'release', runId: key });
    },
  });
  connection.watch(key, agent);
  // An exit recorded between the reply and the watch is in the record: read it once now.
  agent.checkExitRecord();
  return { kind: 'agent', agent };
}



/**
 * Ends the agent the supervisor knows as `key`, if it still runs (SIGTERM, SIGKILL after
 * `graceMs`), and forgets it: a run cancelled while no worker watched its agent (R14).
 */
export async function endSupervisedAgent(dir: string, key: string, graceMs: number): Promise<'ended' | 'not_running'> {
  const supervised = await superviseAgent(dir, key, null);
  if (supervised.kind !== 'agent') return 'not_running';
  const { agent } = supervised;
  const wasRunning = !agent.hasExited;
  if (wasRunning) await agent.terminate(graceMs);
  await agent.release();
  return wasRunning ? 'ended' : 'not_running';
}
