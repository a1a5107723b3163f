/** Runs a test fixture script in its own Node process (through tsx), like a second Vigil. */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface FixtureProcess<T> {
  child: ChildProcessWithoutNullStreams;
  /** The first JSON line the fixture printed. */
  ready: Promise<T>;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
}

export function runFixture<T>(script: string, args: string[], env: NodeJS.ProcessEnv = process.env): FixtureProcess<T> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'test/platform/fixtures', script), ...args], {
    cwd: repoRoot,
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const ready = new Promise<T>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      const newline = stdout.indexOf('\n');
      if (newline >= 0) resolve(JSON.parse(stdout.slice(0, newline)) as T);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.once('exit', (code, signal) =>
      reject(new Error(`fixture ${script} exited (${code ?? signal}) before it was ready:\n${stderr}`)),
    );
  });
  return { child, ready, exited };
}

/** SIGKILL, as if the machine's OOM killer or `kill -9` hit the owning Vigil. */
export async function killWithSigkill(fixture: FixtureProcess<unknown>): Promise<void> {
  fixture.child.kill('SIGKILL');
  await fixture.exited;
}
