/**
 * Every log line about a run names it three ways: `runId`, `workflowId` (`run-<runId>`, what
 * Temporal UI searches by) and `companyId`. `withRunContext` adds whichever of the last two a line
 * with a `runId` lacks; the Temporal SDK's own lines get their `runId` from the workflow id first
 * (`temporal/runtime.ts`).
 *
 * A run's company never changes, so it is remembered process-wide (the Temporal Runtime and its
 * logger are process-wide too). A line whose run is not known yet is written once the company has
 * been read from the database — a few milliseconds later, with `companyId: null` if the run does
 * not exist or no database is registered.
 */
import type { Logger, LogLevel } from './logger.ts';
import { runWorkflowId } from './domain/runWorkflowId.ts';

type CompanyLookup = (runId: string) => Promise<string | null>;

/** Runs remembered at most; the oldest are forgotten first (they are simply read again). */
const MAX_REMEMBERED = 10_000;

class RunCompanies {
  private readonly companies = new Map<string, string>();
  private readonly lookups = new Set<CompanyLookup>();
  /** Lines waiting for their run's company, until written. */
  private readonly waitingLines = new Set<Promise<void>>();

  remember(runId: string, companyId: string): void {
    if (this.companies.has(runId)) return;
    if (this.companies.size >= MAX_REMEMBERED) this.companies.delete(this.companies.keys().next().value!);
    this.companies.set(runId, companyId);
  }

  known(runId: string): string | null {
    return this.companies.get(runId) ?? null;
  }

  /** A Vigil registers how to read a run's company; the returned function unregisters it. */
  useLookup(lookup: CompanyLookup): () => void {
    this.lookups.add(lookup);
    return () => this.lookups.delete(lookup);
  }

  /** Writes `line` once the run's company is known (or known to be unknown). */
  writeWhenResolved(runId: string, line: (companyId: string | null) => void): void {
    const waiting = this.resolve(runId).then(line);
    this.waitingLines.add(waiting);
    void waiting.finally(() => this.waitingLines.delete(waiting));
  }

  /** Resolves once no line is waiting for a company lookup (a process about to exit, a test reading its lines). */
  async linesWritten(): Promise<void> {
    while (this.waitingLines.size > 0) await Promise.allSettled([...this.waitingLines]);
  }

  /** Never rejects: null when no registered lookup knows the run. */
  async resolve(runId: string): Promise<string | null> {
    const known = this.known(runId);
    if (known) return known;
    for (const lookup of this.lookups) {
      const companyId = await lookup(runId).catch(() => null);
      if (companyId) {
        this.remember(runId, companyId);
        return companyId;
      }
    }
    return null;
  }
}

export const runCompanies = new RunCompanies();

/** `logger`, adding `workflowId` and `companyId` to every line that carries a `runId`. */
export function withRunContext(logger: Logger, bound: Record<string, unknown> = {}): Logger {
  const emitter = (level: LogLevel) => (message: string, fields?: Record<string, unknown>) => {
    const all = { ...bound, ...fields };
    const runId = typeof all.runId === 'string' ? all.runId : null;
    if (!runId) return logger[level](message, fields);
    if (logger.enabled && !logger.enabled(level)) return;
    const extra: Record<string, unknown> = all.workflowId === undefined ? { workflowId: runWorkflowId(runId) } : {};
    if (typeof all.companyId === 'string') {
      runCompanies.remember(runId, all.companyId);
      return logger[level](message, { ...fields, ...extra });
    }
    const known = runCompanies.known(runId);
    if (known) return logger[level](message, { ...fields, ...extra, companyId: known });
    runCompanies.writeWhenResolved(runId, (companyId) => logger[level](message, { ...fields, ...extra, companyId }));
  };
  return {
    debug: emitter('debug'),
    info: emitter('info'),
    warn: emitter('warn'),
    error: emitter('error'),
    child: (fields) => withRunContext(logger.child(fields), { ...bound, ...fields }),
    ...(logger.enabled ? { enabled: logger.enabled } : {}),
  };
}

/** The fields that name a run on a log line; the company is remembered for the SDK's lines. */
export function runLogFields(run: { id: string; companyId: string }): { runId: string; workflowId: string; companyId: string } {
  runCompanies.remember(run.id, run.companyId);
  return { runId: run.id, workflowId: runWorkflowId(run.id), companyId: run.companyId };
}
