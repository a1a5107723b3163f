/** An agent's runtime state and its resumable task sessions (R72): read them, reset them. */
import type { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { requireVisible, type Actor } from '../auth.ts';
import { runtimeStateView, taskSessionView } from '../serializers.ts';
import { defineRoutes, routerFor } from '../openapi/route.ts';
import { AgentRuntimeState, AgentTaskSession, SessionResetResult } from '../openapi/responseSchemas.ts';
import { clearTaskSessions, latestTaskSession, listTaskSessions } from '../../store/taskSessions.ts';
import type { Prisma, PrismaClient } from '../../store/db.ts';

const resetSessionSchema = z.strictObject({
  taskKey: z
    .string()
    .min(1)
    .max(500)
    .optional()
    .meta({ description: 'Clear only this task\'s sessions (an issue id, a task id, or `__agent__`); default: all of the agent\'s' }),
});

export const agentSessionRoutes = defineRoutes('Agents', {
  getAgentRuntimeState: {
    method: 'get',
    path: '/agents/:agentId/runtime-state',
    auth: ['board'],
    summary: "An agent's runtime state: totals, last run, and its most recent task session",
    description: 'An agent no run has finished for yet answers 200 with every total 0 and null timestamps.',
    responses: { 200: { description: 'The runtime state', schema: AgentRuntimeState } },
  },
  listAgentTaskSessions: {
    method: 'get',
    path: '/agents/:agentId/task-sessions',
    auth: ['board'],
    summary: "An agent's saved task sessions (R72), most recently updated first",
    responses: { 200: { description: 'The sessions; their params show `sessionId`, `cwd` and `model` only', schema: z.array(AgentTaskSession) } },
  },
  resetAgentSession: {
    method: 'post',
    path: '/agents/:agentId/runtime-state/reset-session',
    auth: ['board'],
    summary: "Clear an agent's saved sessions (all, or one task's): its next runs start fresh",
    body: resetSessionSchema,
    responses: { 200: { description: 'The runtime state after the reset, and how many task sessions it cleared', schema: SessionResetResult } },
  },
});

export function agentSessionsRouter(ctx: ApiContext): Router {
  async function loadAgent(actor: Actor, agentId: string) {
    return requireVisible(actor, await ctx.prisma.agent.findUnique({ where: { id: agentId } }), 'Agent');
  }

  async function runtimeStateOf(db: PrismaClient | Prisma.TransactionClient, agent: { id: string; companyId: string; adapterType: string }) {
    const state = await db.agentRuntimeState.findUnique({ where: { agentId: agent.id } });
    return runtimeStateView(agent, state, await latestTaskSession(db, agent.id));
  }

  return routerFor(ctx, agentSessionRoutes, {
    getAgentRuntimeState: async ({ actor, params }) => runtimeStateOf(ctx.prisma, await loadAgent(actor, params.agentId)),

    listAgentTaskSessions: async ({ actor, params }) => {
      const agent = await loadAgent(actor, params.agentId);
      return (await listTaskSessions(ctx.prisma, agent.id)).map(taskSessionView);
    },

    resetAgentSession: async ({ actor, params, body }) => {
      const agent = await loadAgent(actor, params.agentId);
      return ctx.prisma.$transaction(async (tx) => {
        const clearedTaskSessions = await clearTaskSessions(tx, { agentId: agent.id, taskKey: body.taskKey });
        return { ...(await runtimeStateOf(tx, agent)), clearedTaskSessions };
      });
    },
  });
}
