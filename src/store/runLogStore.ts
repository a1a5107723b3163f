/**
 * Full run logs as NDJSON files (`{ts, stream, chunk}` per line) under `<dataDir>/run-logs`.
 * `heartbeat_runs.logStore = 'local_file'` and `logRef` = the path relative to that folder.
 */
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';

export const LOG_STORE = 'local_file';

export function runLogRef(companyId: string, runId: string): string {
  return `${companyId}/${runId}.ndjson`;
}

export class RunLogStore {
  constructor(private readonly root: string) {}

  resolve(logRef: string): string {
    const full = path.resolve(this.root, logRef);
    if (!full.startsWith(path.resolve(this.root) + path.sep)) throw new Error(`log ref escapes the log folder: ${logRef}`);
    return full;
  }

  /** Appends lines; returns the file's new size in bytes and the text appended. */
  async append(logRef: string, entries: Array<{ ts: Date; stream: string; chunk: string }>): Promise<{ bytes: number; text: string }> {
    const file = this.resolve(logRef);
    await mkdir(path.dirname(file), { recursive: true });
    const handle = await open(file, 'a');
    try {
      const text = entries.map((e) => JSON.stringify({ ts: e.ts.toISOString(), stream: e.stream, chunk: e.chunk })).join('\n') + '\n';
      await handle.write(text);
      return { bytes: (await handle.stat()).size, text };
    } finally {
      await handle.close();
    }
  }

  /**
   * Reads up to `limitBytes` from `offset`; `nextOffset` is null at the end of the file. A slice
   * never ends inside a UTF-8 character (the next one starts with it), so paging never shows `\ufffd`.
   */
  async read(logRef: string, offset: number, limitBytes: number): Promise<{ content: string; nextOffset: number | null } | null> {
    const file = this.resolve(logRef);
    let handle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    try {
      const size = (await handle.stat()).size;
      const length = Math.max(0, Math.min(limitBytes, size - offset));
      // Up to 3 bytes more, to finish a character that `limitBytes` alone would cut.
      const buffer = Buffer.alloc(Math.max(0, Math.min(length + 3, size - offset)));
      if (buffer.length > 0) await handle.read(buffer, 0, buffer.length, offset);
      const whole = offset + length < size ? completeUtf8Length(buffer.subarray(0, length)) || utf8CharLength(buffer[0]) : length;
      const end = offset + whole;
      return { content: buffer.toString('utf8', 0, whole), nextOffset: end < size ? end : null };
    } finally {
      await handle.close();
    }
  }
}

/** Bytes of the UTF-8 character that starts with `first` (1 for a stray continuation byte). */
function utf8CharLength(first: number): number {
  return first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
}

/**
 * How many leading bytes of `bytes` hold whole UTF-8 characters: a trailing character cut short
 * is left for the next slice (0 when `bytes` is shorter than its first character).
 */
export function completeUtf8Length(bytes: Buffer): number {
  if (bytes.length === 0) return 0;
  let lead = bytes.length - 1;
  // Step back over continuation bytes (10xxxxxx) to the byte that starts the last character.
  while (lead > 0 && bytes.length - lead < 4 && (bytes[lead] & 0xc0) === 0x80) lead--;
  return bytes.length - lead >= utf8CharLength(bytes[lead]) ? bytes.length : lead;
}
