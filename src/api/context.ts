/** What every router needs. */
import type { PrismaClient } from '../store/db.ts';
import type { RunLogStore } from '../store/runLogStore.ts';
import type { Logger } from '../logger.ts';
import type { RunControl } from './runControl.ts';
import type { ActivityDeps } from '../activities/deps.ts';
import type { LiveEventHub } from '../live/liveEventHub.ts';
import type { VigilMetrics } from '../metrics/vigilMetrics.ts';
import type { HealthContext } from './routes/health.ts';
import type { HeartbeatSchedules } from '../temporal/heartbeatSchedules.ts';

export interface ApiContext extends HealthContext {
  prisma: PrismaClient;
  /** The recovery routes run the same activity code as the scheduled sweeps. */
  activityDeps: ActivityDeps;
  runControl: RunControl;
  logStore: RunLogStore;
  logger: Logger;
  adminToken: string;
  runTokenSecret: string;
  temporalNamespace: string;
  /** Base URL of Temporal UI, or null when unknown. */
  temporalUiUrl: string | null;
  /** `GET /metrics` and the API latency histogram. */
  metrics: VigilMetrics;
  /** The Temporal worker's own Prometheus endpoint, appended to `/metrics`; null when not exported. */
  temporalMetricsUrl: string | null;
  /** This process's follower of `live_events`, feeding `GET /companies/:companyId/events`. */
  liveEvents: LiveEventHub;
  /** R70: the agents' heartbeat Schedules, kept in step by the agent routes; absent when timer heartbeats are off. */
  heartbeatSchedules?: HeartbeatSchedules | null;
}
