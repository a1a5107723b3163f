/**
 * The per-host spawn helper process (issue 12): a plain Node script with a tiny heap that forks
 * agents on the worker's behalf, so the worker's event loop never pays for `fork` (copying the
 * page tables of a worker of several hundred MiB stalls every heartbeat of that process).
 *
 * It speaks `protocol.ts` frames on fd 3 (a socket pair the worker created) and does nothing but
 * start each agent in its own process group, relay its pid or spawn error, its stdin, its output
 * (within `OUTPUT_WINDOW_BYTES` of unacknowledged bytes per child) and its exit. Signals to the
 * groups (R13, R14, R19) stay with the worker, which sends them directly.
 *
 * When the channel ends (the worker stopped, or died) the helper exits at once and leaves the
 * agents as a dying worker leaves them today: alive in their own groups, for the orphan reaper
 * (R16–R19) to judge.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Socket } from 'node:net';
import {
  encodeData,
  encodeMessage,
  FrameDecoder,
  OUTPUT_WINDOW_BYTES,
  PROTOCOL_VERSION,
  type FromHelper,
  type ToHelper,
} from './protocol.ts';

interface Agent {
  child: ChildProcess;
  /** Output bytes sent and not acknowledged yet. */
  unacknowledged: number;
  paused: boolean;
}

const channel = new Socket({ fd: 3, readable: true, writable: true });
const agents = new Map<number, Agent>();

function send(message: FromHelper): void {
  channel.write(encodeMessage(message));
}

function pauseOutput(agent: Agent, paused: boolean): void {
  if (agent.paused === paused) return;
  agent.paused = paused;
  for (const stream of [agent.child.stdout, agent.child.stderr]) {
    if (paused) stream?.pause();
    else stream?.resume();
  }
}

function startAgent(request: Extract<ToHelper, { type: 'spawn' }>): void {
  const { id } = request;
  let child: ChildProcess;
  try {
    child = spawn(request.command, request.args, {
      cwd: request.cwd,
      env: request.env,
      detached: true, // setsid(): the agent leads its own process group, pgid = pid
      stdio: [request.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    send({ type: 'spawnFailed', id, code: (err as NodeJS.ErrnoException).code ?? null, message: (err as Error).message ?? String(err) });
    return;
  }
  if (child.pid === undefined) {
    // ENOENT / EACCES arrive as an 'error' event right after spawn() returns.
    child.once('error', (err: NodeJS.ErrnoException) => send({ type: 'spawnFailed', id, code: err.code ?? null, message: err.message }));
    return;
  }
  const agent: Agent = { child, unacknowledged: 0, paused: false };
  agents.set(id, agent);
  send({ type: 'spawned', id, pid: child.pid });
  child.on('error', () => {}); // post-spawn errors (a failed kill) must not end the helper
  // The agent may exit, or close stdin, before reading its prompt: that is its business.
  child.stdin?.on('error', () => {});
  for (const stream of ['stdout', 'stderr'] as const) {
    const readable = child[stream];
    readable?.on('data', (bytes: Buffer) => {
      for (const frame of encodeData(id, stream, bytes)) channel.write(frame);
      agent.unacknowledged += bytes.length;
      // Bounded memory however verbose the agent: stop reading until the worker catches up.
      if (agent.unacknowledged >= OUTPUT_WINDOW_BYTES) pauseOutput(agent, true);
    });
    readable?.on('end', () => send({ type: 'end', id, stream }));
    readable?.on('error', () => {});
  }
  child.once('exit', (code, signal) => send({ type: 'exit', id, code, signal }));
  child.once('close', () => {
    agents.delete(id);
    send({ type: 'close', id });
  });
}

function handle(message: ToHelper): void {
  if (message.type === 'spawn') return startAgent(message);
  const agent = agents.get(message.id);
  if (!agent) return;
  if (message.type === 'stdinEnd') {
    agent.child.stdin?.end();
  } else if (message.type === 'ack') {
    agent.unacknowledged = Math.max(0, agent.unacknowledged - message.bytes);
    if (agent.unacknowledged < OUTPUT_WINDOW_BYTES) pauseOutput(agent, false);
  } else if (message.type === 'discard') {
    agent.child.stdout?.destroy();
    agent.child.stderr?.destroy();
  }
}

const decoder = new FrameDecoder<ToHelper>();
channel.on('data', (chunk: Buffer) => {
  let frames;
  try {
    frames = decoder.push(chunk);
  } catch (err) {
    process.stderr.write(`[vigil spawn helper] ${(err as Error).message}; exiting\n`);
    process.exit(70);
  }
  for (const frame of frames) {
    if (frame.kind === 'message') handle(frame.message);
    else if (frame.stream === 'stdin') agents.get(frame.id)?.child.stdin?.write(frame.bytes);
  }
});
// The worker is gone (stopped, or killed): nothing is left to relay to.
channel.on('end', () => process.exit(0));
channel.on('close', () => process.exit(0));
channel.on('error', () => process.exit(0));
// Vigil's terminal signals are the worker's to handle (it drains; agents keep the grace), and
// the helper runs in its own session anyway; a stop reaches it as the end of its channel.
process.on('SIGINT', () => {});
process.on('SIGHUP', () => {});

send({ type: 'ready', protocol: PROTOCOL_VERSION, pid: process.pid });
