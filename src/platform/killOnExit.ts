/**
 * The last line of defence for the servers and builds this process spawned: if it exits without
 * having stopped them (a second Ctrl-C that forces the exit, an uncaught exception, a
 * `process.exit()` anywhere), each one tracked here still gets its stop signal. Node cannot wait
 * in an 'exit' handler, but it can send signals: the servers then stop on their own.
 *
 * A launcher tracks its child right after spawning it, so a child that is still starting is
 * covered too, and releases it once its own stop() has run.
 */

interface Tracked {
  /** A pid, or the id of a process group (signalled as `-pgid`). */
  target: { pid: number } | { processGroup: number };
  signal: NodeJS.Signals;
}

const tracked = new Set<Tracked>();
let hookInstalled = false;

/** Sends `signal` to `target` if this process exits before the returned release() is called. */
export function killOnExit(target: Tracked['target'], signal: NodeJS.Signals): () => void {
  const entry: Tracked = { target, signal };
  tracked.add(entry);
  if (!hookInstalled) {
    hookInstalled = true;
    process.once('exit', killTracked);
  }
  return () => {
    tracked.delete(entry);
  };
}

function killTracked(): void {
  for (const { target, signal } of tracked) {
    try {
      process.kill('pid' in target ? target.pid : -target.processGroup, signal);
    } catch {
      // already gone
    }
  }
  tracked.clear();
}
