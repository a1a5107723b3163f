/**
 * Finds (or builds, once per machine) the `temporal` CLI binary that runs Vigil's dev server.
 *
 * Order: TEMPORAL_CLI_PATH → a `temporal` on PATH → `<cacheDir>/bin/temporal` → `go install` of
 * the pinned CLI module into `<cacheDir>/bin`. No Temporal server comes from npm, and later CLI
 * tags refuse `go install` (their go.mod has `replace` lines), hence the pin.
 */
import { execFile, spawn } from 'node:child_process';
import { constants as fsConstants, createWriteStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { killOnExit } from '../platform/killOnExit.ts';
import { currentProcessIdentity, isSameProcess, sleep, tailLines } from '../platform/processes.ts';

export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_MODULE = `github.com/temporalio/cli/cmd/temporal@${TEMPORAL_CLI_VERSION}`;
/** The CLI v1.5.1 module needs Go 1.22 or newer to build. */
const MIN_GO = [1, 22] as const;

export interface ResolveTemporalCliOptions {
  /** TEMPORAL_CLI_PATH: used as is, and an error if it is not an executable `temporal`. */
  explicitPath: string | null;
  /** Machine-wide cache (e.g. ~/.cache/vigil): the built binary goes to `<cacheDir>/bin/temporal`. */
  cacheDir: string;
  log: (line: string) => void;
  /**
   * Environment for the PATH lookup and for `go` (GOPROXY, GOSUMDB, GOFLAGS, ... are kept).
   * Defaults to this process's environment; tests pass their own.
   */
  env?: NodeJS.ProcessEnv;
  /** How often a running build prints that it is still going (default 30 s). */
  heartbeatMs?: number;
  /**
   * A stop request (`npm start`'s Ctrl-C): a build in progress is killed, its whole process group,
   * nothing reaches the cache, and the call throws the signal's reason.
   */
  signal?: AbortSignal;
}

/** SIGTERM-to-SIGKILL grace of an interrupted build's process group. */
const BUILD_KILL_GRACE_MS = 3_000;

export async function resolveTemporalCli(opts: ResolveTemporalCliOptions): Promise<string> {
  const env = opts.env ?? process.env;
  const { log, cacheDir } = opts;

  if (opts.explicitPath) {
    const explicit = path.resolve(opts.explicitPath);
    if (!(await isExecutableFile(explicit))) {
      throw new Error(`TEMPORAL_CLI_PATH=${opts.explicitPath} is not an executable file. Point it at a temporal CLI binary, or unset it.`);
    }
    await verifyBinary(explicit, 'TEMPORAL_CLI_PATH');
    return explicit;
  }

  const onPath = await findOnPath('temporal', env);
  if (onPath) {
    await verifyBinary(onPath, 'the temporal on PATH');
    return onPath;
  }

  const cached = cachedBinaryPath(cacheDir);
  if (await isExecutableFile(cached)) {
    await verifyBinary(cached, 'the cached temporal CLI');
    return cached;
  }

  const go = await findOnPath('go', env);
  if (!go) throw new Error(noCliMessage(cacheDir, 'Go is not installed'));
  const goVersion = await readGoVersion(go, env);
  if (!goVersion || !atLeast(goVersion, MIN_GO)) {
    throw new Error(noCliMessage(cacheDir, `the Go on PATH (${go}) is ${goVersion ? `go${goVersion.join('.')}` : 'of unknown version'}`));
  }
  await buildWithGo({ go, env, cacheDir, log, heartbeatMs: opts.heartbeatMs ?? 30_000, signal: opts.signal });
  await verifyBinary(cached, 'the freshly built temporal CLI');
  return cached;
}

export function cachedBinaryPath(cacheDir: string): string {
  return path.join(cacheDir, 'bin', 'temporal');
}

function noCliMessage(cacheDir: string, why: string): string {
  return (
    `No Temporal CLI found, and Vigil cannot build one: ${why}. Vigil's dev server needs the \`temporal\` CLI (${TEMPORAL_CLI_VERSION}). Do one of:\n` +
    `  - install Go ≥ ${MIN_GO.join('.')} (https://go.dev/dl/); Vigil then builds the CLI once into ${path.join(cacheDir, 'bin')} with\n` +
    `    \`go install ${TEMPORAL_CLI_MODULE}\`;\n` +
    `  - put a temporal CLI binary on PATH (https://docs.temporal.io/cli);\n` +
    `  - set TEMPORAL_CLI_PATH=/path/to/temporal;\n` +
    `  - or point Vigil at a running Temporal with TEMPORAL_ADDRESS=host:port.`
  );
}

async function isExecutableFile(file: string): Promise<boolean> {
  try {
    const stat = await fs.stat(file);
    if (!stat.isFile()) return false;
    await fs.access(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function findOnPath(name: string, env: NodeJS.ProcessEnv): Promise<string | null> {
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.resolve(dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return null;
}

function run(
  file: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<{ code: number | null; stdout: string; stderr: string; error?: Error }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: opts.env, timeout: opts.timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, stdout, stderr, error: error ?? undefined });
    });
  });
}

