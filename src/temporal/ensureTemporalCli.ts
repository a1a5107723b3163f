/**
 * `npm pretest` (and a manual first-run step): makes sure this machine has the Temporal CLI that
 * the dev server needs, building it once into the shared cache if necessary, and prints its path.
 * Progress goes to stderr so that stdout carries only the path.
 *
 *   tsx src/temporal/ensureTemporalCli.ts
 */
import { loadConfig } from '../config.ts';
import { resolveTemporalCli } from './temporalCli.ts';

const log = (line: string) => process.stderr.write(`[vigil] ${line}\n`);

try {
  const config = loadConfig();
  const binary = await resolveTemporalCli({
    explicitPath: config.temporalCliPath,
    cacheDir: config.cacheDir,
    log,
  });
  process.stdout.write(`${binary}\n`);
} catch (error) {
  log((error as Error).message);
  process.exitCode = 1;
}
