/** Agents: create, list, read, update, pause/resume (R15) and wakeup (R71). */
import type { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { requireVisible, type Actor } from '../auth.ts';
import { ADAPTER_TYPES, AGENT_ROLES, boundedJson, int4, jsonObject, uuid } from '../validation.ts';
import { INT4_MAX } from '../requestLimits.ts';
import { agentView, runView } from '../serializers.ts';
import { defineRoutes, routerFor } from '../openapi/route.ts';
import { idempotent, idempotencyHeaders, IDEMPOTENCY_CONFLICT, IDEMPOTENCY_IN_PROGRESS } from '../idempotency.ts';
import { Agent, Run, WakeSkipped } from '../openapi/responseSchemas.ts';
import { findWakeByIdempotencyKey } from '../../store/wakeups.ts';
import { toJson } from '../../store/json.ts';
import { runTexts, wakeTexts } from '../../domain/texts.ts';
import { LIVE_RUN_STATUSES, LOCAL_CHILD_ADAPTER_TYPES, tracksLocalChild } from '../../domain/runStatus.ts';
import { AGENT_CLI_ADAPTER_TYPES } from '../../adapters/agentClis.ts';
import { adapterConfigSchemaFor, claudeAdapterConfig, codexAdapterConfig, processAdapterConfig } from '../adapterConfigSchemas.ts';

const runtimeConfigSchema = z.strictObject({
  heartbeat: z
    .strictObject({
      enabled: z.boolean().optional(),
      intervalSec: int4(0, INT4_MAX).optional(),
      wakeOnDemand: z.boolean().optional(),
      maxConcurrentRuns: int4(1, 10).optional(),
    })
    .optional(),
});

const agentFields = {
  name: z.string().trim().min(1).max(200),
  role: z.enum(AGENT_ROLES).default('general'),
  runtimeConfig: runtimeConfigSchema.optional(),
  status: z.enum(['idle', 'active', 'paused', 'pending_approval']).optional(),
};

/** Adapters Vigil does not run as a local child: their config is opaque to it. */
const OTHER_ADAPTER_TYPES = ADAPTER_TYPES.filter((type) => !tracksLocalChild(type)) as [string, ...string[]];
/** Local-child adapters that run a configured command (`process` and the like). */
const PROCESS_ADAPTER_TYPES = LOCAL_CHILD_ADAPTER_TYPES.filter((type) => !AGENT_CLI_ADAPTER_TYPES.includes(type)) as [string, ...string[]];

/**
 * One branch per kind of adapter, told apart by `adapterType`: local-child adapters (`process`,
 * and coding-agent CLIs such as `codex_local`, which Vigil runs the same way) must give the
 * process config with its `command`; other adapters' configs are opaque. `adapterType` may be
 * left out, meaning `process`.
 */
const createAgentSchema = z.discriminatedUnion('adapterType', [
  z
    .strictObject({ ...agentFields, adapterType: z.enum(PROCESS_ADAPTER_TYPES).default('process'), adapterConfig: processAdapterConfig })
    .meta({ description: 'A local-child agent: Vigil runs `adapterConfig.command` for each run (default `adapterType`: `process`)' }),
  z
    .strictObject({ ...agentFields, adapterType: z.literal('claude_local'), adapterConfig: claudeAdapterConfig.default({}) })
    .meta({ description: 'A Claude Code agent: Vigil runs `claude` (or `adapterConfig.command`) with the run\'s prompt' }),
  z
    .strictObject({ ...agentFields, adapterType: z.literal('codex_local'), adapterConfig: codexAdapterConfig.default({}) })
    .meta({ description: 'A Codex agent: Vigil runs `codex exec` (or `adapterConfig.command`) with the run\'s prompt' }),
  z
    .strictObject({ ...agentFields, adapterType: z.enum(OTHER_ADAPTER_TYPES), adapterConfig: jsonObject.optional() })
    .meta({ description: 'An agent of an adapter Vigil does not run as a local child; its `adapterConfig` is opaque' }),
]);

const updateAgentSchema = z.strictObject({
  name: agentFields.name.optional(),
  role: z.enum(AGENT_ROLES).optional(),
  adapterConfig: jsonObject.optional().meta({ description: "Replaces the config. A local-child agent's must be the process config (`command` required), as on creation" }),
  runtimeConfig: runtimeConfigSchema.optional(),
});

const wakeupSchema = z.strictObject({
  source: z.enum(['timer', 'assignment', 'on_demand', 'automation']).default('on_demand'),
  triggerDetail: z.enum(['manual', 'ping', 'callback', 'system']).default('manual'),
  reason: z.string().trim().min(1).max(200).optional(),
  // Free-form, but an issue binding must name a real issue id.
  payload: boundedJson(z.looseObject({ issueId: uuid.optional() })).optional(),
  idempotencyKey: z.string().min(1).max(500).optional(),
  forceFreshSession: z
    .boolean()
    .optional()
    .meta({ description: "R72: the run starts a new agent session instead of resuming the task's saved one (`contextSnapshot.forceFreshSession`)" }),
});

export const agentRoutes = defineRoutes('Agents', {
  createAgent: {
    method: 'post',
    path: '/companies/:companyId/agents',
    auth: ['board'],
    summary: 'Create an agent',
    description: 'One schema per kind of `adapterType`: local-child adapters (`process`, `gemini_local`, …) require `adapterConfig` `{ command, args?, cwd?, env?, timeoutSec?, graceSec? }`; `claude_local` and `codex_local` take `{ command?, cwd?, env?, model?, maxTurns? (claude), extraArgs?, promptTemplate?, timeoutSec?, graceSec? }`; other adapters take any object.',
    body: createAgentSchema,
    responses: { 201: { description: 'The agent (secrets in its config redacted)', schema: Agent } },
  },
  listAgents: {
    method: 'get',
    path: '/companies/:companyId/agents',
    auth: ['board', 'run'],
    summary: "List the company's agents, oldest first",
    responses: { 200: { description: 'The agents', schema: z.array(Agent) } },
  },
  getAgent: {
    method: 'get',
    path: '/agents/:agentId',
    auth: ['board', 'run'],
    summary: 'Read an agent',
    responses: { 200: { description: 'The agent', schema: Agent } },
  },
  updateAgent: {
    method: 'patch',
    path: '/agents/:agentId',
    auth: ['board'],
    summary: "Update an agent's name, role, adapter config or runtime config",
    body: updateAgentSchema,
    responses: { 200: { description: 'The updated agent', schema: Agent } },
  },
  pauseAgent: {
    method: 'post',
    path: '/agents/:agentId/pause',
    auth: ['board'],
    summary: 'Pause an agent and cancel its active runs (stopReason `paused`, R15)',
    responses: { 200: { description: 'The paused agent', schema: Agent } },
  },
  resumeAgent: {
    method: 'post',
    path: '/agents/:agentId/resume',
    auth: ['board'],
    summary: 'Resume a paused agent (status → `idle`) and start runs queued meanwhile',
    responses: { 200: { description: 'The agent', schema: Agent } },
  },
  wakeAgent: {
    method: 'post',
    path: '/agents/:agentId/wakeup',
    auth: ['board', 'run'],
    summary: 'Wake an agent: a new run, or the run it merged into, or why there is none (R71)',
    description:
      'A repeated `idempotencyKey` (body, per agent, R46) returns the run of the first wake. A repeated `Idempotency-Key` header ' +
      '(per caller, 24 h) returns the first answer as it was, a 503 with its queued `runId` included.',
    headers: idempotencyHeaders,
    body: wakeupSchema,
    responses: { 202: { description: 'The run (new or coalesced), or a skipped/deferred wake', schema: z.union([Run, WakeSkipped]) } },
    errors: {
      409: `The agent is not invokable (paused, terminated, pending approval) or a budget blocks it; or: ${IDEMPOTENCY_IN_PROGRESS}`,
      422: `The request is fine, but ${IDEMPOTENCY_CONFLICT}`,
      503: 'Temporal could not be reached; the run is queued (`runId`) and starts once it answers',
    },
  },
});

export function agentsRouter(ctx: ApiContext): Router {
  const temporalView = { namespace: ctx.temporalNamespace, uiUrl: ctx.temporalUiUrl };

  async function loadAgent(actor: Actor, agentId: string) {
    return requireVisible(actor, await ctx.prisma.agent.findUnique({ where: { id: agentId } }), 'Agent');
  }

  return routerFor(ctx, agentRoutes, {
    createAgent: async ({ params, body }) => {
      const agent = await ctx.prisma.agent.create({
        data: {
          companyId: params.companyId,
          name: body.name,
          role: body.role,
          adapterType: body.adapterType,
          adapterConfig: toJson(body.adapterConfig ?? {}),
          runtimeConfig: toJson(body.runtimeConfig ?? {}),
          status: body.status ?? 'idle',
          ...(body.status === 'paused' ? { pausedAt: new Date(), pauseReason: 'manual' } : {}),
        },
      });
      // R70: its heartbeat Schedule follows the saved row (a Temporal error is logged, not answered).
      await ctx.heartbeatSchedules?.afterAgentChange(null, agent);
      return agentView(agent);
    },

    listAgents: async ({ params }) => {
      const agents = await ctx.prisma.agent.findMany({ where: { companyId: params.companyId }, orderBy: { createdAt: 'asc' } });
      return agents.map(agentView);
    },

    getAgent: async ({ actor, params }) => agentView(await loadAgent(actor, params.agentId)),

    updateAgent: async ({ actor, params, body }) => {
      const agent = await loadAgent(actor, params.agentId);
      if (body.adapterConfig && tracksLocalChild(agent.adapterType)) {
        z.strictObject({ adapterConfig: adapterConfigSchemaFor(agent.adapterType) }).parse({ adapterConfig: body.adapterConfig });
      }
      const updated = await ctx.prisma.agent.update({
        where: { id: agent.id },
        data: {
          ...(body.name !== undefined ? { name: body.name } : {}),
          ...(body.role !== undefined ? { role: body.role } : {}),
          ...(body.adapterConfig !== undefined ? { adapterConfig: toJson(body.adapterConfig) } : {}),
          ...(body.runtimeConfig !== undefined ? { runtimeConfig: toJson(body.runtimeConfig) } : {}),
        },
      });
      await ctx.heartbeatSchedules?.afterAgentChange(agent, updated);
      return agentView(updated);
    },

    pauseAgent: async ({ actor, params }) => {
      const agent = await loadAgent(actor, params.agentId);
      const paused = await ctx.prisma.agent.update({
        where: { id: agent.id },
        data: { status: 'paused', pausedAt: agent.pausedAt ?? new Date(), pauseReason: agent.pauseReason ?? 'manual' },
      });
      await ctx.heartbeatSchedules?.afterAgentChange(agent, paused);
      // R15: pausing cancels the agent's cancellable runs, so their stopReason is `paused`.
      const active = await ctx.prisma.heartbeatRun.findMany({
        where: { agentId: agent.id, status: { in: [...LIVE_RUN_STATUSES] } },
        select: { id: true },
      });
      await Promise.all(active.map((run) => ctx.runControl.cancel(run.id, runTexts.cancelledByAgentPause)));
      return agentView(paused);
    },

    resumeAgent: async ({ actor, params }) => {
      const agent = await loadAgent(actor, params.agentId);
      const resumed = agent.status === 'paused'
        ? await ctx.prisma.agent.update({ where: { id: agent.id }, data: { status: 'idle', pausedAt: null, pauseReason: null } })
        : agent;
      await ctx.heartbeatSchedules?.afterAgentChange(agent, resumed);
      // Runs queued while it was paused (a process-loss retry, R23) may start now.
      await ctx.runControl.resumeQueuedRuns({ agentId: agent.id });
      return agentView(resumed);
    },

    wakeAgent: async ({ req, res, actor, params, headers, body }) => {
      const agent = await loadAgent(actor, params.agentId);
      // Issue 14 §3: a repeated `Idempotency-Key` answers the first wake without waking again.
      return idempotent(
        { prisma: ctx.prisma, res, actor, key: headers['idempotency-key'], companyId: agent.companyId, spec: agentRoutes.routes.wakeAgent, target: { agentId: agent.id }, body: req.body },
        async () => {
          if (body.idempotencyKey) {
            const earlier = await findWakeByIdempotencyKey(ctx.prisma, agent.id, body.idempotencyKey);
            const run = earlier?.runId ? await ctx.prisma.heartbeatRun.findUnique({ where: { id: earlier.runId } }) : null;
            if (run) return runView(run, temporalView);
          }
          const result = await ctx.runControl.wake(agent, {
            source: body.source,
            triggerDetail: body.triggerDetail,
            reason: body.reason ?? null,
            payload: body.payload ?? null,
            idempotencyKey: body.idempotencyKey ?? null,
            // R72: carried in the run's context; a wake that coalesces into a live run adds it there.
            ...(body.forceFreshSession ? { contextSnapshot: { forceFreshSession: true } } : {}),
            requestedByActorType: actor.kind === 'run' ? 'agent' : 'user',
            requestedByActorId: actor.kind === 'run' ? actor.agentId : actor.kind === 'board' ? `board-key:${actor.keyId}` : 'admin',
          });
          switch (result.kind) {
            case 'queued':
            case 'coalesced':
              return runView(result.run, temporalView);
            case 'deferred':
              return {
                status: 'skipped',
                reason: 'issue_execution_deferred',
                message: wakeTexts.deferred,
                issueId: result.issueId,
                executionRunId: result.executionRunId,
                executionAgentId: result.executionAgentId,
                executionAgentName: result.executionAgentName,
              };
            case 'skipped':
              return { status: 'skipped', reason: result.reason, message: result.message, issueId: result.issueId ?? null };
          }
        },
      );
    },
  });
}