/** Runs `<binary> --version`: a file that is not a working temporal CLI fails here, not at start-dev. */
async function verifyBinary(binary: string, what: string): Promise<string> {
  const result = await run(binary, ['--version'], { timeoutMs: 30_000 });
  const version = result.stdout.trim();
  if (result.code !== 0 || !/^temporal version/i.test(version)) {
    const detail = (result.stderr || result.stdout || result.error?.message || '').trim();
    throw new Error(`${what} (${binary}) does not work: \`temporal --version\` ${result.code === 0 ? `printed "${version}"` : `failed${detail ? `: ${detail}` : ''}`}.`);
  }
  return version;
}

async function readGoVersion(go: string, env: NodeJS.ProcessEnv): Promise<number[] | null> {
  const result = await run(go, ['env', 'GOVERSION'], { env: { ...env, GOTOOLCHAIN: 'local' }, timeoutMs: 30_000 });
  const match = /go(\d+)\.(\d+)/.exec(result.stdout);
  return result.code === 0 && match ? [Number(match[1]), Number(match[2])] : null;
}

function atLeast(version: number[], minimum: readonly number[]): boolean {
  for (let i = 0; i < minimum.length; i++) {
    if ((version[i] ?? 0) !== minimum[i]) return (version[i] ?? 0) > minimum[i];
  }
  return true;
}

function formatElapsed(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
}

// ---------------------------------------------------------------------------------------------
// Building with Go, once per machine

interface BuildOptions {
  go: string;
  env: NodeJS.ProcessEnv;
  cacheDir: string;
  log: (line: string) => void;
  heartbeatMs: number;
  signal?: AbortSignal;
}

interface LockRecord {
  pid: number;
  startTime: string | null;
  since: string;
}

/**
 * Two processes (two test files, a test run and `npm start`) may both find no binary. The first
 * takes `<cacheDir>/temporal-build.lock` (created exclusively) and builds; the others wait for the
 * lock to go away and then use its result. A lock whose holder died is taken over.
 */
async function buildWithGo(opts: BuildOptions): Promise<void> {
  const { cacheDir, log } = opts;
  const binDir = path.join(cacheDir, 'bin');
  await fs.mkdir(binDir, { recursive: true });
  const lockFile = path.join(cacheDir, 'temporal-build.lock');
  const waitStarted = Date.now();
  let lastNotice = 0;

  for (;;) {
    opts.signal?.throwIfAborted();
    if (await takeLock(lockFile)) break;
    const holder = await readLock(lockFile);
    if (holder && !(await isSameProcess(holder.pid, holder.startTime)) && holder.pid !== process.pid) {
      // The builder died (killed, machine rebooted): its lock means nothing now.
      log(`Removing a stale Temporal CLI build lock (pid ${holder.pid} is gone)`);
      await removeStaleLock(lockFile, holder);
      continue;
    }
    if (await isExecutableFile(cachedBinaryPath(cacheDir))) return; // built while we waited
    const now = Date.now();
    if (lastNotice === 0) {
      lastNotice = now;
      log(`Another process (pid ${holder?.pid ?? '?'}) is building the Temporal CLI ${TEMPORAL_CLI_VERSION}; waiting for it…`);
    } else if (now - lastNotice >= opts.heartbeatMs) {
      lastNotice = now;
      log(`…still waiting for pid ${holder?.pid ?? '?'} to finish building the Temporal CLI (${formatElapsed(now - waitStarted)})`);
    }
    await sleep(Math.min(1000, opts.heartbeatMs));
  }

  try {
    // Someone may have finished between our check and taking the lock.
    if (await isExecutableFile(cachedBinaryPath(cacheDir))) return;
    await removeAbandonedStagingDirs(binDir);
    await runGoInstall(opts);
  } finally {
    await fs.rm(lockFile, { force: true });
  }
}

