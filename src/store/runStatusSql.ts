/**
 * R1's live run statuses for raw SQL, built from the one list in `src/domain/runStatus.ts`.
 *
 * Written into the statement as literals, not bound as a parameter: the text is exactly the
 * predicate of the partial index `heartbeat_runs_live_status_idx` (recovery_indexes migration),
 * so the planner proves that index applies whatever plan it makes, and the statements read the
 * same in `pg_stat_statements` as before. The values are the domain's own constants, never input.
 */
import { Prisma } from './db.ts';
import { LIVE_RUN_STATUSES } from '../domain/runStatus.ts';

/** `('queued', 'running', 'scheduled_retry')`: use as `status IN ${LIVE_RUN_STATUS_LIST}`. */
export const LIVE_RUN_STATUS_LIST = Prisma.raw(`(${LIVE_RUN_STATUSES.map((status) => `'${status}'`).join(', ')})`);
