/**
 * `npm start`'s life as one process: starting, ready, stopping. Its signal handlers are the first
 * thing main() installs, so a SIGINT (Ctrl-C), SIGTERM (a supervisor) or SIGHUP (the terminal
 * closed) at any moment of start-up or after it becomes one stop request:
 * - the step in progress is interrupted (`interrupt`, see platform/startupInterrupt.ts): it stops
 *   what it was spawning and throws, or returns what is up, which is then stopped;
 * - everything started so far is stopped, newest first (the API and worker, then Temporal, then
 *   PostgreSQL), and main() exits.
 * A second signal at least SAME_REQUEST_WINDOW_MS later exits at once: the servers get their stop
 * signal from platform/killOnExit.ts and finish stopping on their own.
 */
import os from 'node:os';
import { StopRequested, type LifecyclePhase, type StartupInterrupt, type StartupPoint } from './platform/startupInterrupt.ts';

/**
 * One Ctrl-C often arrives twice: from the terminal (to the whole foreground process group) and
 * again from `npm`, which forwards the signals it gets to its child. Within this window a second
 * signal is the same request; a person who means "now" presses again.
 */
const SAME_REQUEST_WINDOW_MS = 1_000;

const STOP_SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

type Stop = () => Promise<void>;

export class ProcessLifecycle {
  private current: LifecyclePhase = 'starting';
  private readonly controller = new AbortController();
  /** What was started, newest first. */
  private readonly stops: Array<{ what: string; stop: Stop }> = [];
  private stopAsked: { signal: NodeJS.Signals; at: number } | null = null;
  private readonly stopRequest: Promise<NodeJS.Signals>;
  private resolveStopRequest: (signal: NodeJS.Signals) => void = () => undefined;
  /** Given to every start-up step. */
  readonly interrupt: StartupInterrupt;

  constructor(
    private readonly say: (line: string) => void,
    /** VIGIL_STARTUP_PAUSE_AT: a test hook that holds start-up at one point until a stop request. */
    private readonly pauseAt: StartupPoint | null,
  ) {
    this.stopRequest = new Promise((resolve) => (this.resolveStopRequest = resolve));
    this.interrupt = { signal: this.controller.signal, checkpoint: (point) => this.checkpoint(point) };
  }

  /** Call first: until then a signal kills the process with nothing stopped. */
  installSignalHandlers(): void {
    for (const signal of STOP_SIGNALS) process.on(signal, () => this.onSignal(signal));
  }

  get phase(): LifecyclePhase {
    return this.current;
  }

  get stopping(): boolean {
    return this.stopAsked !== null;
  }

  /**
   * One start-up step: `point` is checked (and paused at, on request) before it runs; the stop
   * of what it returns is recorded before a stop request that came meanwhile is honoured.
   */
  async step<T>(point: StartupPoint | null, run: () => Promise<T>, stopOf?: (started: T) => { what: string; stop: Stop }): Promise<T> {
    if (point) await this.checkpoint(point);
    let started: T;
    try {
      started = await run();
    } catch (error) {
      // Whatever the step threw once interrupted (initdb killed, a wait aborted) is the stop's doing.
      if (this.controller.signal.aborted) throw this.controller.signal.reason;
      throw error;
    }
    if (stopOf) this.stops.unshift(stopOf(started));
    this.controller.signal.throwIfAborted();
    return started;
  }

  /** Start-up finished: `/api/health` may answer `ok` from now on. */
  ready(): void {
    this.controller.signal.throwIfAborted();
    this.current = 'ready';
  }

  /** Resolves with the signal that asked for the stop. */
  stopRequested(): Promise<NodeJS.Signals> {
    return this.stopRequest;
  }

  /** Stops everything started, newest first; false when a stop failed (something may be left). */
  async stopAll(): Promise<boolean> {
    let clean = true;
    for (const { what, stop } of this.stops.splice(0)) {
      try {
        await stop();
      } catch (error) {
        clean = false;
        this.say(`stopping ${what} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return clean;
  }

  private async checkpoint(point: StartupPoint): Promise<void> {
    if (point === this.pauseAt && !this.stopping) {
      this.say(`paused at ${point} (VIGIL_STARTUP_PAUSE_AT); waiting for a stop signal`);
      await this.stopRequest;
    }
    this.controller.signal.throwIfAborted();
  }

  private onSignal(signal: NodeJS.Signals): void {
    const now = Date.now();
    if (this.stopAsked === null) {
      this.stopAsked = { signal, at: now };
      this.say(`${signal}: stopping${this.current === 'ready' ? '' : ' the start-up'}…`);
      this.current = 'stopping';
      this.controller.abort(new StopRequested(signal));
      this.resolveStopRequest(signal);
      return;
    }
    if (now - this.stopAsked.at < SAME_REQUEST_WINDOW_MS) return;
    this.say(`${signal} again: exiting now; PostgreSQL and Temporal were told to stop and finish on their own`);
    process.exit(128 + (os.constants.signals[signal] ?? 0));
  }
}
