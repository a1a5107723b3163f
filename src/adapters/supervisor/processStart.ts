/**
 * A pid is only trusted together with its start time (issue 13): pids are reused, so "pid 4242 is
 * alive" says nothing about the agent that once had it. Linux gives every process its start time
 * in clock ticks since boot (`/proc/<pid>/stat`, field 22), fixed for the process's life.
 *
 * Node imports only: the supervisor process loads this file.
 */
import { readFileSync } from 'node:fs';
import { isPidAlive } from '../processGroup.ts';

/** The start ticks of `pid`, or null when no such process is alive (or /proc cannot say). */
export function processStartTicks(pid: number): number | null {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may hold spaces or ')': fields follow the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state); a zombie has exited, only its status is left to collect.
  if (fields[0] === 'Z') return null;
  const ticks = Number(fields[19]);
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
