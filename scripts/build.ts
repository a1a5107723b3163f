/**
 * `npm run build`: the production tree that `npm run start:prod` runs with plain `node`.
 *
 * - TypeScript emit of src/ only (generated Prisma client included; not tests, bench or scripts)
 *   through tsconfig.build.json: `.ts` import specifiers become `.js`, Node's own ESM resolution
 *   is type-checked (module nodenext), and any type error fails the build before anything is written.
 * - The workflow bundle, built once here as in Temporal's production sample, written to
 *   `<out>/workflow-bundle.js`: the compiled worker loads it and never runs webpack at start.
 *
 * Out dir: `dist/` by default; the first argument or VIGIL_BUILD_OUT_DIR names another (tests
 * build into a temporary folder). The compiled tree must sit directly in a folder that holds, or
 * links, package.json, node_modules, prisma/ and temporal-dev.yml (src/platform/appFiles.ts).
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';
import { PREBUILT_WORKFLOW_BUNDLE_NAME, WORKFLOWS_ENTRY } from '../src/temporal/worker.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const say = (line: string) => process.stdout.write(`[build] ${line}\n`);

function outDirFrom(argv: string[], env: NodeJS.ProcessEnv): string {
  const outDir = path.resolve(ROOT, argv[0] || env.VIGIL_BUILD_OUT_DIR || 'dist');
  // The out dir is emptied first: never the checkout itself, a folder above it, or the sources.
  const relative = path.relative(outDir, ROOT);
  const isAboveOrSame = relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
  const insideSources = ['src', 'test', 'bench', 'scripts', 'prisma', 'node_modules'].some((dir) => {
    const fromDir = path.relative(path.join(ROOT, dir), outDir);
    return fromDir === '' || (!fromDir.startsWith('..') && !path.isAbsolute(fromDir));
  });
  if (isAboveOrSame || insideSources) throw new Error(`refusing to build into ${outDir}: it would overwrite the checkout`);
  return outDir;
}

function compile(outDir: string): Promise<void> {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const child = spawn(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', outDir], { cwd: ROOT, stdio: 'inherit' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`tsc failed (${code ?? signal})`))));
  });
}

async function main(): Promise<void> {
  const outDir = outDirFrom(process.argv.slice(2), process.env);
  const started = Date.now();
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  say(`compiling src/ and bundling the workflows into ${outDir}`);
  // Both at once (tsc in its own process): the bundle is built from src/, not from tsc's output.
  const quiet = { trace() {}, debug() {}, info() {}, warn: say, error: say, log() {} };
  const [, bundle] = await Promise.all([compile(outDir), bundleWorkflowCode({ workflowsPath: WORKFLOWS_ENTRY, logger: quiet as never })]);
  const bundlePath = path.join(outDir, PREBUILT_WORKFLOW_BUNDLE_NAME);
  await writeFile(bundlePath, bundle.code);
  say(`built in ${Date.now() - started} ms: ${outDir}/main.js and ${PREBUILT_WORKFLOW_BUNDLE_NAME} (${Math.round(bundle.code.length / 1024)} KiB)`);
}

main().catch((error: unknown) => {
  process.stderr.write(`[build] failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
