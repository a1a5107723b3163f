/** Heartbeat runs: list, detail (with its workflow), events, log, cancel (R14). */
import type { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { requireVisible, type Actor } from '../auth.ts';
import { commaListOf, queryInt, queryInt64, uuid } from '../validation.ts';
import { INT4_MAX } from '../requestLimits.ts';
import { runView } from '../serializers.ts';
import { defineRoutes, routerFor } from '../openapi/route.ts';
import { Run, RunEvent, RunLogSlice } from '../openapi/responseSchemas.ts';
import { NotFoundError } from '../../errors.ts';
import { RUN_STATUSES } from '../../domain/runStatus.ts';
import { runTexts } from '../../domain/texts.ts';
import { redactJson } from '../../domain/redaction.ts';

const listRunsQuery = z.strictObject({
  agentId: uuid.optional(),
  issueId: uuid.optional().meta({ description: 'Runs bound to this issue (`contextSnapshot.issueId`)' }),
  status: commaListOf(RUN_STATUSES).optional(),
  limit: queryInt(1, 1000).default(100),
});

const eventsQuery = z.strictObject({
  afterSeq: queryInt(0, INT4_MAX).default(0).meta({ description: 'Only events with a greater `seq`' }),
  limit: queryInt(1, 1000).default(200),
});

const logQuery = z.strictObject({
  offset: queryInt64(0).default(0).meta({ description: 'Byte offset into the log' }),
  limitBytes: queryInt(1, 1024 * 1024).default(256_000).meta({ description: 'At most this many bytes (max 1 MiB)' }),
});

const cancelSchema = z.strictObject({ reason: z.string().trim().min(1).max(500).optional() });

export const runRoutes = defineRoutes('Runs', {
  listRuns: {
    method: 'get',
    path: '/companies/:companyId/heartbeat-runs',
    auth: ['board'],
    summary: "List the company's runs, newest first",
    query: listRunsQuery,
    responses: { 200: { description: 'Runs', schema: z.array(Run) } },
  },
  getRun: {
    method: 'get',
    path: '/heartbeat-runs/:runId',
    auth: ['board', 'run'],
    summary: 'Read a run: every column (error text redacted), its workflow id and Temporal UI link',
    responses: { 200: { description: 'The run', schema: Run } },
  },
  listRunEvents: {
    method: 'get',
    path: '/heartbeat-runs/:runId/events',
    auth: ['board', 'run'],
    summary: "A run's events, ordered by `seq`",
    query: eventsQuery,
    responses: { 200: { description: 'Events (payload secrets redacted)', schema: z.array(RunEvent) } },
  },
  readRunLog: {
    method: 'get',
    path: '/heartbeat-runs/:runId/log',
    auth: ['board'],
    summary: "Read a slice of a run's full log",
    description: 'Page with `nextOffset` until it is null. 404 when the run has no log (yet). Logs are in PostgreSQL (`store: postgres`), so any API process serves any run, running or ended; a run logged before that (`store: local_file`) is served only by a process that has its file.',
    query: logQuery,
    responses: {
      200: {
        description: 'The slice',
        schema: RunLogSlice,
        headers: { 'Cache-Control': { description: 'Always `no-store`', schema: z.literal('no-store') } },
      },
    },
  },
  cancelRun: {
    method: 'post',
    path: '/heartbeat-runs/:runId/cancel',
    auth: ['board'],
    summary: 'Cancel a run (R14); a run already finished is returned unchanged',
    body: cancelSchema,
    responses: { 200: { description: 'The run after the cancel', schema: Run } },
  },
});

export function runsRouter(ctx: ApiContext): Router {
  const temporalView = { namespace: ctx.temporalNamespace, uiUrl: ctx.temporalUiUrl };

  async function loadRun(actor: Actor, runId: string) {
    return requireVisible(actor, await ctx.prisma.heartbeatRun.findUnique({ where: { id: runId } }), 'Run');
  }

  return routerFor(ctx, runRoutes, {
    listRuns: async ({ params, query }) => {
      const runs = await ctx.prisma.heartbeatRun.findMany({
        where: {
          companyId: params.companyId,
          ...(query.agentId ? { agentId: query.agentId } : {}),
          ...(query.status ? { status: { in: query.status } } : {}),
          ...(query.issueId ? { contextSnapshot: { path: ['issueId'], equals: query.issueId } } : {}),
        },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: query.limit,
      });
      return runs.map((run) => runView(run, temporalView));
    },

    getRun: async ({ actor, params }) => runView(await loadRun(actor, params.runId), temporalView),

    listRunEvents: async ({ actor, params, query }) => {
      const run = await loadRun(actor, params.runId);
      const events = await ctx.prisma.heartbeatRunEvent.findMany({
        where: { runId: run.id, seq: { gt: query.afterSeq } },
        orderBy: [{ seq: 'asc' }, { id: 'asc' }],
        take: query.limit,
      });
      return events.map((event) => ({ ...event, payload: redactJson(event.payload) }));
    },

    readRunLog: async ({ actor, params, query, res }) => {
      const run = await loadRun(actor, params.runId);
      const slice = await ctx.logStore.read(run, query.offset, query.limitBytes);
      if (!slice) throw new NotFoundError('Run log');
      res.setHeader('Cache-Control', 'no-store');
      return { runId: run.id, store: run.logStore, logRef: run.logRef, content: slice.content, nextOffset: slice.nextOffset };
    },

    cancelRun: async ({ actor, params, body }) => {
      const run = await loadRun(actor, params.runId);
      const after = await ctx.runControl.cancel(run.id, body.reason ?? runTexts.cancelledByControlPlane);
      return runView(after, temporalView);
    },
  });
}
