/**
 * The worker's side of the per-host spawn helper (issue 12): one helper process per worker
 * process, started on the first spawn (or when a worker starts running) and stopped when the last
 * worker that retained it stops and no agent it started is still open.
 *
 * `spawnAgentProcess` is the one place agents are started: it resolves with an `AgentProcess`
 * once the helper reports the pid, or rejects with the spawn error (`code` ENOENT, EACCES, ...)
 * exactly as `child_process.spawn` reports it.
 *
 * If the helper dies, no agent it started is silently lost: each one still open has its group
 * killed from here (same host), then "exits" by SIGKILL, which the adapter reports as a lost
 * process (R21: `process_lost`, R22's one retry). A spawn still waiting for its pid is refused
 * with a start failure. The next spawn starts a new helper.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { APP_ROOT, RUNS_COMPILED, codeModule } from '../../platform/appFiles.ts';
import { killOnExit } from '../../platform/killOnExit.ts';
import { killProcessGroup } from '../processGroup.ts';
import { HelperAgentProcess, type AgentProcess, type HelperLink } from './agentProcess.ts';
import { encodeData, encodeMessage, FrameDecoder, PROTOCOL_VERSION, type DecodedFrame, type FromHelper, type ToHelper } from './protocol.ts';

/** A stopping helper that has not exited after this long is killed. */
const STOP_WAIT_MS = 5_000;

/** What to start: the caller has resolved the working directory and built the whole environment. */
export interface AgentSpawnRequest {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  /** Whether the caller writes the agent's stdin (else it is /dev/null). */
  stdin: boolean;
}

/** The helper script: compiled beside this module in dist/, TypeScript under tsx in src/. */
function helperCommand(): string[] {
  const script = codeModule('adapters/spawnHelper/helper');
  return RUNS_COMPILED ? [script] : ['--import', 'tsx', script];
}

interface PendingSpawn {
  request: AgentSpawnRequest;
  resolve(agent: AgentProcess): void;
  reject(error: Error): void;
}

/** One running helper process and the agents it has started for this worker. */
class HelperConnection implements HelperLink {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  private readonly channel: Socket;
  private readonly decoder = new FrameDecoder<FromHelper>();
  private readonly backlog: DecodedFrame<FromHelper>[] = [];
  private waitingForCaller = false;
  private readonly pending = new Map<number, PendingSpawn>();
  private readonly agents = new Map<number, HelperAgentProcess>();
  private nextId = 1;
  private gone = false;
  private stopping = false;
  private readonly forgetOnExit: () => void;

