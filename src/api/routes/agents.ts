/** Agents: create, list, read, update, pause/resume (R15) and wakeup (R71). */
import { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { allow, companyFromPath, requireVisible } from '../auth.ts';
import { jsonObject, parseBody, parseQuery, uuid, uuidParam } from '../validation.ts';
import { agentView, runView } from '../serializers.ts';
import { findWakeByIdempotencyKey } from '../../store/wakeups.ts';
import { toJson } from '../../store/json.ts';
import { runTexts, wakeTexts } from '../../domain/texts.ts';
import { tracksLocalChild } from '../../domain/runStatus.ts';

export const AGENT_ROLES = ['ceo', 'cto', 'cmo', 'cfo', 'security', 'engineer', 'designer', 'pm', 'qa', 'devops', 'researcher', 'general'] as const;
export const ADAPTER_TYPES = ['process', 'http', 'claude_local', 'codex_local', 'gemini_local', 'opencode_local', 'pi_local', 'cursor', 'hermes_local', 'openclaw_gateway'] as const;

const processAdapterConfig = z.strictObject({
  command: z.string().min(1, 'is required'),
  args: z.array(z.string()).max(200).optional(),
  cwd: z.string().min(1).optional(),
  env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'), z.string()).optional(),
  timeoutSec: z.number().int().min(0).max(7 * 24 * 3600).optional(),
  graceSec: z.number().int().min(1).max(3600).optional(),
});

const runtimeConfigSchema = z.strictObject({
  heartbeat: z
    .strictObject({
      enabled: z.boolean().optional(),
      intervalSec: z.number().int().min(0).optional(),
      wakeOnDemand: z.boolean().optional(),
      maxConcurrentRuns: z.number().int().min(1).max(10).optional(),
    })
    .optional(),
});

const agentBase = {
  name: z.string().trim().min(1).max(200),
  role: z.enum(AGENT_ROLES),
  adapterType: z.enum(ADAPTER_TYPES),
  adapterConfig: jsonObject,
  runtimeConfig: runtimeConfigSchema,
};

/**
 * Local-child adapters (`process`, and coding-agent CLIs such as `codex_local`, which Vigil runs
 * the same way) have their config checked in full; other adapters' configs are opaque.
 */
function checkAdapterConfig(adapterType: string, adapterConfig: Record<string, unknown> | undefined, ctx: z.RefinementCtx) {
  if (!tracksLocalChild(adapterType)) return;
  const parsed = processAdapterConfig.safeParse(adapterConfig ?? {});
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ code: 'custom', path: ['adapterConfig', ...issue.path], message: issue.message });
  }
}

const createAgentSchema = z
  .strictObject({
    ...agentBase,
    role: agentBase.role.default('general'),
    adapterType: agentBase.adapterType.default('process'),
    adapterConfig: agentBase.adapterConfig.optional(),
    runtimeConfig: agentBase.runtimeConfig.optional(),
    status: z.enum(['idle', 'active', 'paused', 'pending_approval']).optional(),
  })
  .superRefine((body, ctx) => checkAdapterConfig(body.adapterType, body.adapterConfig, ctx));

const updateAgentSchema = z.strictObject({
  name: agentBase.name.optional(),
  role: agentBase.role.optional(),
  adapterConfig: agentBase.adapterConfig.optional(),
  runtimeConfig: agentBase.runtimeConfig.optional(),
});

const wakeupSchema = z.strictObject({
  source: z.enum(['timer', 'assignment', 'on_demand', 'automation']).default('on_demand'),
  triggerDetail: z.enum(['manual', 'ping', 'callback', 'system']).default('manual'),
  reason: z.string().trim().min(1).max(200).optional(),
  // Free-form, but an issue binding must name a real issue id.
  payload: z.looseObject({ issueId: uuid.optional() }).optional(),
  idempotencyKey: z.string().min(1).max(500).optional(),
});

const noQuery = z.strictObject({});

