/**
 * `npm run bench:cpu`: where a run's CPU goes when the machine is saturated. Wakes a no-op
 * `process` agent through the API of an in-process Vigil (its own PostgreSQL and Temporal dev
 * server), 20 in flight, and reads every process's CPU time from /proc before and after: CPU
 * milliseconds per run for this process (Vigil with the benchmark's client and poller), the
 * Temporal server, PostgreSQL (all backends), the agent supervisor (issue 13; with the agents it
 * reaped), which runs in a temp directory of its own (VIGIL_SUPERVISOR_DIR) and is ended after.
 *
 *   npm run bench:cpu -- --runs 300
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startBenchServers } from './servers.ts';
import { startBenchVigil, benchApi } from './benchVigil.ts';
import { createPrismaClient } from '../src/store/db.ts';
import { PID_FILE_NAME } from '../src/adapters/supervisor/runFiles.ts';
// This bench's own supervisor (read by agentHosting() when the Vigil starts): only its CPU is counted.
const supervisorDir = (process.env.VIGIL_SUPERVISOR_DIR = mkdtempSync(path.join(os.tmpdir(), 'vigil-cpu-supervisor-')));
/** The processes a run costs CPU in (other processes of the machine are left out). */
const SHOWN = new Set(['vigil+bench node', 'temporal', 'postgres', 'supervisor']);

/** CPU time (user + system, with reaped children) per kind of process, in clock ticks (10 ms). */
function cpuByName(): Map<string, number> {
  const m = new Map<string, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      const key = e === String(process.pid) ? 'vigil+bench node' : name === 'node' && cmd.includes('supervisor/daemon') && cmd.includes(supervisorDir) ? 'supervisor' : name.startsWith('postgres') ? 'postgres' : name;
      m.set(key, (m.get(key) ?? 0) + ticks);
    } catch {}
  }
  return m;
}
const servers = await startBenchServers('vigil-cpu', () => {});
const { vigil, adminToken } = await startBenchVigil(servers, { name: 'cpu' });
const call = benchApi(vigil, adminToken);
const poll = createPrismaClient(servers.databaseUrl, 2);
const company = await call('POST', '/api/companies', { name: 'Cpu', issuePrefix: 'CPU' });
const agents = await Promise.all([0, 1].map((i) => call('POST', `/api/companies/${company.id}/agents`, { name: 'noop' + i, adapterType: 'process', adapterConfig: { command: '/bin/sh', args: ['-c', 'echo \'{"type":"result","summary":"ok"}\''] }, runtimeConfig: { heartbeat: { maxConcurrentRuns: 10 } } })));
const waiting = new Map<string, () => void>();
let polling = true;
const poller = (async () => { while (polling) { if (waiting.size) { const rows = await poll.heartbeatRun.findMany({ where: { id: { in: [...waiting.keys()] }, status: { in: ['succeeded', 'failed', 'cancelled'] } }, select: { id: true } }); for (const r of rows) { waiting.get(r.id)?.(); waiting.delete(r.id); } } await new Promise((r) => setTimeout(r, 25)); } })();
let n = 0;
async function one() { const run = await call('POST', `/api/agents/${agents[n++ % 2].id}/wakeup`, { payload: { taskId: 't' + n } }); await new Promise<void>((r) => waiting.set(run.id, r)); }
for (let i = 0; i < 20; i++) await one();
const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 300;
const before = cpuByName();
const t0 = performance.now();
let next = 0;
await Promise.all(Array.from({ length: 20 }, async () => { while (next++ < RUNS) await one(); }));
const secs = (performance.now() - t0) / 1000; const after = cpuByName();
console.log(`runs/s ${(RUNS / secs).toFixed(1)}; CPU ms per run by process:`);
const rows = [...after].map(([k, v]) => [k, ((v - (before.get(k) ?? 0)) * 10) / RUNS] as const).filter(([k, v]) => SHOWN.has(k) && v > 0).sort((a, b) => b[1] - a[1]);
for (const [k, v] of rows) console.log(`  ${k}: ${v.toFixed(1)} ms`);
polling = false; await poller; await poll.$disconnect(); await vigil.stop(); await servers.stop();
// The supervisor goes idle once no Vigil is connected; SIGTERM by the pid it wrote ends it now.
try { process.kill(Number(readFileSync(path.join(supervisorDir, PID_FILE_NAME), 'utf8').trim()), 'SIGTERM'); } catch {}
rmSync(supervisorDir, { recursive: true, force: true });
