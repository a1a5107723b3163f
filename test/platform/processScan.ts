/**
 * The processes a Vigil under test started, found from the outside through /proc (Linux): every
 * process whose command line names its data directory (the postmaster, initdb, the Temporal dev
 * server with its SQLite file), whose working directory is inside it (PostgreSQL's backends,
 * which rewrite their command line), or that sits in its process group (anything spawned
 * without a group of its own).
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';

export interface FoundProcess {
  pid: number;
  parentPid: number;
  processGroup: number;
  commandLine: string;
  /** Names the data directory (or runs in it): a server or tool Vigil launched. */
  inDataDir: boolean;
}

export function processesOf(dataDir: string, processGroup: number | null): FoundProcess[] {
  const prefix = dataDir.endsWith(path.sep) ? dataDir : dataDir + path.sep;
  const found: FoundProcess[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const stat = read(`/proc/${pid}/stat`);
    if (stat === null) continue;
    // Fields after the command name, which is in parentheses and may hold spaces.
    const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (state === 'Z') continue;
    const commandLine = (read(`/proc/${pid}/cmdline`) ?? '').split('\0').join(' ').trim();
    let cwd = '';
    try {
      cwd = readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      // gone, or not ours to read
    }
    const inDataDir = commandLine.includes(dataDir) || cwd === dataDir || cwd.startsWith(prefix);
    if (inDataDir || Number(pgrp) === processGroup) found.push({ pid, parentPid: Number(ppid), processGroup: Number(pgrp), commandLine, inDataDir });
  }
  return found;
}

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}
