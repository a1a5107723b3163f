/**
 * The spawn helper's wire protocol (issue 12), shared by the helper process and the worker's
 * client: length-prefixed frames over one stream socket, so no message forks and bytes stay
 * bytes. Issue 13's supervisor speaks the same frames over a Unix socket it listens on, and adds
 * messages (attach, signal, detach) beside these.
 *
 * A frame is a 4-byte big-endian body length, then the body. The body's first byte says its kind:
 * - `MESSAGE`: the rest is one JSON object, a `ToHelper` or a `FromHelper` below;
 * - `DATA`: a 4-byte child id, a 1-byte stream, then raw bytes of that child's stdin (to the
 *   helper) or stdout/stderr (from it), in the order they were read.
 *
 * No import beyond Node's own: the helper loads this file and nothing else of Vigil.
 */

export const PROTOCOL_VERSION = 1;

/** Largest body either side accepts; a bigger one is a broken peer and ends the channel. */
export const MAX_FRAME_BODY_BYTES = 64 * 1024 * 1024;

/** A DATA frame carries at most this many bytes; longer writes are split. */
export const MAX_DATA_CHUNK_BYTES = 64 * 1024;

/**
 * Output bytes of one child the helper may send before the worker acknowledges them; past this
 * the helper stops reading the child's pipes, which then fill and block the child's writes. A
 * verbose agent costs the helper at most this much memory (and the worker its own stream buffer).
 */
export const OUTPUT_WINDOW_BYTES = 256 * 1024;

const FRAME_MESSAGE = 1;
const FRAME_DATA = 2;

export type ChildStream = 'stdin' | 'stdout' | 'stderr';
const STREAM_CODES: Record<ChildStream, number> = { stdin: 0, stdout: 1, stderr: 2 };
const STREAM_NAMES: ChildStream[] = ['stdin', 'stdout', 'stderr'];

/** What the worker asks of the helper. */
export type ToHelper =
  /** Start `command` in its own process group (setsid), with exactly this environment. */
  | { type: 'spawn'; id: number; command: string; args: string[]; cwd: string; env: Record<string, string>; stdin: boolean }
  /** The child's stdin is complete: close it. */
  | { type: 'stdinEnd'; id: number }
  /** The worker consumed `bytes` of the child's output: the helper may send that much more. */
  | { type: 'ack'; id: number; bytes: number }
  /** Stop reading the child's pipes and close them (a process outside the group still holds them). */
  | { type: 'discard'; id: number };

/** What the helper tells the worker. */
export type FromHelper =
  | { type: 'ready'; protocol: number; pid: number }
  | { type: 'spawned'; id: number; pid: number }
  /** The child never started; `code` is the errno name (ENOENT, EACCES, ...). */
  | { type: 'spawnFailed'; id: number; code: string | null; message: string }
  /** One of the child's output streams reached its end (every DATA frame of it came before). */
  | { type: 'end'; id: number; stream: 'stdout' | 'stderr' }
  | { type: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null }
  /** The child exited and its pipes are closed: nothing more about this id follows. */
  | { type: 'close'; id: number };

function frame(body: Buffer): Buffer {
  const header = Buffer.allocUnsafe(4);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

export function encodeMessage(message: ToHelper | FromHelper): Buffer {
  const json = Buffer.from(JSON.stringify(message), 'utf8');
  const body = Buffer.allocUnsafe(1 + json.length);
  body[0] = FRAME_MESSAGE;
  json.copy(body, 1);
  return frame(body);
}

/** One DATA frame per `MAX_DATA_CHUNK_BYTES` of `bytes`. */
export function encodeData(id: number, stream: ChildStream, bytes: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  for (let start = 0; start < bytes.length; start += MAX_DATA_CHUNK_BYTES) {
    const part = bytes.subarray(start, start + MAX_DATA_CHUNK_BYTES);
    const body = Buffer.allocUnsafe(6 + part.length);
    body[0] = FRAME_DATA;
    body.writeUInt32BE(id, 1);
    body[5] = STREAM_CODES[stream];
    part.copy(body, 6);
    frames.push(frame(body));
  }
  return frames;
}

export type DecodedFrame<M> = { kind: 'message'; message: M } | { kind: 'data'; id: number; stream: ChildStream; bytes: Buffer };

/** Cuts a byte stream into frames; throws on a frame no peer of this protocol would send. */
export class FrameDecoder<M> {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): DecodedFrame<M>[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const frames: DecodedFrame<M>[] = [];
    let offset = 0;
    while (this.pending.length - offset >= 4) {
      const length = this.pending.readUInt32BE(offset);
      if (length === 0 || length > MAX_FRAME_BODY_BYTES) throw new Error(`spawn helper protocol: bad frame length ${length}`);
      if (this.pending.length - offset - 4 < length) break;
      const body = this.pending.subarray(offset + 4, offset + 4 + length);
      offset += 4 + length;
      frames.push(decodeBody<M>(body));
    }
    // Keep only the unread tail (a copy, so a large consumed chunk is not pinned by a small rest).
    this.pending = offset === this.pending.length ? Buffer.alloc(0) : Buffer.from(this.pending.subarray(offset));
    return frames;
  }
}

function decodeBody<M>(body: Buffer): DecodedFrame<M> {
  if (body[0] === FRAME_MESSAGE) return { kind: 'message', message: JSON.parse(body.subarray(1).toString('utf8')) as M };
  if (body[0] === FRAME_DATA && body.length >= 6) {
    const stream = STREAM_NAMES[body[5]];
    if (!stream) throw new Error(`spawn helper protocol: bad stream ${body[5]}`);
    return { kind: 'data', id: body.readUInt32BE(1), stream, bytes: Buffer.from(body.subarray(6)) };
  }
  throw new Error(`spawn helper protocol: bad frame kind ${body[0]}`);
}
