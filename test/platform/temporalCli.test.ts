import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cachedBinaryPath, resolveTemporalCli, TEMPORAL_CLI_MODULE } from '../../src/temporal/temporalCli.ts';
import { eventually } from '../support/fixtures.ts';
import { runFixture } from './childProcess.ts';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function givenTempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'vigil-cli-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function givenScript(file: string, body: string): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, `#!/bin/sh\nPATH=/usr/bin:/bin\n${body}\n`);
  await chmod(file, 0o755);
  return file;
}

/** A stand-in for the Temporal CLI that prints a version line naming itself. */
function givenFakeTemporal(file: string, label: string): Promise<string> {
  return givenScript(file, `echo "temporal version 0.0.0-fake (${label})"`);
}

/**
 * A stand-in for Go: `go env GOVERSION` prints `version`; `go install` records its arguments and
 * environment in <calls>, talks on stderr like Go, takes `seconds`, then writes a fake temporal
 * into $GOBIN (or fails with `failWith`).
 */
async function givenFakeGo(
  dir: string,
  opts: { version?: string; seconds?: number; failWith?: string } = {},
): Promise<{ calls: string }> {
  const calls = path.join(dir, 'go-calls.log');
  await givenScript(
    path.join(dir, 'go'),
    `case "$1" in
  env) echo "${opts.version ?? 'go1.23.4'}" ;;
  install)
    echo "install $* GOBIN=$GOBIN CGO_ENABLED=$CGO_ENABLED GOTOOLCHAIN=$GOTOOLCHAIN GOPROXY=$GOPROXY" >> "${calls}"
    echo "go: downloading go.temporal.io/server v1.29.1" >&2
    sleep ${opts.seconds ?? 1}
    ${
      opts.failWith
        ? `echo "${opts.failWith}" >&2; exit 1`
        : `echo "github.com/temporalio/cli/cmd/temporal" >&2
    printf '#!/bin/sh\\necho "temporal version 0.0.0-DEV (built by fake go)"\\n' > "$GOBIN/temporal"
    chmod 755 "$GOBIN/temporal"`
    }
    ;;
esac`,
  );
  return { calls };
}

/**
 * A Go whose `go install` never ends: it writes half a binary into $GOBIN, then waits on a
 * "compiler" that ignores SIGTERM, the way a real build's compile and link steps outlive `go`.
 * Both pids go to files in `dir`.
 */
async function givenHangingGo(dir: string): Promise<{ goPid: string; compilerPid: string }> {
  const goPid = path.join(dir, 'go.pid');
  const compilerPid = path.join(dir, 'compiler.pid');
  await givenScript(
    path.join(dir, 'go'),
    `case "$1" in
  env) echo "go1.23.4" ;;
  install)
    echo $$ > "${goPid}"
    printf '#!/bin/sh\necho "temporal version 1.5' > "$GOBIN/temporal"
    chmod 755 "$GOBIN/temporal"
    sh -c 'trap "" TERM; echo $$ > "${compilerPid}"; exec sleep 120' &
    wait
    ;;
esac`,
  );
  return { goPid, compilerPid };
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat[stat.lastIndexOf(')') + 2] !== 'Z';
}

function resolveWith(opts: { explicitPath?: string | null; cacheDir: string; path: string; env?: NodeJS.ProcessEnv; lines?: string[]; signal?: AbortSignal }) {
  return resolveTemporalCli({
    explicitPath: opts.explicitPath ?? null,
    cacheDir: opts.cacheDir,
    log: (line) => opts.lines?.push(line),
    env: { PATH: opts.path, ...opts.env },
    heartbeatMs: 300,
    signal: opts.signal,
  });
}

