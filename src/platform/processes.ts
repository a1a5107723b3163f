/**
 * Small process and port helpers shared by the platform launchers (embedded PostgreSQL, the
 * Temporal dev server). They exist so that crash recovery can *prove* which process a pid file
 * points at before signalling it: a pid alone can be reused by the OS, a pid plus the kernel's
 * start time of that process cannot.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';

/** True while `pid` names a running (not zombie) process, whoever owns it. */
export function isPidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists but belongs to someone else; ESRCH: gone.
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  // An exited child that nobody has reaped yet still answers kill(0); it is not running.
  const stat = readProcStat(pid);
  return stat === null || stat.state !== 'Z';
}

export interface ProcStat {
  state: string;
  ppid: number;
  /** Clock ticks since boot at which the process started (field 22 of /proc/<pid>/stat). */
  startTicks: string;
}

/** The fields of `/proc/<pid>/stat` Vigil reads; null when there is no such process (or no /proc). */
export function readProcStat(pid: number): ProcStat | null {
  let raw: string;
  try {
    raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) is in parentheses and may itself contain spaces or ')'.
  const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
  return { state: fields[0], ppid: Number(fields[1]), startTicks: fields[19] };
}

function psField(pid: number, field: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile('ps', ['-p', String(pid), '-o', `${field}=`], (error, stdout) => {
      const value = stdout?.trim();
      resolve(error || !value ? null : value);
    });
  });
}

/**
 * A stable identity of a running process: its start time as the kernel reports it. Two different
 * processes that share a pid (reuse) never share this value. Null when the process is gone.
 */
export async function processStartTime(pid: number): Promise<string | null> {
  if (!isPidAlive(pid)) return null;
  const stat = readProcStat(pid);
  if (stat) return `ticks:${stat.startTicks}`;
  // No /proc (macOS): `ps` prints the start time to the second, good enough against pid reuse.
  const lstart = await psField(pid, 'lstart');
  return lstart ? `lstart:${lstart}` : null;
}

/** The executable a process runs, as an absolute path when the OS tells us (Linux), else its name. */
export async function processExecutable(pid: number): Promise<string | null> {
  try {
    return readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '');
  } catch {
    return psField(pid, 'comm');
  }
}

/** The working directory of a process (Linux only; null elsewhere or without permission). */
export function processWorkingDirectory(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return null;
  }
}

/** The identity of the current process, for "who owns this server" records. */
export async function currentProcessIdentity(): Promise<{ pid: number; startTime: string | null }> {
  return { pid: process.pid, startTime: await processStartTime(process.pid) };
}

/** True when `pid` is alive and is still the very process whose start time was recorded. */
export async function isSameProcess(pid: number, recordedStartTime: string | null): Promise<boolean> {
  if (!isPidAlive(pid)) return false;
  if (recordedStartTime === null) return false;
  return (await processStartTime(pid)) === recordedStartTime;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until `pid` is no longer running; true if it exited within `timeoutMs`. */
export async function waitForPidExit(pid: number, timeoutMs: number, pollMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (isPidAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(pollMs);
  }
  return true;
}

/**
 * Stops one process by pid: `signal` first, then SIGKILL if it is still alive after `killAfterMs`.
 * The caller must already have proven that the pid is a process it owns.
 */
export async function terminatePid(
  pid: number,
  opts: { signal?: NodeJS.Signals; killAfterMs?: number } = {},
): Promise<'exited' | 'killed' | 'not-running'> {
  const { signal = 'SIGTERM', killAfterMs = 5_000 } = opts;
  if (!isPidAlive(pid)) return 'not-running';
  try {
    process.kill(pid, signal);
  } catch {
    return 'not-running';
  }
  if (await waitForPidExit(pid, killAfterMs)) return 'exited';
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return 'exited';
  }
  await waitForPidExit(pid, 5_000);
  return 'killed';
}

/** True when something accepts TCP connections on host:port right now. */
export function isPortAnswering(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Waits until host:port accepts connections; true if it did within `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, host = '127.0.0.1'): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await isPortAnswering(port, host)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(50);
  }
}

/** The last `lines` lines of a text, for error messages that quote a server's output. */
export function tailLines(text: string, lines = 30): string {
  const all = text.split(/\r?\n/);
  while (all.length > 0 && all[all.length - 1].trim() === '') all.pop();
  return all.slice(-lines).join('\n');
}
