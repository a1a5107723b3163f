/** A Vigil on a benchmark's own servers (bench/servers.ts), and the admin's calls to its API. */
import { randomUUID } from 'node:crypto';
import { createLogger } from '../src/logger.ts';
import { generateAdminToken } from '../src/auth/tokens.ts';
import { startVigil, type RunningVigil } from '../src/vigil.ts';
import type { startBenchServers } from './servers.ts';

type BenchServers = Awaited<ReturnType<typeof startBenchServers>>;

/** API + worker in one process, on a task queue of its own, quiet below warnings. */
export async function startBenchVigil(servers: BenchServers, options: { name: string; dataDir?: string }) {
  const adminToken = generateAdminToken();
  const vigil = await startVigil({
    databaseUrl: servers.databaseUrl,
    temporalAddress: servers.temporal.address,
    temporalNamespace: servers.temporal.namespace,
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
export function benchApi(vigil: RunningVigil, adminToken: string) {
  return async (method: string, route: string, body: unknown) => {
    const response = await fetch(`${vigil.apiUrl}${route}`, { method, headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const json: any = await response.json();
    if (response.status >= 300) throw new Error(`${method} ${route} → ${response.status} ${JSON.stringify(json)}`);
    return json;
  };
}