async function takeLock(lockFile: string): Promise<boolean> {
  const me = await currentProcessIdentity();
  const record: LockRecord = { pid: me.pid, startTime: me.startTime, since: new Date().toISOString() };
  try {
    await fs.writeFile(lockFile, JSON.stringify(record) + '\n', { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

async function readLock(lockFile: string): Promise<LockRecord | null> {
  try {
    return JSON.parse(await fs.readFile(lockFile, 'utf8')) as LockRecord;
  } catch {
    return null; // vanished, or half-written: the next round looks again
  }
}

async function removeStaleLock(lockFile: string, holder: LockRecord): Promise<void> {
  // Rename first so that, of two waiters seeing the same stale lock, only one removes it, and a
  // lock freshly taken by a third process in between is put back untouched.
  const aside = `${lockFile}.stale-${process.pid}-${Date.now()}`;
  try {
    await fs.rename(lockFile, aside);
  } catch {
    return;
  }
  const moved = await readLock(aside);
  if (moved && (moved.pid !== holder.pid || moved.since !== holder.since)) {
    await fs.link(aside, lockFile).catch(() => undefined);
  }
  await fs.rm(aside, { force: true });
}

/**
 * Staging directories of builds that never finished: their builder was killed (`kill -9`) before
 * its cleanup ran. Only the lock holder builds, so under the lock every one of them is abandoned.
 */
async function removeAbandonedStagingDirs(binDir: string): Promise<void> {
  for (const name of await fs.readdir(binDir).catch(() => [] as string[])) {
    if (name.startsWith('.build-')) await fs.rm(path.join(binDir, name), { recursive: true, force: true });
  }
}

/**
 * `go install` into a private GOBIN inside `<cacheDir>/bin`, then one rename: a concurrent reader
 * sees either no binary or the complete one, never a half-written file. `go` runs in a process
 * group of its own so that an interrupted build is killed with every compiler and linker it
 * started; a terminal's Ctrl-C reaches Vigil, which kills that group.
 */
async function runGoInstall(opts: BuildOptions): Promise<void> {
  const { go, cacheDir, log } = opts;
  const binDir = path.join(cacheDir, 'bin');
  const stagingDir = path.join(binDir, `.build-${process.pid}-${Date.now()}`);
  const logFile = path.join(cacheDir, 'temporal-build.log');
  await fs.mkdir(stagingDir, { recursive: true });
  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} from its Go module (first run only, takes a few minutes)…`);
  log(`  go install ${TEMPORAL_CLI_MODULE}  (log: ${logFile})`);

  const started = Date.now();
  const output = createWriteStream(logFile, { flags: 'w' });
  let lastLine = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null; error?: Error };
  try {
    exit = await new Promise((resolve) => {
      const child = spawn(go, ['install', '-v', TEMPORAL_CLI_MODULE], {
        // The machine's GOPROXY/GOSUMDB/GOFLAGS stay; never fetch another toolchain; pure-Go SQLite.
        env: { ...opts.env, GOBIN: stagingDir, CGO_ENABLED: '0', GOTOOLCHAIN: 'local' },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      const group = child.pid;
      const untrack = group === undefined ? () => undefined : killOnExit({ processGroup: group }, 'SIGKILL');
      let killTimer: NodeJS.Timeout | undefined;
      const interrupt = () => {
        if (group === undefined) return;
        signalGroup(group, 'SIGTERM');
        killTimer = setTimeout(() => signalGroup(group, 'SIGKILL'), BUILD_KILL_GRACE_MS);
      };
      opts.signal?.addEventListener('abort', interrupt, { once: true });
      if (opts.signal?.aborted) interrupt();
      const settled = () => {
        clearInterval(heartbeat);
        clearTimeout(killTimer);
        opts.signal?.removeEventListener('abort', interrupt);
        // The group outlives its leader when a compiler ignored SIGTERM: make sure it is gone.
        if (group !== undefined && opts.signal?.aborted) signalGroup(group, 'SIGKILL');
        untrack();
      };
      const collect = (chunk: Buffer) => {
        output.write(chunk);
        const lines = chunk.toString('utf8').trim().split('\n');
        if (lines.length > 0 && lines[lines.length - 1]) lastLine = lines[lines.length - 1];
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      const heartbeat = setInterval(() => {
        log(`…still building the Temporal CLI (${formatElapsed(Date.now() - started)}${lastLine ? `; last: ${lastLine.slice(0, 100)}` : ''})`);
      }, opts.heartbeatMs);
      child.once('error', (error) => {
        settled();
        resolve({ code: null, signal: null, error });
      });
      child.once('close', (code, signal) => {
        settled();
        resolve({ code, signal });
      });
    });
  } finally {
    await new Promise<void>((resolve) => output.end(resolve));
  }

  const built = path.join(stagingDir, 'temporal');
  try {
    if (opts.signal?.aborted) {
      log(`Stopped building the Temporal CLI after ${formatElapsed(Date.now() - started)}; the next start builds it again`);
      opts.signal.throwIfAborted();
    }
    if (exit.code !== 0 || !(await isExecutableFile(built))) {
      const tail = tailLines(await fs.readFile(logFile, 'utf8').catch(() => ''), 25);
      const how = exit.error ? exit.error.message : exit.code !== null ? `exit code ${exit.code}` : `signal ${exit.signal}`;
      throw new Error(
        `Building the Temporal CLI failed (${how}) after ${formatElapsed(Date.now() - started)}. ` +
          `Last lines of ${logFile}:\n${tail || '(no output)'}\n` +
          `Fix the Go setup (go env GOPROXY GOSUMDB GOFLAGS), or install a temporal CLI binary and set TEMPORAL_CLI_PATH.`,
      );
    }
    await fs.rename(built, cachedBinaryPath(cacheDir));
    log(`Built the Temporal CLI in ${formatElapsed(Date.now() - started)}: ${cachedBinaryPath(cacheDir)}`);
  } finally {
    await fs.rm(stagingDir, { recursive: true, force: true });
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // the group is gone
  }
}
