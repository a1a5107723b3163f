/**
 * A Vigil (API + worker) in a process of its own, so a test can SIGKILL it mid-run.
 * Usage: tsx test/support/workerProcess.ts <json options>; prints `READY <apiUrl>` when serving.
 */
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startVigil, type StartVigilOptions } from '../../src/vigil.ts';
import { createLogger } from '../../src/logger.ts';

Runtime.install({ logger: new DefaultLogger('ERROR') });
const options = JSON.parse(process.argv[2]) as Omit<StartVigilOptions, 'logger'>;
const vigil = await startVigil({ ...options, logger: createLogger('warn') });
process.stdout.write(`READY ${vigil.apiUrl}\n`);
