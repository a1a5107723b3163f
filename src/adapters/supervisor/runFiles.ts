/**
 * Where the agent supervisor keeps what it knows of a run (issue 13), one directory per run under
 * `<supervisorDir>/runs/<runId>/`, private to the user (0700, files 0600: raw output may hold a
 * secret the worker redacts only when it reads it):
 * - `stdout`, `stderr`: the agent's own output, written by the agent itself (append-only files);
 * - `process.json`: the leader's pid and start ticks, written right after the spawn (`ProcessRecord`);
 * - `exit.json`: how the leader ended (`AgentExit`), written (atomically) before anyone is told;
 * - `lost.json`: written by a supervisor that found the run started by a predecessor and not ended.
 * The directory goes when the worker releases the run (its result is recorded).
 *
 * Node imports only: the supervisor process loads this file.
 */
import path from 'node:path';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { AgentExit } from './protocol.ts';

export const SOCKET_NAME = 'supervisor.sock';
export const PID_FILE_NAME = 'supervisor.pid';
export const LOG_FILE_NAME = 'supervisor.log';

export type OutputStream = 'stdout' | 'stderr';

export interface ProcessRecord {
  pid: number;
  startTicks: number;
  spawnedAt: string;
}

export function socketPath(supervisorDir: string): string {
  return path.join(supervisorDir, SOCKET_NAME);
}

export function runsDirectory(supervisorDir: string): string {
  return path.join(supervisorDir, 'runs');
}

export function runDirectory(supervisorDir: string, runId: string): string {
  if (!/^[0-9a-zA-Z-]{1,64}$/.test(runId)) throw new Error(`not a run id: ${JSON.stringify(runId)}`);
  return path.join(runsDirectory(supervisorDir), runId);
}

export function outputPath(supervisorDir: string, runId: string, stream: OutputStream): string {
  return path.join(runDirectory(supervisorDir, runId), stream);
}

export function processRecordPath(supervisorDir: string, runId: string): string {
  return path.join(runDirectory(supervisorDir, runId), 'process.json');
}

export function exitRecordPath(supervisorDir: string, runId: string): string {
  return path.join(runDirectory(supervisorDir, runId), 'exit.json');
}

export function lostRecordPath(supervisorDir: string, runId: string): string {
  return path.join(runDirectory(supervisorDir, runId), 'lost.json');
}

/** The supervisor's directory, private to this user. */
export function ensurePrivateDirectory(directory: string): void {
  mkdirSync(directory, { recursive: true, mode: 0o700 });
}

/** Writes `value` as JSON so a reader sees the whole record or none (write, then rename). */
export function writeRecord(file: string, value: unknown): void {
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, JSON.stringify(value), { mode: 0o600 });
  renameSync(partial, file);
}

/** The record in `file`, or null when there is none (or it is not whole JSON). */
export function readRecord<T>(file: string): T | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch {
    return null;
  }
}

export function readExit(supervisorDir: string, runId: string): AgentExit | null {
  return readRecord<AgentExit>(exitRecordPath(supervisorDir, runId));
}
