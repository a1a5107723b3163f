/**
 * Once per `npm test`: one embedded PostgreSQL (migrated), one in-memory Temporal dev server and
 * one workflow bundle, shared by every test file. Each file isolates itself with its own company
 * rows and its own Temporal task queue.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { bundleWorkflowCode } from '@temporalio/worker';
import { loadConfig } from '../../src/config.ts';
import { startEmbeddedPostgres } from '../../src/store/embeddedPostgres.ts';
import { applyMigrations } from '../../src/store/migrate.ts';
import { resolveTemporalCli } from '../../src/temporal/temporalCli.ts';
import { loadTemporalDevConfig } from '../../src/temporal/devServerConfig.ts';
import { startTemporalDevServer } from '../../src/temporal/devServer.ts';
import { findFreePorts } from '../../src/platform/freePorts.ts';
import { WORKFLOWS_ENTRY } from '../../src/temporal/worker.ts';
import { leftoverProcesses, markSuiteProcesses, type MarkedProcess } from './leftoverProcesses.ts';
import { reportedSummary, summaryLine } from './summaryReporter.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    temporalAddress: string;
    temporalNamespace: string;
    workflowBundlePath: string;
    /** The temporal CLI binary, for tests that check what an operator's CLI query finds. */
    temporalCliPath: string;
  }
}

let quiet = false;
/** Setup progress is printed; teardown is quiet so the run's summary stays the last line. */
const log = (line: string) => {
  if (!quiet) process.stdout.write(`[test setup] ${line}\n`);
};

/**
 * A process the run left behind fails it: vitest ignores errors thrown from a global teardown, so
 * the exit code is set here, the leftovers (which carry this run's mark, so they are ours) are
 * ended by pid, and the summary line is printed again with the failure counted.
 */
function failForLeftovers(left: MarkedProcess[]): void {
  process.stdout.write(`\nThe test run left ${left.length} process(es) of its own running (now ended):\n${left.map((p) => `  pid ${p.pid}: ${p.command}`).join('\n')}\n`);
  for (const { pid } of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  process.exitCode = 1;
  const summary = reportedSummary() ?? { passed: 0, failed: 0, skipped: 0, outsideTests: 0 };
  process.stdout.write(`${summaryLine({ ...summary, failed: summary.failed + 1, outsideTests: summary.outsideTests + 1 })}\n`);
}

export default async function setup(project: TestProject) {
  const mark = markSuiteProcesses();
  const root = await mkdtemp(path.join(os.tmpdir(), 'vigil-test-'));
  // Issue 13: the run's own agent supervisor (inherited by every fork and Vigil process it starts),
  // never the machine's; it exits by itself once no worker is connected and no agent runs.
  process.env.VIGIL_SUPERVISOR_DIR = path.join(root, 'supervisor');
  const config = loadConfig();
  const started = Date.now();
  const [pgPort, temporalPort, temporalUiPort] = await findFreePorts(3);
  const [pg, temporal, bundle] = await Promise.all([
    startEmbeddedPostgres({ dataDir: root, port: pgPort, log, ownProcessGroup: false }),
    resolveTemporalCli({ explicitPath: config.temporalCliPath, cacheDir: config.cacheDir, log }).then(async (binary) => {
      const [port, uiPort] = [temporalPort, temporalUiPort];
      const server = await startTemporalDevServer({ binary, config: loadTemporalDevConfig(), dataDir: null, port, uiPort, headless: true, log });
      return { ...server, binary };
    }),
    bundleWorkflowCode({ workflowsPath: WORKFLOWS_ENTRY, logger: { trace() {}, debug() {}, info() {}, warn: log, error: log, log() {} } as never }),
  ]);
  await applyMigrations(pg.databaseUrl);
  const workflowBundlePath = path.join(root, 'workflow-bundle.js');
  await writeFile(workflowBundlePath, bundle.code);
  log(`PostgreSQL, Temporal and the workflow bundle ready in ${Date.now() - started} ms`);

  project.provide('databaseUrl', pg.databaseUrl);
  project.provide('temporalAddress', temporal.address);
  project.provide('temporalNamespace', temporal.namespace);
  project.provide('workflowBundlePath', workflowBundlePath);
  project.provide('temporalCliPath', temporal.binary);

  return async () => {
    quiet = true;
    await temporal.stop();
    await pg.stop();
    await rm(root, { recursive: true, force: true });
    const left = await leftoverProcesses(mark);
    if (left.length > 0) failForLeftovers(left);
  };
}
