/**
 * How a stop request (SIGINT, SIGTERM) reaches the start-up step in progress. `npm start` gives
 * every step a StartupInterrupt (src/processLifecycle.ts); a step that spawns a child watches it
 * and, once it fires, stops that child before throwing — so the caller only ever has to stop what
 * a step *returned*. The launchers take it as an option; the test setup passes none.
 */

/** Where start-up can be interrupted, in order; `VIGIL_STARTUP_PAUSE_AT` names one of them. */
export const STARTUP_POINTS = [
  /** Before PostgreSQL: nothing started yet. */
  'postgres',
  /** The postmaster is spawned and not ready yet. */
  'postgres-spawned',
  /** PostgreSQL runs; migrations are next. */
  'migrations',
  /** Before finding (or building) the Temporal CLI. */
  'temporal-cli',
  /** Before the Temporal dev server. */
  'temporal',
  /** The dev server is spawned and does not serve yet. */
  'temporal-spawned',
  /** Before the API and the worker (startVigil). */
  'api',
  /** The API listens; the worker (and its workflow bundle) is next. */
  'worker',
] as const;

export type StartupPoint = (typeof STARTUP_POINTS)[number];

/** What `GET /api/health` reports besides the probes: only `ready` may answer `ok`. */
export type LifecyclePhase = 'starting' | 'ready' | 'stopping';

export interface StartupInterrupt {
  /** Aborted, with a StopRequested reason, once a stop was asked for. */
  signal: AbortSignal;
  /**
   * Throws the StopRequested once a stop was asked for. When `VIGIL_STARTUP_PAUSE_AT` names
   * `point` (a test hook), it first says so on stdout and waits there for the stop request.
   */
  checkpoint(point: StartupPoint): Promise<void>;
}

/** The reason of an aborted start-up: not a failure, the process was asked to stop. */
export class StopRequested extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`${signal}: stop requested`);
    this.name = 'StopRequested';
  }
}
