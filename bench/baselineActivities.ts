/**
 * The baselines' activities (bench/baseline.ts), each noting when its work started: `noop`
 * returns at once; `spawnNoop` runs the same process as Vigil's bench agents, the way Vigil's
 * process adapter does (src/adapters/superviseProcess.ts): detached, so it leads its own process
 * group, stdout read to its end, then its exit awaited. Its start is the moment the child has a
 * pid, as Vigil's `processStartedAt` is.
 */
import { spawn } from 'node:child_process';
import type { BaselineActivities } from './baseline.ts';

/** What Vigil's bench agents run (bench/runThroughput.ts). */
export const NOOP_AGENT = { command: '/bin/sh', args: ['-c', 'echo \'{"type":"result","summary":"ok"}\''] };

export function baselineActivities(startedAt: Map<number, number>): BaselineActivities {
  return {
    async noop(calledAtMs) {
      startedAt.set(calledAtMs, Date.now());
      return calledAtMs;
    },
    async spawnNoop(calledAtMs) {
      const child = spawn(NOOP_AGENT.command, NOOP_AGENT.args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      if (child.pid === undefined) throw new Error('the no-op process reported no pid');
      startedAt.set(calledAtMs, Date.now());
      const exited = new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (code) => resolve(code));
      });
      let stdout = '';
      child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr!.resume();
      const code = await exited;
      if (code !== 0 || !stdout.includes('"type":"result"')) throw new Error(`the no-op process exited ${code} with ${JSON.stringify(stdout)}`);
      return calledAtMs;
    },
  };
}
