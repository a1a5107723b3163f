/** Heartbeat runs: list, detail (with its workflow), events, log, cancel (R14). */
import { Router, type Request } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { allow, companyFromPath, requireVisible, type Actor } from '../auth.ts';
import { commaListOf, parseBody, parseQuery, queryInt, uuid, uuidParam } from '../validation.ts';
import { runView } from '../serializers.ts';
import { NotFoundError } from '../../errors.ts';
import { RUN_STATUSES } from '../../domain/runStatus.ts';
import { runTexts } from '../../domain/texts.ts';
import { redactJson } from '../../domain/redaction.ts';

const listRunsQuery = z.strictObject({
  agentId: uuid.optional(),
  issueId: uuid.optional(),
  status: commaListOf(RUN_STATUSES).optional(),
  limit: queryInt(1, 1000).default(100),
});

const eventsQuery = z.strictObject({
  afterSeq: queryInt(0, Number.MAX_SAFE_INTEGER).default(0),
  limit: queryInt(1, 1000).default(200),
});

const logQuery = z.strictObject({
  offset: queryInt(0, Number.MAX_SAFE_INTEGER).default(0),
  limitBytes: queryInt(1, 1024 * 1024).default(256_000),
});

const cancelSchema = z.strictObject({ reason: z.string().trim().min(1).max(500).optional() });

export function runsRouter(ctx: ApiContext): Router {
  const router = Router();
  const temporalView = { namespace: ctx.temporalNamespace, uiUrl: ctx.temporalUiUrl };

  async function loadRun(req: Request, actor: Actor) {
    const run = await ctx.prisma.heartbeatRun.findUnique({ where: { id: uuidParam(req, 'runId') } });
    return requireVisible(actor, run, 'Run');
  }

  router.get('/companies/:companyId/heartbeat-runs', async (req, res) => {
    const { companyId } = await companyFromPath(req, ctx.prisma, 'board');
    const query = parseQuery(listRunsQuery, req);
    const runs = await ctx.prisma.heartbeatRun.findMany({
      where: {
        companyId,
        ...(query.agentId ? { agentId: query.agentId } : {}),
        ...(query.status ? { status: { in: query.status } } : {}),
        ...(query.issueId ? { contextSnapshot: { path: ['issueId'], equals: query.issueId } } : {}),
      },
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: query.limit,
    });
    res.json(runs.map((run) => runView(run, temporalView)));
  });

  router.get('/heartbeat-runs/:runId', async (req, res) => {
    const actor = allow(req, 'board', 'run');
    res.json(runView(await loadRun(req, actor), temporalView));
  });

  router.get('/heartbeat-runs/:runId/events', async (req, res) => {
    const actor = allow(req, 'board', 'run');
    const run = await loadRun(req, actor);
    const query = parseQuery(eventsQuery, req);
    const events = await ctx.prisma.heartbeatRunEvent.findMany({
      where: { runId: run.id, seq: { gt: query.afterSeq } },
      orderBy: [{ seq: 'asc' }, { id: 'asc' }],
      take: query.limit,
    });
    res.json(events.map((event) => ({ ...event, payload: redactJson(event.payload) })));
  });

  router.get('/heartbeat-runs/:runId/log', async (req, res) => {
    const actor = allow(req, 'board');
    const run = await loadRun(req, actor);
    const query = parseQuery(logQuery, req);
    const slice = run.logRef ? await ctx.logStore.read(run.logRef, query.offset, query.limitBytes) : null;
    if (!slice) throw new NotFoundError('Run log');
    res.setHeader('Cache-Control', 'no-store');
    res.json({ runId: run.id, store: run.logStore, logRef: run.logRef, content: slice.content, nextOffset: slice.nextOffset });
  });

  router.post('/heartbeat-runs/:runId/cancel', async (req, res) => {
    const actor = allow(req, 'board');
    const run = await loadRun(req, actor);
    const body = parseBody(cancelSchema, req);
    const after = await ctx.runControl.cancel(run.id, body.reason ?? runTexts.cancelledByControlPlane);
    res.json(runView(after, temporalView));
  });

  return router;
}
