/**
 * A pid is only trusted together with its start time (issue 13): pids are reused, so "pid 4242 is
 * alive" says nothing about the agent that once had it. Linux gives every process its start time
 * in clock ticks since boot (`/proc/<pid>/stat`, field 22), fixed for the process's life.
 *
 * Node imports only (and platform/processes.ts): the supervisor process loads this file.
 */
import { readProcStat } from '../../platform/processes.ts';
import { isPidAlive } from '../processGroup.ts';

/** The start ticks of `pid`, or null when no such process is alive (or /proc cannot say). */
export function processStartTicks(pid: number): number | null {
  const stat = readProcStat(pid);
  // A zombie has exited: only its status is left to collect.
  if (stat === null || stat.state === 'Z') return null;
  const ticks = Number(stat.startTicks);
  return Number.isFinite(ticks) ? ticks : null;
}

/** Whether `pid` is the very process that started at `startTicks` and still runs. */
export function isSameProcessAlive(pid: number, startTicks: number): boolean {
  return processStartTicks(pid) === startTicks;
}

/**
 * Whether a run's recorded process still runs: the same process when its start ticks were
 * recorded, else (rows older than issue 13) any process with that pid, as before.
 */
export async function isRecordedProcessAlive(pid: number, startTicks: number | bigint | null): Promise<boolean> {
  return startTicks === null ? isPidAlive(pid) : isSameProcessAlive(pid, Number(startTicks));
}