describe('resolveTemporalCli', () => {
  it('uses TEMPORAL_CLI_PATH first, before PATH and the cache', async () => {
    const dir = await givenTempDir();
    const explicit = await givenFakeTemporal(path.join(dir, 'explicit', 'temporal'), 'explicit');
    await givenFakeTemporal(path.join(dir, 'on-path', 'temporal'), 'path');
    await givenFakeTemporal(cachedBinaryPath(path.join(dir, 'cache')), 'cache');

    expect(await resolveWith({ explicitPath: explicit, cacheDir: path.join(dir, 'cache'), path: path.join(dir, 'on-path') })).toBe(explicit);
  });

  it('rejects a TEMPORAL_CLI_PATH that is missing, not executable, or not a working temporal', async () => {
    const dir = await givenTempDir();
    const notExecutable = path.join(dir, 'plain-file');
    await writeFile(notExecutable, 'not a program');
    const broken = await givenScript(path.join(dir, 'broken'), 'echo "segfault" >&2; exit 2');
    const cacheDir = path.join(dir, 'cache');

    await expect(resolveWith({ explicitPath: path.join(dir, 'missing'), cacheDir, path: dir })).rejects.toThrow(/TEMPORAL_CLI_PATH=.*missing is not an executable file/);
    await expect(resolveWith({ explicitPath: notExecutable, cacheDir, path: dir })).rejects.toThrow(/is not an executable file/);
    await expect(resolveWith({ explicitPath: broken, cacheDir, path: dir })).rejects.toThrow(/TEMPORAL_CLI_PATH \(.*broken\) does not work: `temporal --version` failed: segfault/);
  });

  it('then a temporal on PATH, before the cache', async () => {
    const dir = await givenTempDir();
    const onPath = await givenFakeTemporal(path.join(dir, 'on-path', 'temporal'), 'path');
    await givenFakeTemporal(cachedBinaryPath(path.join(dir, 'cache')), 'cache');

    const searchPath = [path.join(dir, 'empty'), path.join(dir, 'on-path')].join(path.delimiter);
    expect(await resolveWith({ cacheDir: path.join(dir, 'cache'), path: searchPath })).toBe(onPath);
  });

  it('then the binary cached in <cacheDir>/bin, without running go', async () => {
    const dir = await givenTempDir();
    const cached = await givenFakeTemporal(cachedBinaryPath(path.join(dir, 'cache')), 'cache');
    const { calls } = await givenFakeGo(path.join(dir, 'tools'));

    expect(await resolveWith({ cacheDir: path.join(dir, 'cache'), path: path.join(dir, 'tools') })).toBe(cached);
    await expect(readFile(calls, 'utf8')).rejects.toThrow(); // go never ran
  });

  it('builds it with go into the cache once, for two processes asking at the same time, with progress lines', async () => {
    const dir = await givenTempDir();
    const cacheDir = path.join(dir, 'cache');
    const tools = path.join(dir, 'tools');
    const { calls } = await givenFakeGo(tools, { seconds: 2 });
    const env = { GOPROXY: 'https://registry.example/go', GOFLAGS: '-mod=mod' };

    const other = runFixture<{ binary: string; lines: string[] }>('resolveTemporalCliChild.ts', [cacheDir], {
      ...process.env,
      PATH: tools,
      ...env,
    });
    const lines: string[] = [];
    const [mine, theirs] = await Promise.all([
      resolveWith({ cacheDir, path: tools, env, lines }),
      other.ready,
    ]);

    expect(mine).toBe(cachedBinaryPath(cacheDir));
    expect(theirs.binary).toBe(cachedBinaryPath(cacheDir));
    const installs = (await readFile(calls, 'utf8')).trim().split('\n');
    expect(installs).toHaveLength(1);
    expect(installs[0]).toContain(`install install -v ${TEMPORAL_CLI_MODULE}`);
    expect(installs[0]).toMatch(new RegExp(`GOBIN=${cacheDir}/bin/\\.build-\\d+-\\d+ `)); // staged, then renamed
    expect(installs[0]).toContain('CGO_ENABLED=0 GOTOOLCHAIN=local GOPROXY=https://registry.example/go');

    const builderLines = lines.some((line) => line.startsWith('Building')) ? lines : theirs.lines;
    const waiterLines = builderLines === lines ? theirs.lines : lines;
    expect(builderLines[0]).toBe('Building the Temporal CLI v1.5.1 from its Go module (first run only, takes a few minutes)…');
    expect(builderLines.some((line) => line.startsWith('…still building the Temporal CLI'))).toBe(true);
    expect(builderLines.at(-1)).toMatch(/^Built the Temporal CLI in \d+ s/);
    expect(waiterLines[0]).toMatch(/^Another process \(pid \d+\) is building the Temporal CLI v1\.5\.1; waiting for it…$/);
    expect(await readFile(path.join(cacheDir, 'temporal-build.log'), 'utf8')).toContain('go: downloading go.temporal.io/server');
    const left = spawnSync('ls', ['-A', path.join(cacheDir, 'bin')], { encoding: 'utf8' }).stdout.trim();
    expect(left).toBe('temporal'); // no staging directory, no lock left behind
  });

  it('a stop request kills the build with every process it started, and nothing reaches the cache', async () => {
    const dir = await givenTempDir();
    const cacheDir = path.join(dir, 'cache');
    const hanging = path.join(dir, 'hanging');
    const { goPid, compilerPid } = await givenHangingGo(hanging);
    const stop = new AbortController();
    const lines: string[] = [];

    const resolving = resolveWith({ cacheDir, path: hanging, lines, signal: stop.signal });
    const [go, compiler] = await eventually(async () => {
      const pids = await Promise.all([goPid, compilerPid].map((file) => readFile(file, 'utf8').then(Number, () => 0)));
      return pids.every((pid) => pid > 0) && pids;
    }, 20_000, 'the build to be under way');
    cleanups.push(async () => [go, compiler].forEach((pid) => isRunning(pid) && process.kill(pid, 'SIGKILL')));
    stop.abort(new Error('SIGINT: stop requested'));

    await expect(resolving).rejects.toThrow('SIGINT: stop requested');
    expect(isRunning(go)).toBe(false);
    expect(isRunning(compiler)).toBe(false); // it ignored SIGTERM: the group got SIGKILL
    expect(lines.at(-1)).toMatch(/^Stopped building the Temporal CLI after \d+ s; the next start builds it again$/);
    const ls = () => spawnSync('ls', ['-A', path.join(cacheDir, 'bin')], { encoding: 'utf8' }).stdout.trim();
    expect(ls()).toBe(''); // neither the half-written binary nor its staging directory
    expect(spawnSync('ls', ['-A', cacheDir], { encoding: 'utf8' }).stdout).not.toContain('temporal-build.lock');

    // The next start builds it, and sweeps a staging directory a killed (kill -9) builder left.
    await mkdir(path.join(cacheDir, 'bin', '.build-4242-1'), { recursive: true });
    const tools = path.join(dir, 'tools');
    await givenFakeGo(tools, { seconds: 0 });
    expect(await resolveWith({ cacheDir, path: tools })).toBe(cachedBinaryPath(cacheDir));
    expect(ls()).toBe('temporal');
  });

  it('takes over a build lock whose holder died', async () => {
    const dir = await givenTempDir();
    const cacheDir = path.join(dir, 'cache');
    const tools = path.join(dir, 'tools');
    const { calls } = await givenFakeGo(tools, { seconds: 0 });
    await mkdir(cacheDir, { recursive: true });
    const deadPid = spawnSync('true').pid!;
    await writeFile(path.join(cacheDir, 'temporal-build.lock'), JSON.stringify({ pid: deadPid, startTime: 'ticks:1', since: 'then' }));

    const lines: string[] = [];
    expect(await resolveWith({ cacheDir, path: tools, lines })).toBe(cachedBinaryPath(cacheDir));
    expect(lines[0]).toBe(`Removing a stale Temporal CLI build lock (pid ${deadPid} is gone)`);
    expect((await readFile(calls, 'utf8')).trim().split('\n')).toHaveLength(1);
  });

  it("fails with the tail of go's output when the build fails", async () => {
    const dir = await givenTempDir();
    const tools = path.join(dir, 'tools');
    await givenFakeGo(tools, { seconds: 0, failWith: 'go: github.com/temporalio/cli@v1.5.1: module lookup disabled by GOPROXY=off' });

    await expect(resolveWith({ cacheDir: path.join(dir, 'cache'), path: tools })).rejects.toThrow(
      /Building the Temporal CLI failed \(exit code 1\)[\s\S]*go: downloading go\.temporal\.io\/server v1\.29\.1\ngo: github\.com\/temporalio\/cli@v1\.5\.1: module lookup disabled by GOPROXY=off[\s\S]*TEMPORAL_CLI_PATH/,
    );
  });

  it('says exactly what to install when there is no binary and no Go', async () => {
    const dir = await givenTempDir();
    const error = await resolveWith({ cacheDir: path.join(dir, 'cache'), path: path.join(dir, 'empty') }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/No Temporal CLI found, and Vigil cannot build one: Go is not installed/);
    expect((error as Error).message).toContain('install Go ≥ 1.22');
    expect((error as Error).message).toContain('put a temporal CLI binary on PATH');
    expect((error as Error).message).toContain('set TEMPORAL_CLI_PATH=/path/to/temporal');
  });

  it('refuses a Go older than 1.22', async () => {
    const dir = await givenTempDir();
    const tools = path.join(dir, 'tools');
    const { calls } = await givenFakeGo(tools, { version: 'go1.21.13' });
    await expect(resolveWith({ cacheDir: path.join(dir, 'cache'), path: tools })).rejects.toThrow(/the Go on PATH \(.*\) is go1\.21/);
    await expect(readFile(calls, 'utf8')).rejects.toThrow();
  });
});