export function agentsRouter(ctx: ApiContext): Router {
  const router = Router();
  const temporalView = { namespace: ctx.temporalNamespace, uiUrl: ctx.temporalUiUrl };

  async function loadAgent(req: Parameters<typeof allow>[0]) {
    const actor = req.actor!;
    const agent = await ctx.prisma.agent.findUnique({ where: { id: uuidParam(req, 'agentId') } });
    return requireVisible(actor, agent, 'Agent');
  }

  router.post('/companies/:companyId/agents', async (req, res) => {
    const { companyId } = await companyFromPath(req, ctx.prisma, 'board');
    const body = parseBody(createAgentSchema, req);
    const agent = await ctx.prisma.agent.create({
      data: {
        companyId,
        name: body.name,
        role: body.role,
        adapterType: body.adapterType,
        adapterConfig: toJson(body.adapterConfig ?? {}),
        runtimeConfig: toJson(body.runtimeConfig ?? {}),
        status: body.status ?? 'idle',
        ...(body.status === 'paused' ? { pausedAt: new Date(), pauseReason: 'manual' } : {}),
      },
    });
    res.status(201).json(agentView(agent));
  });

  router.get('/companies/:companyId/agents', async (req, res) => {
    const { companyId } = await companyFromPath(req, ctx.prisma, 'board', 'run');
    parseQuery(noQuery, req);
    const agents = await ctx.prisma.agent.findMany({ where: { companyId }, orderBy: { createdAt: 'asc' } });
    res.json(agents.map(agentView));
  });

  router.get('/agents/:agentId', async (req, res) => {
    allow(req, 'board', 'run');
    res.json(agentView(await loadAgent(req)));
  });

  router.patch('/agents/:agentId', async (req, res) => {
    allow(req, 'board');
    const agent = await loadAgent(req);
    const body = parseBody(updateAgentSchema, req);
    if (body.adapterConfig && tracksLocalChild(agent.adapterType)) {
      z.strictObject({ adapterConfig: processAdapterConfig }).parse({ adapterConfig: body.adapterConfig });
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
    res.json(agentView(updated));
  });

  router.post('/agents/:agentId/pause', async (req, res) => {
    allow(req, 'board');
    const agent = await loadAgent(req);
    const paused = await ctx.prisma.agent.update({
      where: { id: agent.id },
      data: { status: 'paused', pausedAt: agent.pausedAt ?? new Date(), pauseReason: agent.pauseReason ?? 'manual' },
    });
    // R15: pausing cancels the agent's cancellable runs, so their stopReason is `paused`.
    const active = await ctx.prisma.heartbeatRun.findMany({
      where: { agentId: agent.id, status: { in: ['queued', 'running', 'scheduled_retry'] } },
      select: { id: true },
    });
    await Promise.all(active.map((run) => ctx.runControl.cancel(run.id, runTexts.cancelledByAgentPause)));
    res.json(agentView(paused));
  });

  router.post('/agents/:agentId/resume', async (req, res) => {
    allow(req, 'board');
    const agent = await loadAgent(req);
    const resumed = agent.status === 'paused'
      ? await ctx.prisma.agent.update({ where: { id: agent.id }, data: { status: 'idle', pausedAt: null, pauseReason: null } })
      : agent;
    // Runs queued while it was paused (a process-loss retry, R23) may start now.
    await ctx.runControl.resumeQueuedRuns({ agentId: agent.id });
    res.json(agentView(resumed));
  });

  router.post('/agents/:agentId/wakeup', async (req, res) => {
    const actor = allow(req, 'board', 'run');
    const agent = await loadAgent(req);
    const body = parseBody(wakeupSchema, req);
    if (body.idempotencyKey) {
      const earlier = await findWakeByIdempotencyKey(ctx.prisma, agent.id, body.idempotencyKey);
      const run = earlier?.runId ? await ctx.prisma.heartbeatRun.findUnique({ where: { id: earlier.runId } }) : null;
      if (run) {
        res.status(202).json(runView(run, temporalView));
        return;
      }
    }
    const result = await ctx.runControl.wake(agent, {
      source: body.source,
      triggerDetail: body.triggerDetail,
      reason: body.reason ?? null,
      payload: body.payload ?? null,
      idempotencyKey: body.idempotencyKey ?? null,
      requestedByActorType: actor.kind === 'run' ? 'agent' : 'user',
      requestedByActorId: actor.kind === 'run' ? actor.agentId : actor.kind === 'board' ? `board-key:${actor.keyId}` : 'admin',
    });
    switch (result.kind) {
      case 'queued':
      case 'coalesced':
        res.status(202).json(runView(result.run, temporalView));
        return;
      case 'deferred':
        res.status(202).json({
          status: 'skipped',
          reason: 'issue_execution_deferred',
          message: wakeTexts.deferred,
          issueId: result.issueId,
          executionRunId: result.executionRunId,
          executionAgentId: result.executionAgentId,
          executionAgentName: result.executionAgentName,
        });
        return;
      case 'skipped':
        res.status(202).json({ status: 'skipped', reason: result.reason, message: result.message, issueId: result.issueId ?? null });
        return;
    }
  });

  return router;
}
