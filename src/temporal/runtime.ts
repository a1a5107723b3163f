/**
 * The Temporal Core runtime of this process: installed once, before any NativeConnection or
 * Worker (`Runtime.install` cannot be repeated), by `npm start` (src/main.ts) and the test harness.
 *
 * - Logs: the SDK's own lines (worker, activity and workflow lifecycle, and Core's native lines,
 *   forwarded) go through Vigil's JSON logger, so they are redacted like every other line and a
 *   line about a run carries its `runId`, `workflowId` and `companyId` (src/runLogContext.ts).
 * - Metrics: Core serves its `temporal_*` worker metrics on a local Prometheus endpoint, which
 *   Vigil's `GET /metrics` appends (src/metrics/temporalScrape.ts).
 * - Signals: none. The SDK's default takes SIGINT/SIGTERM/SIGQUIT/SIGUSR2 to shut the workers
 *   down by itself, racing Vigil's own stop (src/processLifecycle.ts) — and during start-up it
 *   swallowed the signal while the servers kept starting. Vigil shuts its worker down itself.
 */
import { Runtime } from '@temporalio/worker';
import type { Logger as SdkLogger, LogLevel as SdkLogLevel, LogMetadata } from '@temporalio/common';
import type { Logger, LogLevel } from '../logger.ts';
import { withRunContext } from '../runLogContext.ts';
import { runIdOfWorkflowId } from '../domain/runWorkflowId.ts';

const LEVELS: Record<SdkLogLevel, LogLevel> = { TRACE: 'debug', DEBUG: 'debug', INFO: 'info', WARN: 'warn', ERROR: 'error' };

/**
 * The SDK's metadata as Vigil's fields. The SDK's `runId` is the Temporal *workflow run* id: it
 * becomes `workflowRunId`, and `runId` is Vigil's run, read from the `run-<runId>` workflow id.
 * The activity task token says nothing to a reader and is dropped.
 */
export function fieldsOfSdkMetadata(meta: LogMetadata | undefined): Record<string, unknown> {
  const { runId: temporalRunId, taskToken: _taskToken, ...rest } = (meta ?? {}) as Record<string, unknown>;
  const fields: Record<string, unknown> = { ...rest };
  if (temporalRunId !== undefined && fields.workflowRunId === undefined) fields.workflowRunId = temporalRunId;
  const runId = runIdOfWorkflowId(fields.workflowId);
  if (runId) fields.runId = runId;
  return fields;
}

/**
 * SDK warnings that say what Vigil means to do, logged at debug: each process's worker on its
 * host's task queue runs activities only (issue 13, temporal/worker.ts).
 */
const EXPECTED_SDK_WARNINGS = new Set(['No workflows registered, not polling for workflow tasks']);

/** Vigil's logger behind the SDK's `Logger` interface. */
export function sdkLoggerFor(logger: Logger): SdkLogger {
  const target = withRunContext(logger);
  const log = (level: SdkLogLevel, message: string, meta?: LogMetadata) => {
    const vigilLevel = level === 'WARN' && EXPECTED_SDK_WARNINGS.has(message) ? 'debug' : (LEVELS[level] ?? 'info');
    target[vigilLevel](message, fieldsOfSdkMetadata(meta));
  };
  return {
    log,
    trace: (message, meta) => log('TRACE', message, meta),
    debug: (message, meta) => log('DEBUG', message, meta),
    info: (message, meta) => log('INFO', message, meta),
    warn: (message, meta) => log('WARN', message, meta),
    error: (message, meta) => log('ERROR', message, meta),
  };
}

export interface TemporalRuntimeOptions {
  logger: Logger;
  /** `host:port` for Core's Prometheus endpoint (bind it to 127.0.0.1); null = no worker metrics. */
  metricsBindAddress: string | null;
}

/** Installs the runtime; returns the URL of Core's metrics endpoint (null when not exported). */
export function installTemporalRuntime(options: TemporalRuntimeOptions): { metricsUrl: string | null } {
  Runtime.install({
    logger: sdkLoggerFor(options.logger),
    shutdownSignals: [],
    telemetryOptions: {
      // Core's native lines are forwarded to the logger above instead of printed as text.
      logging: { filter: { core: 'WARN', other: 'ERROR' }, forward: {} },
      ...(options.metricsBindAddress ? { metrics: { prometheus: { bindAddress: options.metricsBindAddress } } } : {}),
    },
  });
  return { metricsUrl: options.metricsBindAddress ? `http://${options.metricsBindAddress}/metrics` : null };
}
