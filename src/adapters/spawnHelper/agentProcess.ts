/**
 * The worker's view of an agent the spawn helper started (issue 12): what `superviseProcess`
 * used of a `ChildProcess` — `pid`, `stdin`, `stdout`/`stderr` streams and the `exit`/`close`
 * events — fed by the helper's frames instead of the worker's own pipes.
 *
 * Output keeps its order per stream and its backpressure end to end: bytes the consumer has not
 * taken (a paused stream, a full buffer) are not acknowledged, so the helper stops reading the
 * agent's pipes after `OUTPUT_WINDOW_BYTES` and the agent blocks on its writes, as it would on a
 * direct pipe.
 */
import { EventEmitter } from 'node:events';
import { Readable, Writable, finished } from 'node:stream';
import type { ToHelper } from './protocol.ts';

/** What `superviseProcess` needs of a started agent; a direct `ChildProcess` satisfies it too. */
export interface AgentProcess {
  readonly pid: number;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  on(event: 'error', listener: (error: Error) => void): this;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): this;
  once(event: 'close', listener: () => void): this;
}

/** How an agent process reaches the helper: one frame-writing function per kind. */
export interface HelperLink {
  sendMessage(message: ToHelper): void;
  sendStdin(id: number, bytes: Buffer): void;
}

/** One output stream of a helper-started agent; acknowledges what its consumer has taken. */
class RelayedOutput extends Readable {
  /** Received bytes the consumer has not pulled yet: acknowledged when it asks for more. */
  private owed = 0;

  constructor(private readonly acknowledge: (bytes: number) => void, private readonly onDestroy: () => void) {
    super({ highWaterMark: 64 * 1024 });
  }

  deliver(bytes: Buffer): void {
    if (this.destroyed || this.readableEnded) return;
    if (this.push(bytes)) this.acknowledge(bytes.length);
    else this.owed += bytes.length;
  }

  override _read(): void {
    if (this.owed === 0) return;
    const bytes = this.owed;
    this.owed = 0;
    this.acknowledge(bytes);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Destroyed before its end (the caller gave up waiting): the helper closes the real pipe too.
    if (!this.readableEnded) this.onDestroy();
    callback(error);
  }
}

export class HelperAgentProcess extends EventEmitter implements AgentProcess {
  readonly stdin: Writable | null;
  readonly stdout: RelayedOutput;
  readonly stderr: RelayedOutput;
  private exited = false;
  private closed = false;
  private acknowledgeable = 0;
  private acknowledgeScheduled = false;
  private discarded = false;

  constructor(readonly id: number, readonly pid: number, private readonly link: HelperLink, withStdin: boolean) {
    super();
    const acknowledge = (bytes: number) => this.acknowledge(bytes);
    const discard = () => this.discard();
    this.stdout = new RelayedOutput(acknowledge, discard);
    this.stderr = new RelayedOutput(acknowledge, discard);
    this.stdin = withStdin
      ? new Writable({
          write: (chunk: Buffer, _encoding, callback) => {
            if (!this.closed) link.sendStdin(id, chunk);
            callback();
          },
          final: (callback) => {
            if (!this.closed) link.sendMessage({ type: 'stdinEnd', id });
            callback();
          },
        })
      : null;
  }

  get hasExited(): boolean {
    return this.exited;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  output(stream: 'stdout' | 'stderr', bytes: Buffer): void {
    this[stream].deliver(bytes);
  }

  outputEnded(stream: 'stdout' | 'stderr'): void {
    if (!this[stream].destroyed && !this[stream].readableEnded) this[stream].push(null);
  }

  exit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    this.emit('exit', code, signal);
    // Like a ChildProcess: a stream nobody listens to is drained, so 'close' can still come.
    process.nextTick(() => {
      for (const stream of [this.stdout, this.stderr]) {
        if (stream.listenerCount('data') === 0 && stream.listenerCount('readable') === 0) stream.resume();
      }
    });
  }

  /** The helper will say nothing more of this agent: 'close' once both streams are read to their end. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.outputEnded('stdout');
    this.outputEnded('stderr');
    this.stdin?.destroy();
    let open = 2;
    const streamDone = () => {
      if (--open === 0) this.emit('close');
    };
    // Like a ChildProcess: 'close' follows the end of both streams (or their destruction).
    finished(this.stdout, streamDone);
    finished(this.stderr, streamDone);
  }

  private acknowledge(bytes: number): void {
    this.acknowledgeable += bytes;
    if (this.acknowledgeScheduled) return;
    this.acknowledgeScheduled = true;
    // One ack per turn of the loop, however many frames were taken in it.
    setImmediate(() => {
      this.acknowledgeScheduled = false;
      const bytes = this.acknowledgeable;
      this.acknowledgeable = 0;
      if (bytes > 0 && !this.closed) this.link.sendMessage({ type: 'ack', id: this.id, bytes });
    });
  }

  private discard(): void {
    if (this.discarded || this.closed) return;
    this.discarded = true;
    this.link.sendMessage({ type: 'discard', id: this.id });
  }
}
