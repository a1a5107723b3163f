/**
 * After a test whose Vigils ran agents under a supervisor directory of its own (issue 13): every
 * agent still running there is ended by its group (its pid checked against its start ticks), then
 * the supervisor itself, by the pid it wrote. A test that failed half-way leaves nothing behind.
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { killProcessGroup } from '../../src/adapters/processGroup.ts';
import { isSameProcessAlive } from '../../src/adapters/supervisor/processStart.ts';
import { PID_FILE_NAME, readRecord, runsDirectory, type ProcessRecord } from '../../src/adapters/supervisor/runFiles.ts';

export async function endSupervisedAgents(supervisorDir: string): Promise<void> {
  const runs = await readdir(runsDirectory(supervisorDir)).catch(() => [] as string[]);
  for (const key of runs) {
    const record = readRecord<ProcessRecord>(path.join(runsDirectory(supervisorDir), key, 'process.json'));
    if (record && isSameProcessAlive(record.pid, record.startTicks)) await killProcessGroup(record.pid);
  }
  const pid = Number((await readFile(path.join(supervisorDir, PID_FILE_NAME), 'utf8').catch(() => '')).trim());
  if (Number.isInteger(pid) && pid > 0) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already (it exits by itself once idle)
    }
  }
}
