/** What every router needs. */
import type { PrismaClient } from '../store/db.ts';
import type { RunLogStore } from '../store/runLogStore.ts';
import type { Logger } from '../logger.ts';
import type { RunControl } from './runControl.ts';
import type { ActivityDeps } from '../activities/deps.ts';

export interface ApiContext {
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
  /** `GET /api/health`'s probe of Temporal. */
  checkTemporal(): Promise<boolean>;
}
