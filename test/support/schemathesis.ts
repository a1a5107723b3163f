/**
 * schemathesis for the fuzzing test (test/api/schemaFuzzing.test.ts), in a virtualenv of its own.
 *
 * The virtualenv lives outside the checkout, under the cache directory (`~/.cache/vigil`), named
 * after the pinned requirements (test/fuzz/requirements.txt) so a change of pins makes a new one.
 * A fresh machine builds it on first use (PyPI, about ten seconds); every later run, in any clone,
 * reuses it. It is built in a staging folder and renamed into place once complete, so an
 * interrupted install or two test runs racing never leave a half-made one behind.
 */
import { createHash, randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCHEMATHESIS_REQUIREMENTS = fileURLToPath(new URL('../fuzz/requirements.txt', import.meta.url));
const COMPLETE_MARKER = '.vigil-complete';
const INSTALL_TIMEOUT_MS = 5 * 60_000;

export interface ProcessOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/**
 * Runs a command to its end, stdout and stderr together. The child is killed (by pid) when the
 * signal aborts or the timeout passes, so a test never leaves it behind.
 */
export function runToEnd(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs: number; signal?: AbortSignal },
): Promise<ProcessOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const kill = () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    };
    const timer = setTimeout(kill, options.timeoutMs);
    options.signal?.addEventListener('abort', kill, { once: true });
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', kill);
      resolve({ code, signal, output });
    });
  });
}

async function mustSucceed(what: string, command: string, args: string[]) {
  const outcome = await runToEnd(command, args, { timeoutMs: INSTALL_TIMEOUT_MS });
  if (outcome.code !== 0) throw new Error(`${what} failed (exit ${outcome.code ?? outcome.signal}):\n${outcome.output.slice(-4000)}`);
}

/** The virtualenv's python, with schemathesis installed; `python -m schemathesis.cli` runs it. */
export async function ensureSchemathesis(cacheDir: string, log: (line: string) => void = () => {}): Promise<string> {
  const requirements = await readFile(SCHEMATHESIS_REQUIREMENTS, 'utf8');
  const version = /^schemathesis==(\S+)$/m.exec(requirements)?.[1];
  if (!version) throw new Error(`${SCHEMATHESIS_REQUIREMENTS} pins no schemathesis version`);
  const digest = createHash('sha256').update(requirements).digest('hex').slice(0, 12);
  const venv = path.join(cacheDir, `schemathesis-${version}-${digest}`);
  // `python -m` finds the venv from the interpreter's own location, so the renamed venv works
  // (its bin/ scripts would not: their shebangs name the staging folder).
  const python = path.join(venv, 'bin', 'python');
  if (existsSync(path.join(venv, COMPLETE_MARKER))) return python;

  log(`installing schemathesis ${version} into ${venv} (once per machine)`);
  await mkdir(cacheDir, { recursive: true });
  const staging = `${venv}.staging-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await mustSucceed('python3 -m venv', 'python3', ['-m', 'venv', staging]);
    await mustSucceed('pip install', path.join(staging, 'bin', 'python'), [
      '-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '--quiet', '-r', SCHEMATHESIS_REQUIREMENTS,
    ]);
    await writeFile(path.join(staging, COMPLETE_MARKER), `${version}\n`);
    if (existsSync(path.join(venv, COMPLETE_MARKER))) return python; // another run finished first
    await rm(venv, { recursive: true, force: true }); // a leftover without its marker
    await rename(staging, venv);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return python;
}
