/**
 * Run logs from before issue 11: NDJSON files under `<dataDir>/run-logs` on the worker that ran
 * the run (`heartbeat_runs.log_store = 'local_file'`, `log_ref` = the path under that folder).
 * Nothing writes them any more; they stay readable from the process that has the file (in
 * practice an `all` process on the host that ran the run), and are a 404 elsewhere.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { runLogSlice, runLogWindowLength, type RunLogSlice } from './runLogSlice.ts';

export const LOCAL_FILE_LOG_STORE = 'local_file';

/** The file of `logRef` under `root`; throws for a ref that leaves the folder. */
export function localRunLogFile(root: string, logRef: string): string {
  const full = path.resolve(root, logRef);
  if (!full.startsWith(path.resolve(root) + path.sep)) throw new Error(`log ref escapes the log folder: ${logRef}`);
  return full;
}

/** A slice of the file (runLogSlice.ts); null when this process has no such file. */
export async function readLocalFileRunLog(root: string, logRef: string, offset: number, limitBytes: number): Promise<RunLogSlice | null> {
  let handle;
  try {
    handle = await open(localRunLogFile(root, logRef), 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    const size = (await handle.stat()).size;
    const window = Buffer.alloc(runLogWindowLength(offset, limitBytes, size));
    if (window.length > 0) await handle.read(window, 0, window.length, offset);
    return runLogSlice(window, offset, limitBytes, size);
  } finally {
    await handle.close();
  }
}
