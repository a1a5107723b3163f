/**
 * `npm run bench:recovery`: how fast Vigil notices lost work and how its sweeps scale.
 *
 * 1. An agent process killed from outside (SIGKILL): time until its run is `process_lost`.
 * 2. A worker SIGKILLed mid-run: time until another worker on the host has reattached to the run's
 *    agent, which outlives its worker (issue 13; bounded by the adapter activity's heartbeat timeout).
 * 3. One stranded-work sweep over N stranded issues (half `todo` whose last run failed → one
 *    re-dispatch each; half `in_progress` whose continuation was already used → escalated with a
 *    recovery issue each), for N = 1,000 and 10,000; and over 100,000 healthy issues.
 * 4. The orphan reaper over 1,000 `running` rows whose recorded pid is dead (each queues its one
 *    process-loss retry).
 * The sweeps and the reaper run their real code, including starting the workflows of the runs
 * they queue (on a task queue no worker polls, so the agents don't then execute).
 *
 *   npm run bench:recovery -- --sizes 1000,10000 --healthy 100000 --reaped 1000 --kills 20
 */
import { agentHosting, workerAgents } from '../src/adapters/supervisor/agentHosting.ts';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startBenchServers } from './servers.ts';
import { randomUUID } from 'node:crypto';
import { createLogger } from '../src/logger.ts';
import { generateAdminToken } from '../src/auth/tokens.ts';
import { plainTemporalConnection } from '../src/temporal/temporalConnection.ts';
import { startVigil, type RunningVigil, type StartVigilOptions } from '../src/vigil.ts';
import { createRunExecutions } from '../src/temporal/runExecutions.ts';
import { reconcileStrandedAssignedIssues } from '../src/activities/strandedSweep.ts';
import { reapOrphanedRuns } from '../src/activities/reaper.ts';
import type { ActivityDeps } from '../src/activities/deps.ts';
import type { PrismaClient } from '../src/store/db.ts';
import { RunLogStore } from '../src/store/runLogStore.ts';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

const SIZES = arg('sizes', '1000,10000').split(',').map(Number);
const HEALTHY = Number(arg('healthy', '100000'));
const REAPED = Number(arg('reaped', '1000'));
const KILLS = Number(arg('kills', '20'));
const WORKER_KILLS = Number(arg('worker-kills', '3'));
const HEARTBEAT_TIMEOUT_MS = 5_000;
const AGENT_SCRIPT = fileURLToPath(new URL('../test/fixtures/agents/sleep.sh', import.meta.url));
const WORKER_PROCESS = fileURLToPath(new URL('../test/support/workerProcess.ts', import.meta.url));

const log = (line: string) => process.stdout.write(`[bench] ${line}\n`);
const results: string[] = [];
const record = (line: string) => {
  results.push(line);
  log(line);
};

function stats(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
  return `p50 ${at(50).toFixed(0)} ms, p99 ${at(99).toFixed(0)} ms, max ${sorted[sorted.length - 1].toFixed(0)} ms (n=${values.length})`;
}

async function until<T>(check: () => Promise<T | null | undefined | false>, timeoutMs: number, pollMs = 5): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

/** Activity dependencies whose follow-up workflows land on a task queue nobody polls. */
function sweepDeps(vigil: RunningVigil): ActivityDeps {
  const logger = createLogger('warn');
  return {
    prisma: vigil.prisma,
    logStore: new RunLogStore(vigil.prisma),
    runTokenSecret: 'bench',
    apiUrl: vigil.apiUrl,
    workerId: 'bench',
    telemetry: { agentFirstHeartbeat: () => undefined },
    logger,
    executions: createRunExecutions(vigil.temporal, vigil.prisma, { taskQueue: `bench-idle-${randomUUID()}`, adapterHeartbeatTimeoutMs: 10_000 }),
    metrics: vigil.metrics,
    agents: workerAgents('unused', agentHosting()),
  };
}

