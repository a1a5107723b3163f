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

  /** Reads up to `limitBytes` from `offset`; `nextOffset` is null at the end of the file. */
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
      const buffer = Buffer.alloc(length);
      if (length > 0) await handle.read(buffer, 0, length, offset);
      const end = offset + length;
      return { content: buffer.toString('utf8'), nextOffset: end < size ? end : null };
    } finally {
      await handle.close();
    }
  }
}
