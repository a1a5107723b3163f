/**
 * The run's last line, `Tests: N passed, N failed, N skipped`, is what CI's log reader trusts: it
 * must never say "0 failed" about a run vitest fails. The reporter runs here on fixture suites
 * (test/fixtures/reporter/) that fail in every way a real run can, each in a vitest of its own.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const config = fileURLToPath(new URL('../fixtures/reporter/vitest.config.ts', import.meta.url));
const vitest = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));

async function runFixtures(pattern: string): Promise<{ exitCode: number | null; summary: string | undefined; output: string }> {
  const child = spawn(process.execPath, [vitest, 'run', '--config', config], {
    cwd: root,
    env: { ...process.env, REPORTER_FIXTURES: pattern, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (chunk) => (output += chunk));
  child.stderr!.on('data', (chunk) => (output += chunk));
  try {
    const [exitCode] = (await once(child, 'exit')) as [number | null];
    return { exitCode, summary: output.split('\n').filter((line) => line.startsWith('Tests: ')).at(-1), output };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

const OUTSIDE = (n: number) => ` (${n} outside any test: unhandled errors, failed imports or hooks, processes left running, an interrupted run)`;

describe('the summary line', () => {
  it.each([
    ['passing.fixture.ts', 0, 'Tests: 1 passed, 0 failed, 1 skipped'],
    ['failing.fixture.ts', 1, 'Tests: 1 passed, 3 failed, 0 skipped'], // an assertion, and two tests under a failed beforeAll
    ['mixed.fixture.ts', 1, 'Tests: 0 passed, 1 failed, 1 skipped'], // a skipped test beside a failed one stays skipped
    ['fileHookFails.fixture.ts', 1, 'Tests: 0 passed, 1 failed, 0 skipped'],
    ['afterAllFails.fixture.ts', 1, `Tests: 1 passed, 1 failed, 0 skipped${OUTSIDE(1)}`],
    ['unhandled.fixture.ts', 1, `Tests: 1 passed, 1 failed, 0 skipped${OUTSIDE(1)}`],
    ['importFails.fixture.ts', 1, `Tests: 0 passed, 1 failed, 0 skipped${OUTSIDE(1)}`],
  ])('for %s agrees with vitest (exit code %i): %s', async (fixture, exitCode, line) => {
    const run = await runFixtures(fixture);
    expect({ exitCode: run.exitCode, summary: run.summary }, run.output).toEqual({ exitCode, summary: line });
  });

  it('says "0 failed" only when vitest exits 0, over all the fixtures at once', async () => {
    const run = await runFixtures('*.fixture.ts');
    expect(run.exitCode, run.output).toBe(1);
    expect(run.summary).toBe(`Tests: 4 passed, 8 failed, 2 skipped${OUTSIDE(3)}`);
  });
});
