import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { isPidAlive, isProcessGroupAlive, terminateProcessGroup } from '../../src/adapters/processGroup.ts';

/** Starts `script` as the leader of a new process group and returns its first stdout line. */
async function startGroup(script: string): Promise<{ child: ChildProcess; pgid: number; firstLine: string }> {
  const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  const [data] = (await once(child.stdout!, 'data')) as [Buffer];
  return { child, pgid: child.pid!, firstLine: data.toString().trim() };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('process groups', () => {
  it('a group that never existed is not alive', async () => {
    expect(await isProcessGroupAlive(2 ** 22 + 12345)).toBe(false);
    expect(await isPidAlive(2 ** 22 + 12345)).toBe(false);
  });

  it('treats zombies as dead: only running members keep a group alive', async () => {
    // The child of `exec sleep` is never reaped by it, so it stays a zombie while the leader lives.
    const { child, pgid, firstLine } = await startGroup('sleep 0.05 & echo $!; exec sleep 300');
    const zombie = Number(firstLine);
    await sleep(300);
    expect(() => process.kill(zombie, 0)).not.toThrow();
    expect(await isPidAlive(zombie)).toBe(false);
    expect(await isProcessGroupAlive(pgid)).toBe(true);

    child.kill('SIGKILL');
    await once(child, 'exit');
    // The zombie, now an orphan, may linger until PID 1 reaps it; the group is dead regardless.
    expect(await isProcessGroupAlive(pgid)).toBe(false);
  });

  it('terminates a group with SIGTERM when that is enough', async () => {
    const { child, pgid } = await startGroup('sleep 300 & echo started; wait');
    const exited = once(child, 'exit');
    const outcome = await terminateProcessGroup(pgid, { graceMs: 5000 });
    expect(outcome).toEqual({ gone: true, escalated: false });
    expect(await exited).toEqual([null, 'SIGTERM']);
  });

  it('escalates to SIGKILL after the grace (R19: 2 s for descendants)', async () => {
    const { child, pgid } = await startGroup("trap '' TERM; sleep 300 & echo started; while :; do sleep 1; done");
    const started = Date.now();
    const outcome = await terminateProcessGroup(pgid, { graceMs: 500 });
    expect(outcome).toEqual({ gone: true, escalated: true });
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(child.signalCode ?? (await once(child, 'exit'))[1]).toBe('SIGKILL');
  });
});
