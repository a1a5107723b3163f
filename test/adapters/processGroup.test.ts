import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { isPidAlive, isProcessGroupAlive, terminateProcessGroup } from '../../src/adapters/processGroup.ts';
import { eventually } from '../support/fixtures.ts';

/** Every group a test started: ended after it, whether it passed or failed. */
const startedGroups = new Set<number>();

afterEach(async () => {
  for (const pgid of startedGroups) {
    if (await isProcessGroupAlive(pgid)) await terminateProcessGroup(pgid, { graceMs: 200 });
  }
  startedGroups.clear();
});

/** Starts `script` as the leader of a new process group; `lines` holds its stdout lines as they come. */
async function startGroup(script: string): Promise<{ child: ChildProcess; pgid: number; firstLine: string; lines: string[] }> {
  const child = spawn('/bin/sh', ['-c', script], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  startedGroups.add(child.pid!);
  const lines: string[] = [];
  let firstLine: (line: string) => void;
  const first = new Promise<string>((resolve) => (firstLine = resolve));
  let buffered = '';
  child.stdout!.on('data', (data: Buffer) => {
    buffered += data.toString();
    const complete = buffered.split('\n');
    buffered = complete.pop()!;
    lines.push(...complete);
    if (lines.length > 0) firstLine(lines[0]);
  });
  return { child, pgid: child.pid!, firstLine: await first, lines };
}

describe('process groups', () => {
  it('a group that never existed is not alive', async () => {
    expect(await isProcessGroupAlive(2 ** 22 + 12345)).toBe(false);
    expect(await isPidAlive(2 ** 22 + 12345)).toBe(false);
  });

  it('treats zombies as dead: only running members keep a group alive', async () => {
    // The child of `exec sleep` is never reaped by it, so it stays a zombie while the leader lives.
    const { child, pgid, firstLine } = await startGroup('sleep 0.05 & echo $!; exec sleep 300');
    const zombie = Number(firstLine);
    await eventually(async () => !(await isPidAlive(zombie)), 10_000, 'the short sleep to exit and become a zombie');
    expect(() => process.kill(zombie, 0)).not.toThrow(); // still in the process table
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
    // The leader says when SIGTERM arrives and keeps going; its background sleep ignores it outright.
    const { child, pgid, lines } = await startGroup(
      "(trap '' TERM; exec sleep 300) & trap 'echo got TERM' TERM; echo started; while :; do sleep 1 & wait $!; done",
    );
    const outcome = await terminateProcessGroup(pgid, { graceMs: 500 });
    expect(outcome).toEqual({ gone: true, escalated: true });
    expect(lines).toContain('got TERM'); // SIGTERM first, survived, then SIGKILL
    expect(child.signalCode ?? (await once(child, 'exit'))[1]).toBe('SIGKILL');
  });
});
