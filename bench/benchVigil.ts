/**
 * A Vigil on a benchmark's own servers (bench/servers.ts), in this process or as OS processes
 * started the way a user starts them (VIGIL_ROLE), and the admin's calls to its API.
 */
import { randomUUID } from 'node:crypto';
import { plainTemporalConnection } from '../src/temporal/temporalConnection.ts';
import { createLogger } from '../src/logger.ts';
import { generateAdminToken } from '../src/auth/tokens.ts';
import { startVigil } from '../src/vigil.ts';
import type { startBenchServers } from './servers.ts';
import { RoleProcesses } from '../test/support/roleProcess.ts';

type BenchServers = Awaited<ReturnType<typeof startBenchServers>>;

/** API + worker in one process, on a task queue of its own, quiet below warnings. */
export async function startBenchVigil(servers: BenchServers, options: { name: string; dataDir?: string; databaseUrl?: string }) {
  const adminToken = generateAdminToken();
  const vigil = await startVigil({
    databaseUrl: options.databaseUrl ?? servers.databaseUrl,
    temporal: plainTemporalConnection(servers.temporal.address, servers.temporal.namespace),
    temporalUiUrl: null,
    taskQueue: `${options.name}-${randomUUID()}`,
    dataDir: options.dataDir ?? servers.root,
    adminToken,
    runTokenSecret: null,
    adapterHeartbeatTimeoutMs: 10_000,
    dbPoolSize: servers.dbPoolSize,
    host: '127.0.0.1',
    port: 0,
    logger: createLogger('warn'),
  });
  return { vigil, adminToken };
}

/** `call(method, route, body)` as the admin: the answer's JSON, or a thrown error naming the status. */
export function benchApi(vigil: { apiUrl: string }, adminToken: string) {
  return async (method: string, route: string, body: unknown) => {
    const response = await fetch(`${vigil.apiUrl}${route}`, { method, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json: any = await response.json();
    if (response.status >= 300) throw new Error(`${method} ${route} → ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
}

/**
 * Vigil as OS processes on the bench's servers: `all` (API and worker in one process) or `split`
 * (an `api` process and a `worker` process), each `node --import tsx src/main.ts` with its role.
 */
export async function startVigilProcesses(servers: BenchServers, layout: 'all' | 'split') {
  const adminToken = generateAdminToken();
  const env = {
    DATABASE_URL: servers.databaseUrl,
    TEMPORAL_ADDRESS: servers.temporal.address,
    TEMPORAL_NAMESPACE: servers.temporal.namespace,
    VIGIL_TASK_QUEUE: `bench-${layout}-${randomUUID()}`,
    VIGIL_INSTANCE_ID: `bench-${layout}-${randomUUID().slice(0, 8)}`,
    VIGIL_ADMIN_TOKEN: adminToken,
    VIGIL_DB_POOL_SIZE: String(servers.dbPoolSize),
    // The one-year sweeper interval keeps the recovery sweeps out of the measurement.
    VIGIL_RECOVERY_INTERVAL_MS: String(365 * 24 * 3600 * 1000),
  };
  const processes = new RoleProcesses();
  const stop = () => processes.stopAll('SIGTERM');
  try {
    if (layout === 'all') return { apiUrl: (await processes.start({ name: 'bench-all', role: 'all', env })).url, adminToken, stop };
    const api = await processes.start({ name: 'bench-api', role: 'api', env });
    await processes.start({ name: 'bench-worker', role: 'worker', env: { ...env, VIGIL_API_URL: api.url, VIGIL_WORKER_ID: 'bench-worker' } });
    return { apiUrl: api.url, adminToken, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
