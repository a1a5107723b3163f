/**
 * What eager activity dispatch (`system.enableActivityEagerExecution`, temporal-dev.yml) saves a
 * run: the bare baseline workflow (bench/baseline.ts, one no-op activity) on a dev server with the
 * setting off and on, twice each, in one invocation: latency at 1 in flight, workflows/s at 20.
 *
 *   npx tsx bench/eagerActivityDispatch.ts
 */
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { loadConfig } from '../src/config.ts';
import { resolveTemporalCli } from '../src/temporal/temporalCli.ts';
import { loadTemporalDevConfig } from '../src/temporal/devServerConfig.ts';
import { startTemporalDevServer } from '../src/temporal/devServer.ts';
import { findFreePorts } from '../src/platform/freePorts.ts';
import { baselineWorkflow } from './baseline.ts';
Runtime.install({ logger: new DefaultLogger('WARN') });
const config = loadConfig();
const binary = await resolveTemporalCli({ explicitPath: config.temporalCliPath, cacheDir: config.cacheDir, log: () => {} });
for (const eager of [false, true, false, true]) {
  // Everything else as temporal-dev.yml says; only this one setting differs between the servers.
  const dev = loadTemporalDevConfig();
  dev.dynamicConfig['system.enableActivityEagerExecution'] = eager;
  const [p, u] = await findFreePorts(2);
  const temporal = await startTemporalDevServer({ binary, config: dev, dataDir: null, port: p, uiPort: u, headless: true, log: () => {} });
  const taskQueue = `e-${randomUUID()}`;
  const worker = await Worker.create({ connection: await NativeConnection.connect({ address: temporal.address }), namespace: temporal.namespace, taskQueue,
    workflowsPath: fileURLToPath(new URL('./baseline.ts', import.meta.url)), activities: { async noop(x: number) { return x; } } });
  const running = worker.run();
  const client = new Client({ connection: await Connection.connect({ address: temporal.address }), namespace: temporal.namespace });
  const exec = () => client.workflow.execute(baselineWorkflow, { taskQueue, workflowId: `b-${randomUUID()}`, args: [0] });
  for (let i = 0; i < 20; i++) await exec();
  const t: number[] = [];
  for (let i = 0; i < 150; i++) { const s = performance.now(); await exec(); t.push(performance.now() - s); }
  t.sort((a, b) => a - b);
  const s2 = performance.now(); await Promise.all(Array.from({ length: 20 }, async () => { for (let i = 0; i < 15; i++) await exec(); })); const tp = 300 / ((performance.now() - s2) / 1000);
  console.log(`eager=${eager} p50 ${t[75].toFixed(1)} ms p99 ${t[148].toFixed(1)} ms; 20 in flight ${tp.toFixed(1)} wf/s`);
  worker.shutdown(); await running; await temporal.stop();
}
