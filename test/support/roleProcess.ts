/**
 * Vigil processes started the way a user starts them (`node --import tsx src/main.ts`, what
 * `npm start` execs) with a VIGIL_ROLE, against one shared PostgreSQL and Temporal: for tests of
 * several API and worker processes side by side, and for `npm run bench` (no vitest import here).
 * Every process is a child of the caller, stopped by its pid; `stopAll` ends whatever is left,
 * even after a failure, and an exiting caller takes them along (killOnExit).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { recoverySweeperWorkflowId } from '../../src/domain/recoverySweeper.ts';
import { findFreePorts } from '../../src/platform/freePorts.ts';
import { killOnExit } from '../../src/platform/killOnExit.ts';
import { sleep } from '../../src/platform/processes.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface RoleProcess {
  readonly name: string;
  readonly role: 'all' | 'api' | 'worker';
  child: ChildProcess;
  /** The API (role api/all) or the worker's health/metrics port. */
  url: string;
  output(): string;
  exited(): boolean;
  /** SIGKILL, as a host crash would. */
  kill(): Promise<void>;
  /** SIGTERM (a deploy's stop), resolving with the exit code once the process is gone. */
  terminate(): Promise<number | null>;
}

export interface RoleProcessOptions {
  name: string;
  role: 'all' | 'api' | 'worker';
  /** DATABASE_URL, TEMPORAL_ADDRESS, VIGIL_TASK_QUEUE, VIGIL_ADMIN_TOKEN, ... shared by the group. */
  env: Record<string, string>;
  readyTimeoutMs?: number;
}

export class RoleProcesses {
  private readonly started: RoleProcess[] = [];
  private readonly dataDirs: string[] = [];

  async start(options: RoleProcessOptions): Promise<RoleProcess> {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), `vigil-${options.name}-`));
    this.dataDirs.push(dataDir);
    const [port, metricsPort] = await findFreePorts(2);
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: ROOT,
      env: {
        ...process.env,
        VIGIL_LOG_LEVEL: 'warn',
        ...options.env,
        VIGIL_ROLE: options.role,
        VIGIL_DATA_DIR: dataDir,
        HOST: '127.0.0.1',
        PORT: String(port),
        VIGIL_TEMPORAL_METRICS_PORT: String(metricsPort),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const untrack = killOnExit({ pid: child.pid! }, 'SIGKILL');
    child.once('exit', untrack);
    let output = '';
    child.stdout!.on('data', (chunk) => (output += chunk));
    child.stderr!.on('data', (chunk) => (output += chunk));
    const exited = () => child.exitCode !== null || child.signalCode !== null;
    const process_: RoleProcess = {
      name: options.name,
      role: options.role,
      child,
      url: `http://127.0.0.1:${port}`,
      output: () => output,
      exited,
      kill: async () => {
        if (exited()) return;
        const gone = once(child, 'exit');
        child.kill('SIGKILL');
        await gone;
      },
      terminate: async () => {
        if (!exited()) {
          const gone = once(child, 'exit');
          child.kill('SIGTERM');
          await gone;
        }
        return child.exitCode;
      },
    };
    this.started.push(process_);
    const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
    while (!output.includes('Ready.') && !exited() && Date.now() < deadline) await sleep(100);
    if (!output.includes('Ready.')) throw new Error(`${options.name} (${options.role}) did not start:\n${output}`);
    return process_;
  }

  /** SIGKILL by default (tests); SIGTERM lets each stop cleanly (benchmarks). */
  async stopAll(signal: 'SIGKILL' | 'SIGTERM' = 'SIGKILL'): Promise<void> {
    await Promise.all(this.started.map((each) => (signal === 'SIGKILL' ? each.kill() : each.terminate())));
    await Promise.all(this.dataDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  }
}

/**
 * Ends the recovery sweeper that processes of `VIGIL_INSTANCE_ID=instanceId` left on Temporal once
 * no worker of theirs polls its task queue (the test's Temporal outlives the test file).
 */
export async function endInstanceSweeper(temporalAddress: string, namespace: string, instanceId: string): Promise<void> {
  const connection = await Connection.connect({ address: temporalAddress });
  try {
    await new Client({ connection, namespace }).workflow.getHandle(recoverySweeperWorkflowId(`${instanceId}-`)).terminate('test over');
  } catch (error) {
    if (!(error instanceof WorkflowNotFoundError)) throw error;
  } finally {
    await connection.close();
  }
}
