/**
 * An agent as its worker sees it through the supervisor (issue 13): its pid (trusted with its
 * start ticks), its output read from the files it writes (from their first byte, whether this
 * worker started it or reattached to it), its exit as the supervisor recorded it, and the three
 * things a worker may ask of it: end its group, stop watching it (detach), or forget it (release).
 */
import { FileTail } from './fileTail.ts';
import type { AgentExit, AgentState } from './protocol.ts';
import { outputPath, readExit } from './runFiles.ts';

interface SupervisorRequests {
  terminate(graceMs: number): Promise<void>;
  detach(): Promise<void>;
  release(): Promise<void>;
}

export class SupervisedAgent {
  readonly pid: number;
  readonly startTicks: number;
  readonly spawnedAt: Date;
  readonly stdout: FileTail;
  readonly stderr: FileTail;
  /** Resolves with the leader's exit, once the supervisor has recorded it. */
  readonly exited: Promise<AgentExit>;
  private resolveExit!: (exit: AgentExit) => void;
  private exit: AgentExit | null = null;

  constructor(
    private readonly dir: string,
    readonly key: string,
    state: Extract<AgentState, { state: 'running' | 'exited' }>,
    /** Started before this attachment (by this or another worker), not by this call. */
    readonly reattached: boolean,
    private readonly requests: SupervisorRequests,
  ) {
    this.pid = state.pid;
    this.startTicks = state.startTicks;
    this.spawnedAt = new Date(state.spawnedAt);
    this.stdout = new FileTail(outputPath(dir, key, 'stdout'));
    this.stderr = new FileTail(outputPath(dir, key, 'stderr'));
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
    if (state.state === 'exited') this.exitReported(state.exit);
  }

  get hasExited(): boolean {
    return this.exit !== null;
  }

  exitReported(exit: AgentExit): void {
    if (this.exit) return;
    this.exit = exit;
    this.resolveExit(exit);
  }

  /** The exit record on disk, if the supervisor wrote one (it writes it before it tells anyone). */
  checkExitRecord(): void {
    const recorded = readExit(this.dir, this.key);
    if (recorded) this.exitReported(recorded);
  }

  /** SIGTERM to the group, SIGKILL after `graceMs`; resolves once the leader's exit is recorded. */
  async terminate(graceMs: number): Promise<void> {
    await this.requests.terminate(graceMs);
    this.checkExitRecord();
  }

  /** No writer is left (the group is gone): read both files to their end, then end the streams. */
  finishOutput(): void {
    this.stdout.finish();
    this.stderr.finish();
  }

  /** Stops watching; the agent runs on, its output still going to its files. */
  async detach(): Promise<void> {
    this.stdout.destroy();
    this.stderr.destroy();
    await this.requests.detach().catch(() => undefined);
  }

  /** The run's result is recorded: the supervisor removes its files. */
  async release(): Promise<void> {
    this.stdout.destroy();
    this.stderr.destroy();
    await this.requests.release().catch(() => undefined);
  }
}