async function api(vigil: RunningVigil, token: string, method: string, route: string, body?: unknown) {
  const response = await fetch(`${vigil.apiUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return response.json() as Promise<Record<string, any>>;
}

async function newCompany(vigil: RunningVigil, adminToken: string) {
  const prefix = `B${randomUUID().slice(0, 6).toUpperCase()}`;
  return api(vigil, adminToken, 'POST', '/api/companies', { name: `Bench ${prefix}`, issuePrefix: prefix });
}

/** 1. kill -9 of the agent process → the run is `process_lost` (the adapter sees the signal). */
async function benchAgentKill(vigil: RunningVigil, adminToken: string) {
  const company = await newCompany(vigil, adminToken);
  const agent = await api(vigil, adminToken, 'POST', `/api/companies/${company.id}/agents`, {
    name: 'killed', role: 'engineer', adapterType: 'process', adapterConfig: { command: AGENT_SCRIPT, env: { SLEEP_SEC: '60' }, graceSec: 1 },
  });
  const detect: number[] = [];
  for (let i = 0; i < KILLS; i++) {
    const run = await api(vigil, adminToken, 'POST', `/api/agents/${agent.id}/wakeup`, { payload: { taskId: `kill-${i}` } });
    const pid = await until(async () => (await vigil.prisma.heartbeatRun.findUnique({ where: { id: run.id } }))?.processPid, 20_000);
    const killedAt = Date.now();
    process.kill(pid, 'SIGKILL');
    await until(async () => (await vigil.prisma.heartbeatRun.findUnique({ where: { id: run.id } }))?.errorCode === 'process_lost', 10_000, 2);
    detect.push(Date.now() - killedAt);
    // Its one process-loss retry starts the agent again: cancel it before the next round.
    const retry = await until(() => vigil.prisma.heartbeatRun.findFirst({ where: { retryOfRunId: run.id } }), 10_000);
    await api(vigil, adminToken, 'POST', `/api/heartbeat-runs/${retry.id}/cancel`, {});
  }
  record(`agent killed from outside → run process_lost (observed in the database): ${stats(detect)}`);
}

/** 2. A worker SIGKILLed mid-run → another worker on the host reattaches to its agent after the heartbeat timeout. */
async function benchWorkerKill(base: Omit<StartVigilOptions, 'logger' | 'taskQueue' | 'dataDir' | 'adminToken' | 'port'>, root: string) {
  const detect: number[] = [];
  for (let i = 0; i < WORKER_KILLS; i++) {
    const taskQueue = `bench-doomed-${randomUUID()}`;
    const adminToken = generateAdminToken();
    const options = { ...base, taskQueue, adminToken, dataDir: await mkdtemp(path.join(root, 'doomed-')), port: 0, adapterHeartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS };
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER_PROCESS, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    const apiUrl = await until(async () => /READY (\S+)/.exec(output)?.[1], 60_000, 50);
    const doomed = { apiUrl } as RunningVigil;
    const company = await newCompany(doomed, adminToken);
    const agent = await api(doomed, adminToken, 'POST', `/api/companies/${company.id}/agents`, {
      name: 'doomed', role: 'engineer', adapterType: 'process', adapterConfig: { command: AGENT_SCRIPT, env: { SLEEP_SEC: '60' } },
    });
    const run = await api(doomed, adminToken, 'POST', `/api/agents/${agent.id}/wakeup`, {});
    const replacement = await startVigil({ ...options, logger: createLogger('error') });
    await until(async () => (await replacement.prisma.heartbeatRun.findUnique({ where: { id: run.id } }))?.processPid, 20_000);
    child.kill('SIGKILL');
    await once(child, 'exit');
    const killedAt = Date.now();
    // Issue 13: the agent outlives its worker; the replacement on the same host reattaches to it.
    const reattached = await until(
      () => replacement.prisma.heartbeatRunEvent.findFirst({ where: { runId: run.id, eventType: 'adapter.reattach' } }),
      60_000,
      10,
    );
    detect.push(reattached.createdAt.getTime() - killedAt);
    await api(replacement, adminToken, 'POST', `/api/heartbeat-runs/${run.id}/cancel`, {});
    await replacement.stop();
  }
  record(`worker SIGKILLed mid-run → a worker on the same host reattaches to its agent (heartbeat timeout ${HEARTBEAT_TIMEOUT_MS} ms): ${stats(detect)}`);
}

/**
 * Seeds `count` stranded issues in one company (10 agents): even ones `todo` whose last run failed
 * (→ re-dispatch), odd ones `in_progress` whose continuation already failed (→ escalation).
 */
async function seedStranded(prisma: PrismaClient, count: number) {
  const companyId = randomUUID();
  const prefix = `S${randomUUID().slice(0, 6).toUpperCase()}`;
  await prisma.$executeRaw`INSERT INTO companies (id, name, issue_prefix) VALUES (${companyId}::uuid, ${`Stranded ${prefix}`}, ${prefix})`;
  await prisma.$executeRaw`
    INSERT INTO agents (id, company_id, name, role, status, adapter_type, adapter_config)
    SELECT gen_random_uuid(), ${companyId}::uuid, 'agent-' || g, 'engineer', 'idle', 'process', jsonb_build_object('command', ${AGENT_SCRIPT}::text)
    FROM generate_series(1, 10) g`;
  await prisma.$executeRaw`
    WITH a AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM agents WHERE company_id = ${companyId}::uuid),
    i AS (
      INSERT INTO issues (id, company_id, title, status, priority, assignee_agent_id, issue_number, identifier, created_at)
      SELECT gen_random_uuid(), ${companyId}::uuid, 'Stranded ' || g, CASE WHEN g % 2 = 0 THEN 'todo' ELSE 'in_progress' END::issue_status, 'medium',
             (SELECT id FROM a WHERE n = g % 10), g, ${prefix} || '-' || g, now() - interval '1 hour' + g * interval '1 millisecond'
      FROM generate_series(1, ${count}::int) g
      RETURNING id, status, assignee_agent_id)
    INSERT INTO heartbeat_runs (company_id, agent_id, status, invocation_source, trigger_detail, error, error_code, context_snapshot, started_at, finished_at, created_at)
    SELECT ${companyId}::uuid, i.assignee_agent_id, 'failed', 'automation', 'system', 'run failed before issue advanced', 'process_lost',
           jsonb_build_object('issueId', i.id::text, 'taskId', i.id::text,
                              'retryReason', CASE WHEN i.status = 'in_progress' THEN 'issue_continuation_needed' END),
           now() - interval '30 minutes', now() - interval '25 minutes', now() - interval '30 minutes'
    FROM i`;
  await prisma.$executeRaw`UPDATE companies SET issue_counter = ${count}::int WHERE id = ${companyId}::uuid`;
  return companyId;
}

/** 100,000 healthy issues across 20 companies: 95 % done, 5 % in progress with a running run. */
async function seedHealthy(prisma: PrismaClient, count: number) {
  const companies = 20;
  await prisma.$executeRaw`
    INSERT INTO companies (id, name, issue_prefix)
    SELECT gen_random_uuid(), 'Healthy ' || g, 'H' || upper(substr(md5(random()::text), 1, 6)) FROM generate_series(1, ${companies}::int) g`;
  await prisma.$executeRaw`
    INSERT INTO agents (id, company_id, name, role, status, adapter_type, adapter_config)
    SELECT gen_random_uuid(), c.id, 'worker', 'engineer', 'running', 'process', '{}'::jsonb FROM companies c WHERE c.name LIKE 'Healthy %'`;
  await prisma.$executeRaw`
    WITH a AS (SELECT a.id, a.company_id, c.issue_prefix, row_number() OVER (ORDER BY a.id) - 1 AS n
               FROM agents a JOIN companies c ON c.id = a.company_id WHERE c.name LIKE 'Healthy %'),
    i AS (
      INSERT INTO issues (id, company_id, title, status, priority, assignee_agent_id, issue_number, identifier)
      SELECT gen_random_uuid(), a.company_id, 'Healthy ' || g, CASE WHEN g % 20 = 0 THEN 'in_progress' ELSE 'done' END::issue_status, 'medium',
             a.id, g, a.issue_prefix || '-' || g
      FROM generate_series(1, ${count}::int) g JOIN a ON a.n = g % ${companies}::int
      RETURNING id, company_id, status, assignee_agent_id)
    INSERT INTO heartbeat_runs (company_id, agent_id, status, invocation_source, trigger_detail, context_snapshot, started_at)
    SELECT i.company_id, i.assignee_agent_id, 'running', 'assignment', 'system', jsonb_build_object('issueId', i.id::text), now()
    FROM i WHERE i.status = 'in_progress'`;
}

async function benchHealthySweep(vigil: RunningVigil) {
  const deps = sweepDeps(vigil);
  await seedHealthy(vigil.prisma, HEALTHY);
  await vigil.prisma.$executeRaw`ANALYZE`;
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    const started = performance.now();
    const outcome = await reconcileStrandedAssignedIssues(deps, {});
    times.push(performance.now() - started);
    if (outcome.result.issueIds.length > 0) throw new Error(`the healthy sweep acted on ${outcome.result.issueIds.length} issues`);
  }
  record(`stranded sweep over ${HEALTHY} healthy issues (whole instance, nothing stranded): ${stats(times.slice(1))} (first, cold: ${times[0].toFixed(0)} ms)`);
}

async function benchSweeps(vigil: RunningVigil) {
  const deps = sweepDeps(vigil);
  for (const size of SIZES) {
    const companyId = await seedStranded(vigil.prisma, size);
    await vigil.prisma.$executeRaw`ANALYZE`;
    const started = performance.now();
    const outcome = await reconcileStrandedAssignedIssues(deps, { companyId });
    const sweepMs = performance.now() - started;
    const startedRuns = performance.now();
    await deps.executions.start(outcome.followUpRunIds);
    const startMs = performance.now() - startedRuns;
    const r = outcome.result;
    record(
      `stranded sweep over ${size} issues: ${(sweepMs + startMs).toFixed(0)} ms ` +
        `(database work ${sweepMs.toFixed(0)} ms + starting ${outcome.followUpRunIds.length} run workflows ${startMs.toFixed(0)} ms); ` +
        `dispatchRequeued ${r.dispatchRequeued}, escalated ${r.escalated}, skipped ${r.skipped}`,
    );
  }
}

/** 4. 1,000 `running` rows whose recorded pid is dead, each with its issue and lease. */
async function benchReaper(vigil: RunningVigil) {
  const prisma = vigil.prisma;
  const companyId = randomUUID();
  const prefix = `R${randomUUID().slice(0, 6).toUpperCase()}`;
  await prisma.$executeRaw`INSERT INTO companies (id, name, issue_prefix) VALUES (${companyId}::uuid, ${`Reaped ${prefix}`}, ${prefix})`;
  await prisma.$executeRaw`
    INSERT INTO agents (id, company_id, name, role, status, adapter_type, adapter_config)
    SELECT gen_random_uuid(), ${companyId}::uuid, 'agent-' || g, 'engineer', 'running', 'process', jsonb_build_object('command', ${AGENT_SCRIPT}::text)
    FROM generate_series(1, 100) g`;
  await prisma.$executeRaw`
    WITH a AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM agents WHERE company_id = ${companyId}::uuid),
    r AS (SELECT gen_random_uuid() AS run_id, gen_random_uuid() AS issue_id, g FROM generate_series(1, ${REAPED}::int) g),
    runs AS (
      INSERT INTO heartbeat_runs (id, company_id, agent_id, status, invocation_source, trigger_detail, context_snapshot, process_pid, process_group_id, started_at)
      SELECT r.run_id, ${companyId}::uuid, (SELECT id FROM a WHERE n = r.g % 100), 'running', 'assignment', 'system',
             jsonb_build_object('issueId', r.issue_id::text, 'taskId', r.issue_id::text, 'wakeReason', 'issue_assigned'), 999999999, 999999999, now()
      FROM r RETURNING id, agent_id, context_snapshot)
    INSERT INTO issues (id, company_id, title, status, priority, assignee_agent_id, checkout_run_id, execution_run_id, issue_number, identifier)
    SELECT (runs.context_snapshot->>'issueId')::uuid, ${companyId}::uuid, 'Lost ' || row_number() OVER (), 'in_progress', 'medium', runs.agent_id, runs.id, runs.id,
           row_number() OVER (), ${prefix} || '-' || row_number() OVER ()
    FROM runs`;
  await prisma.$executeRaw`ANALYZE`;
  const deps = sweepDeps(vigil);
  // The part of the reap that asks Temporal whether each run's workflow is alive (R16).
  const ids = (await prisma.heartbeatRun.findMany({ where: { companyId, status: 'running' }, select: { id: true } })).map((r) => r.id);
  const describeStarted = performance.now();
  await deps.executions.held(ids);
  const describeMs = performance.now() - describeStarted;
  const started = performance.now();
  const result = await reapOrphanedRuns(deps, {});
  const reapMs = performance.now() - started;
  const startedRuns = performance.now();
  await deps.executions.start(result.followUpRunIds);
  const startMs = performance.now() - startedRuns;
  record(
    `orphan reaper over ${REAPED} dead-pid runs: ${(reapMs + startMs).toFixed(0)} ms (reaping ${reapMs.toFixed(0)} ms, of which ~${describeMs.toFixed(0)} ms ` +
      `ask Temporal about each run's workflow; starting ${new Set(result.followUpRunIds).size} retry workflows ${startMs.toFixed(0)} ms); reaped ${result.reaped}`,
  );
}

async function main() {
  const servers = await startBenchServers('vigil-bench-recovery', log);
  const { temporal, root } = servers;
  const adminToken = generateAdminToken();
  const base = {
    databaseUrl: servers.databaseUrl,
    temporal: plainTemporalConnection(temporal.address, temporal.namespace),
    temporalUiUrl: null,
    runTokenSecret: null,
    adapterHeartbeatTimeoutMs: 10_000,
    host: '127.0.0.1',
  };
  const vigil = await startVigil({ ...base, taskQueue: `bench-${randomUUID()}`, dataDir: root, adminToken, port: 0, logger: createLogger('error') });
  try {
    log(`${os.cpus().length} cores`);
    if (KILLS > 0) await benchAgentKill(vigil, adminToken);
    if (WORKER_KILLS > 0) await benchWorkerKill(base, root);
    // The reaper is instance-wide: it goes before the sweeps seed rows it would also see.
    if (REAPED > 0) await benchReaper(vigil);
    await benchHealthySweep(vigil);
    await benchSweeps(vigil);
    console.log(`\n${results.join('\n')}`);
  } finally {
    await vigil.stop();
    await servers.stop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
