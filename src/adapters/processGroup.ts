/**
 * Signalling a whole process group and proving it gone. Used by the process adapter for timeouts
 * (R13), cancellation (R14 step 2) and descendants left behind by a finished leader; the reaper's
 * descendant-only cleanup (R19) can use `terminateProcessGroup` with a 2 s grace.
 */
import { hostname } from 'node:os';
import { readdir, readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';

/** Sends `signal` to every process of the group; false when the group does not exist (ESRCH). */
export function signalProcessGroup(pgid: number, signal: NodeJS.Signals | 0): boolean {
  return signalTarget(-pgid, signal);
}

function signalTarget(target: number, signal: NodeJS.Signals | 0): boolean {
  if (!Number.isInteger(target) || target === 0 || target === -1 || target === 1) return false;
  try {
    process.kill(target, signal);
    return true;
  } catch (err) {
    // EPERM: it exists, it is just not ours to signal.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface ProcStat {
  state: string;
  pgrp: number;
}

function parseProcStat(text: string): ProcStat | null {
  // "pid (comm) state ppid pgrp ..." — comm may contain spaces and parentheses.
  const close = text.lastIndexOf(')');
  if (close < 0) return null;
  const fields = text.slice(close + 2).split(' ');
  const pgrp = Number(fields[2]);
  return fields[0] && Number.isInteger(pgrp) ? { state: fields[0], pgrp } : null;
}

async function readProcStat(pid: string | number): Promise<ProcStat | null> {
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

const isZombie = (stat: ProcStat): boolean => stat.state === 'Z' || stat.state === 'X';

/** True/false from /proc; null where /proc is not available (then kill(2) has the last word). */
async function groupHasLiveMember(pgid: number): Promise<boolean | null> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return null;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readProcStat(name);
    if (stat && stat.pgrp === pgid && !isZombie(stat)) return true;
  }
  return false;
}

/**
 * Whether any process of the group still runs. kill(2) also finds zombies, and where nothing
 * reaps orphans (a container whose PID 1 is not an init, as on the CI machines) an exited
 * descendant stays a zombie forever, so a "live" answer is confirmed against /proc.
 */
export async function isProcessGroupAlive(pgid: number): Promise<boolean> {
  if (!signalProcessGroup(pgid, 0)) return false;
  return (await groupHasLiveMember(pgid)) ?? true;
}

/** Signal-0 probe of one pid (EPERM counts as alive); a zombie counts as dead. */
export async function isPidAlive(pid: number): Promise<boolean> {
  if (!signalTarget(pid, 0)) return false;
  const stat = await readProcStat(pid);
  return stat ? !isZombie(stat) : true;
}

export interface TerminateGroupOptions {
  /** Time between SIGTERM and SIGKILL. */
  graceMs: number;
  pollMs?: number;
  /** After SIGKILL, stop waiting after this long (a process stuck in the kernel); never hang. */
  giveUpAfterKillMs?: number;
}

export interface TerminateGroupOutcome {
  /** No live process is left in the group. */
  gone: boolean;
  /** SIGKILL had to be sent. */
  escalated: boolean;
}

/** SIGTERM to the group, poll until it is gone, SIGKILL once `graceMs` has passed. */
export async function terminateProcessGroup(
  pgid: number,
  { graceMs, pollMs = 100, giveUpAfterKillMs = 10_000 }: TerminateGroupOptions,
): Promise<TerminateGroupOutcome> {
  const startedAt = Date.now();
  if (!signalProcessGroup(pgid, 'SIGTERM')) return { gone: true, escalated: false };
  let killedAt: number | null = null;
  for (;;) {
    await sleep(pollMs);
    if (!(await isProcessGroupAlive(pgid))) return { gone: true, escalated: killedAt !== null };
    const now = Date.now();
    if (killedAt === null && now - startedAt >= graceMs) {
      signalProcessGroup(pgid, 'SIGKILL');
      killedAt = now;
    } else if (killedAt !== null && now - killedAt >= giveUpAfterKillMs) {
      return { gone: false, escalated: true };
    }
  }
}

/**
 * Whether a run's recorded pid/pgid names a process on this machine: recorded here, or recorded
 * without a host (rows older than `process_host`, or written by hand), which counts as here.
 */
export function spawnedOnThisHost(processHost: string | null): boolean {
  return processHost === null || processHost === hostname();
}

/**
 * SIGKILL to the whole group at once, then poll until no live process is left (or give up after
 * `giveUpAfterMs`: a process stuck in the kernel). For a group nobody can supervise any more —
 * its spawn helper died with its pipes — so it ends as a lost process (R21), never left behind.
 */
export async function killProcessGroup(pgid: number, { pollMs = 50, giveUpAfterMs = 10_000 }: { pollMs?: number; giveUpAfterMs?: number } = {}): Promise<boolean> {
  if (!signalProcessGroup(pgid, 'SIGKILL')) return true;
  const startedAt = Date.now();
  for (;;) {
    if (!(await isProcessGroupAlive(pgid))) return true;
    if (Date.now() - startedAt >= giveUpAfterMs) return false;
    await sleep(pollMs);
  }
}
