/**
 * VIGIL_ROLE and what goes with it, as src/config.ts reads them: the roles, a worker's identity and
 * the API its agents call, the shutdown grace, the instance id; bad values are refused by name.
 */
import { describe, expect, it } from 'vitest';
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.ts';

const base = { VIGIL_DATA_DIR: '/srv/vigil' };
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('process roles in the configuration', () => {
  it('is the whole of Vigil by default, on port 3100, with a worker id of host name and data directory', () => {
    const config = loadConfig(base, '/');
    expect(config).toMatchObject({ role: 'all', port: 3100, workerId: `${os.hostname()}:/srv/vigil`, shutdownGraceMs: 30_000, agentApiUrl: null, instanceId: 'vigil' });
  });

  it('runs a worker on port 3101 with the API its agents call back, and its own id and grace', () => {
    const config = loadConfig({ ...base, VIGIL_ROLE: 'worker', VIGIL_API_URL: 'http://api.internal:3100/', VIGIL_WORKER_ID: 'w-1', VIGIL_SHUTDOWN_GRACE_SEC: '90' }, '/');
    expect(config).toMatchObject({ role: 'worker', port: 3101, agentApiUrl: 'http://api.internal:3100', workerId: 'w-1', shutdownGraceMs: 90_000 });
  });

  it('refuses a worker without an API for its agents, an unknown role, a bad URL and a bad instance id', () => {
    expect(() => loadConfig({ ...base, VIGIL_ROLE: 'worker' }, '/')).toThrow(/VIGIL_API_URL/);
    expect(() => loadConfig({ ...base, VIGIL_ROLE: 'scheduler' }, '/')).toThrow('VIGIL_ROLE must be one of all, api, worker, got "scheduler"');
    expect(() => loadConfig({ ...base, VIGIL_API_URL: 'api.internal:3100' }, '/')).toThrow(/VIGIL_API_URL must be an http\(s\) URL/);
    expect(() => loadConfig({ ...base, VIGIL_INSTANCE_ID: 'two words' }, '/')).toThrow(/VIGIL_INSTANCE_ID/);
    expect(() => loadConfig({ ...base, VIGIL_SHUTDOWN_GRACE_SEC: '-1' }, '/')).toThrow(/VIGIL_SHUTDOWN_GRACE_SEC/);
  });

  it('will not start an api or worker process without a shared database and Temporal', () => {
    const { DATABASE_URL: _db, TEMPORAL_ADDRESS: _temporal, ...env } = process.env;
    const started = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: ROOT, env: { ...env, VIGIL_ROLE: 'api' }, encoding: 'utf8', timeout: 60_000 });
    expect(started.status).toBe(1);
    expect(started.stderr).toContain('VIGIL_ROLE=api runs against a shared PostgreSQL and Temporal: set DATABASE_URL and TEMPORAL_ADDRESS');
  });
});