  constructor(private readonly onIdle: () => void) {
    this.child = spawn(process.execPath, helperCommand(), {
      cwd: APP_ROOT, // where `--import tsx` resolves; each agent gets its own cwd
      // Its own session: a Ctrl-C meant for Vigil must not end the helper under a draining worker.
      detached: true,
      stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
    });
    this.child.on('error', () => {}); // a failed start is seen below; a failed kill changes nothing
    const channel = this.child.stdio[3] as Socket | null;
    if (this.child.pid === undefined || !channel) {
      this.child.stdio.forEach((stream) => stream?.destroy());
      throw new Error('the spawn helper could not be started');
    }
    // The helper also exits when its channel ends; this covers an exit that skips the stop.
    this.forgetOnExit = killOnExit({ pid: this.child.pid }, 'SIGTERM');
    this.channel = channel;
    this.channel.on('data', (chunk: Buffer) => this.receive(chunk));
    this.channel.on('error', () => this.lost());
    this.channel.on('close', () => this.lost());
    this.exited = new Promise((resolve) => {
      this.child.once('exit', () => resolve());
    });
    void this.exited.then(() => this.lost());
    this.updateRef();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get isGone(): boolean {
    return this.gone;
  }

  get openCount(): number {
    return this.pending.size + this.agents.size;
  }

  spawnAgent(request: AgentSpawnRequest): Promise<AgentProcess> {
    if (this.gone) return Promise.reject(new Error('the spawn helper is gone'));
    const id = this.nextId++;
    const started = new Promise<AgentProcess>((resolve, reject) => this.pending.set(id, { request, resolve, reject }));
    this.updateRef();
    this.sendMessage({ type: 'spawn', id, ...request });
    return started;
  }

  sendMessage(message: ToHelper): void {
    this.write(encodeMessage(message));
  }

  sendStdin(id: number, bytes: Buffer): void {
    for (const frame of encodeData(id, 'stdin', bytes)) this.write(frame);
  }

  /** Ends the channel: the helper exits; waits for it (killing it if it lingers). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.child.ref(); // whoever awaits the stop keeps this process up until the helper is gone
    if (!this.gone) this.channel.end();
    const exitedInTime = await Promise.race([this.exited.then(() => true), new Promise<boolean>((resolve) => setTimeout(resolve, STOP_WAIT_MS, false).unref())]);
    if (!exitedInTime) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }

  private write(frame: Buffer): void {
    if (!this.gone && !this.channel.destroyed) this.channel.write(frame);
  }

  private receive(chunk: Buffer): void {
    try {
      this.backlog.push(...this.decoder.push(chunk));
    } catch {
      // A helper that speaks garbage cannot be trusted with its agents: treat it as lost.
      this.child.kill('SIGKILL');
      return;
    }
    if (!this.waitingForCaller) this.drainBacklog();
  }

  /**
   * Frames in order. After a 'spawned' the rest waits one turn of the loop: the caller, resumed
   * by the resolved promise, attaches its listeners before any output, exit or close of that
   * agent is emitted (a direct spawn gives the same guarantee synchronously).
   */
  private drainBacklog(): void {
    this.waitingForCaller = false;
    while (this.backlog.length > 0) {
      const frame = this.backlog.shift()!;
      if (frame.kind === 'data') {
        if (frame.stream !== 'stdin') this.agents.get(frame.id)?.output(frame.stream, frame.bytes);
      } else if (this.handle(frame.message) === 'resumed a caller' && this.backlog.length > 0) {
        this.waitingForCaller = true;
        setImmediate(() => this.drainBacklog());
        return;
      }
    }
  }

  private handle(message: FromHelper): 'resumed a caller' | void {
    if (message.type === 'ready') {
      if (message.protocol !== PROTOCOL_VERSION) this.child.kill('SIGKILL');
      return;
    }
    if (message.type === 'spawned' || message.type === 'spawnFailed') {
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.pending.delete(message.id);
      if (message.type === 'spawnFailed') {
        // The same error child_process.spawn gives, so the adapter's texts do not change.
        waiting.reject(Object.assign(new Error(message.message), { code: message.code ?? undefined }));
        this.settled();
      } else {
        const agent = new HelperAgentProcess(message.id, message.pid, this, waiting.request.stdin);
        this.agents.set(message.id, agent);
        waiting.resolve(agent);
        return 'resumed a caller';
      }
      return;
    }
    const agent = this.agents.get(message.id);
    if (!agent) return;
    if (message.type === 'end') agent.outputEnded(message.stream);
    else if (message.type === 'exit') agent.exit(message.code, message.signal);
    else if (message.type === 'close') {
      this.agents.delete(message.id);
      agent.close();
      this.settled();
    }
  }

  /** The helper exited or its channel broke: settle everything it still owed us. */
  private lost(): void {
    if (this.gone) return;
    this.gone = true;
    this.forgetOnExit();
    if (!this.channel.destroyed) this.channel.destroy();
    this.settleLost();
  }

  /** After every frame the helper did send is delivered (an agent may have exited meanwhile). */
  private settleLost(): void {
    if (this.waitingForCaller) {
      setImmediate(() => this.settleLost());
      return;
    }
    for (const [id, waiting] of this.pending) {
      this.pending.delete(id);
      waiting.reject(new Error('the spawn helper exited before it reported the process'));
    }
    for (const [id, agent] of this.agents) {
      this.agents.delete(id);
      void this.endLostAgent(agent);
    }
    this.settled();
  }

  /**
   * An agent whose helper is gone can no longer be watched (its output pipes died with the
   * helper): its group is killed here and it ends as a lost process (R21), never left running.
   */
  private async endLostAgent(agent: HelperAgentProcess): Promise<void> {
    if (!agent.hasExited) {
      await killProcessGroup(agent.pid);
      agent.exit(null, 'SIGKILL');
    }
    agent.close();
  }

  private settled(): void {
    this.updateRef();
    if (this.openCount === 0) this.onIdle();
  }

  /** An idle helper never keeps the worker's process alive; one with open agents does. */
  private updateRef(): void {
    if (this.stopping) return;
    if (this.openCount > 0 && !this.gone) {
      this.child.ref();
      this.channel.ref();
    } else {
      this.child.unref();
      this.channel.unref();
    }
  }
}

let connection: HelperConnection | null = null;
let retainers = 0;
/** The last retainer released the helper while agents were open: stop it once they close. */
let stopWhenIdle = false;

/** Stops the helper if no worker retains it and no agent of it is open; true if it stopped. */
function stopIfUnused(): HelperConnection | null {
  if (!connection || retainers > 0) return null;
  if (connection.openCount > 0) {
    stopWhenIdle = true;
    return null;
  }
  const stopping = connection;
  connection = null;
  stopWhenIdle = false;
  void stopping.stop();
  return stopping;
}

function currentConnection(): HelperConnection {
  if (!connection || connection.isGone) {
    // Lazily started, and restarted after a loss: the next spawn never waits on a dead helper.
    // Unretained (no worker runs here, e.g. a test calling an adapter) it lives, unref'd, as
    // long as this process and ends with it.
    const fresh: HelperConnection = new HelperConnection(() => {
      if (connection === fresh && stopWhenIdle) stopIfUnused();
    });
    connection = fresh;
  }
  return connection;
}

/** Starts `request` through this process's spawn helper (starting the helper if needed). */
export function spawnAgentProcess(request: AgentSpawnRequest): Promise<AgentProcess> {
  return currentConnection().spawnAgent(request);
}

/**
 * Keeps the helper running (and starts it now) until the returned release is called: a worker
 * retains it while it runs, so its first agent does not wait for the helper to start. After the
 * last release the helper stops as soon as no agent it started is open.
 */
export function retainSpawnHelper(): () => Promise<void> {
  retainers++;
  stopWhenIdle = false;
  currentConnection();
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    retainers--;
    await stopIfUnused()?.exited;
  };
}

/** The running helper's pid, if one runs (for tests and operators' diagnostics). */
export function spawnHelperPid(): number | null {
  return connection && !connection.isGone ? connection.pid ?? null : null;
}

/** Stops the helper now, whatever it is doing; agents still open end as lost (R21). */
export async function stopSpawnHelper(): Promise<void> {
  const stopping = connection;
  connection = null;
  await stopping?.stop();
}
