/**
 * Every route group of the API, in the order the document lists them. A group missing here is
 * missing from `GET /api/openapi.json`; test/api/openapi.test.ts compares this list with the
 * routes Express has mounted, both ways.
 */
import type { RouteGroup } from './route.ts';
import { healthRoutes } from '../routes/health.ts';
import { openApiRoutes } from '../routes/openapi.ts';
import { companyRoutes } from '../routes/companies.ts';
import { agentRoutes } from '../routes/agents.ts';
import { agentSessionRoutes } from '../routes/agentSessions.ts';
import { issueRoutes } from '../routes/issues.ts';
import { treeHoldRoutes } from '../routes/treeHolds.ts';
import { loopBreakerRoutes } from '../routes/loopBreaker.ts';
import { recoveryDecisionRoutes } from '../routes/recoveryDecisions.ts';
import { runRoutes } from '../routes/runs.ts';
import { environmentRoutes } from '../routes/environments.ts';
import { budgetRoutes } from '../routes/budgets.ts';
import { recoveryRoutes } from '../routes/recovery.ts';
import { liveEventRoutes } from '../routes/events.ts';

/** A function, not a constant: src/api/routes/openapi.ts imports this module and is part of it. */
export function routeCatalog(): RouteGroup[] {
  return [
    healthRoutes,
    openApiRoutes,
    companyRoutes,
    agentRoutes,
    agentSessionRoutes,
    issueRoutes,
    treeHoldRoutes,
    loopBreakerRoutes,
    recoveryDecisionRoutes,
    runRoutes,
    environmentRoutes,
    budgetRoutes,
    recoveryRoutes,
    liveEventRoutes,
  ];
}
