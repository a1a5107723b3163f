/**
 * The per-host agent supervisor's protocol (issue 13): newline-delimited JSON over the Unix socket
 * `<supervisorDir>/supervisor.sock`. A worker sends requests, each with its own `requestId`; the
 * supervisor answers each with one reply carrying the same `requestId`, and tells the connections
 * attached to a run when its agent exits (`exited`).
 *
 * No output crosses the socket: an agent writes its stdout and stderr straight into files of its
 * run directory (runFiles.ts), so nothing is lost while no worker is attached, whoever dies. The
 * worker reads them from the files.
 *
 * No import beyond Node's own and this folder: the supervisor loads nothing else of Vigil.
 */

export const SUPERVISOR_PROTOCOL_VERSION = 1;

/** A line longer than this is a broken peer: the connection is closed. */
export const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** How an agent's leader process ended, as the supervisor (its parent) saw it. */
export interface AgentExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** ISO time the supervisor saw the exit. */
  exitedAt: string;
  /**
   * Who ended the group, when the supervisor did: its deadline passed (R13), a worker asked
   * (`terminate`: a cancel, R14), or no worker attached within the unattended window.
   * null: the agent exited on its own (or something outside Vigil killed it).
   */
  endedBy: 'timeout' | 'terminate' | 'unattended' | null;
}

/** What the supervisor knows of a run. */
export type AgentState =
  /** Its leader runs; `startTicks` is its start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  | { state: 'running'; pid: number; startTicks: number; spawnedAt: string }
  | { state: 'exited'; pid: number; startTicks: number; spawnedAt: string; exit: AgentExit }
  /**
   * It was started, but no supervisor saw it end: the supervisor that started it died (its group
   * was ended when a new supervisor found it, if it still ran). The run's process is lost (R21).
   */
  | { state: 'lost'; pid: number | null; startTicks: number | null; spawnedAt: string | null }
  /** No supervisor on this host ever started it (or its directory was released). */
  | { state: 'unknown' };

export type SupervisorRequest =
  | {
      op: 'hello';
      requestId: number;
    }
  | {
      /**
       * Starts `command` for `runId` in its own session and process group (setsid; pgid = pid),
       * stdout and stderr into the run's files, `stdin` (if not null) written to its stdin, then
       * closed. Refused when the run already has a directory (attach instead). The asking
       * connection is attached to the run.
       */
      op: 'spawn';
      requestId: number;
      runId: string;
      command: string;
      args: string[];
      cwd: string;
      env: Record<string, string>;
      stdin: string | null;
      /** Epoch ms at which the supervisor ends the group as timed out (R13); null: never. */
      deadlineAt: number | null;
      /** SIGTERM → SIGKILL grace whenever the supervisor ends the group (R13, R14). */
      graceMs: number;
      /** With no connection attached for this long, the supervisor ends the group (`unattended`). */
      unattendedMs: number;
    }
  /** What the supervisor knows of `runId`; while running (or exited unreleased) the connection is attached to it. */
  | { op: 'attach'; requestId: number; runId: string }
  /** The connection stops watching `runId` (a worker detaching on shutdown); the unattended window starts if no other is attached. */
  | { op: 'detach'; requestId: number; runId: string }
  /** Ends the run's group: SIGTERM, then SIGKILL after `graceMs`; answered once the leader has exited. */
  | { op: 'terminate'; requestId: number; runId: string; graceMs: number }
  /** The worker is done with `runId` (its result is recorded): its directory and files are removed. */
  | { op: 'release'; requestId: number; runId: string };

/** What a spawn asks for beyond the run's key: the client's request shape (client.ts). */
export type AgentSpawnRequest = Omit<Extract<SupervisorRequest, { op: 'spawn' }>, 'op' | 'requestId' | 'runId'>;

export type SupervisorReply =
  | { requestId: number; ok: true; protocol: number; pid: number }
  | ({ requestId: number; ok: true } & AgentState)
  | { requestId: number; ok: true }
  /** `code`: the errno name of a failed spawn (ENOENT, EACCES, ...); `exists`: the run was spawned before; `unknown`: no such run. */
  | { requestId: number; ok: false; code: string | null; message: string };

/** Sent, unasked, to every connection attached to `runId` once its leader's exit is recorded. */
export interface SupervisorEvent {
  event: 'exited';
  runId: string;
  exit: AgentExit;
}

export function encodeLine(message: SupervisorRequest | SupervisorReply | SupervisorEvent): string {
  return `${JSON.stringify(message)}\n`;
}

/** Cuts a byte stream into JSON lines; throws on a line no peer of this protocol would send. */
export class LineDecoder<M> {
  private pending = '';

  push(chunk: Buffer | string): M[] {
    this.pending += chunk.toString();
    const messages: M[] = [];
    let newline: number;
    while ((newline = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, newline);
      this.pending = this.pending.slice(newline + 1);
      if (line.trim() !== '') messages.push(JSON.parse(line) as M);
    }
    if (this.pending.length > MAX_LINE_BYTES) throw new Error('agent supervisor protocol: line too long');
    return messages;
  }
}
