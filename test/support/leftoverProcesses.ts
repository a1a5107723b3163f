/**
 * "The suite leaves nothing of its own running": the global setup marks its environment with a
 * run id before any test file starts, so every process the run starts — forks, Vigils in their
 * own processes, agents, process groups, PostgreSQL, the Temporal dev server — inherits it (the
 * process adapter passes everything but `VIGIL_*` on to agents). At the end, after the servers
 * stopped, any live process still carrying the mark is a leak.
 */
import { readdir, readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';

export const SUITE_MARK_VARIABLE = 'TEST_SUITE_RUN_ID';

/** Sets the mark in this process's environment (inherited by everything started from now on). */
export function markSuiteProcesses(): string {
  const mark = `vigil-test-${randomUUID()}`;
  process.env[SUITE_MARK_VARIABLE] = mark;
  return mark;
}

export interface MarkedProcess {
  pid: number;
  command: string;
}

/** Live processes (not zombies) other than this one whose environment carries `mark`. */
export async function processesCarrying(mark: string): Promise<MarkedProcess[]> {
  const needle = Buffer.from(`${SUITE_MARK_VARIABLE}=${mark}\0`);
  const found: MarkedProcess[] = [];
  for (const entry of await readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const environ = await readFile(`/proc/${pid}/environ`);
      if (!environ.includes(needle)) continue;
      const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      const command = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).replaceAll('\0', ' ').trim();
      found.push({ pid, command });
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** Waits a little for processes that are being ended to go, then names those that stay. */
export async function leftoverProcesses(mark: string, settleMs = 5_000): Promise<MarkedProcess[]> {
  const deadline = Date.now() + settleMs;
  for (;;) {
    const left = await processesCarrying(mark);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
