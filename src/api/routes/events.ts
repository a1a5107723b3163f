/**
 * `GET /api/companies/:companyId/events`: the company live channel as Server-Sent Events
 * (DATA-MODEL §4.6), for the company's board keys and the admin. Payloads: src/live/liveEventTypes.ts.
 *
 * A board resumes with the standard `Last-Event-ID` header (what EventSource sends on reconnect),
 * or `?lastEventId=` for clients that cannot set it; it then receives every event after that id,
 * followed by live ones. Without either it receives what happens from now on.
 */
import type { Router } from 'express';
import { z } from 'zod';
import type { ApiContext } from '../context.ts';
import { defineRoutes, routerFor } from '../openapi/route.ts';
import { serveCompanyEvents } from '../../live/companyEventStream.ts';
import { LIVE_EVENT_PAYLOADS, LIVE_RESYNC_EVENT, LiveResyncPayload } from '../../live/liveEventSchemas.ts';

// At most 15 digits: every such id is a safe JavaScript integer (2^53 − 1 has 16).
const eventId = z.string().regex(/^\d{1,15}$/, 'must be a non-negative integer of at most 15 digits');

/** Every event of the stream by name: the numbered ones of the live channel, and the resync notice. */
const streamEvents = {
  ...Object.fromEntries(Object.entries(LIVE_EVENT_PAYLOADS).map(([name, data]) => [name, { data, numbered: true }])),
  [LIVE_RESYNC_EVENT]: { data: LiveResyncPayload, numbered: false },
};

const liveEventHeaders = z.object({
  'last-event-id': eventId
    .optional()
    .meta({ description: 'Id of the last event received; the stream resumes after it (EventSource sends it on reconnect)' }),
});

const liveEventQuery = z.strictObject({
  lastEventId: eventId.optional().meta({ description: 'Same as the `Last-Event-ID` header, for clients that cannot set headers' }),
});

export const liveEventRoutes = defineRoutes('Live events', {
  streamCompanyEvents: {
    method: 'get',
    path: '/companies/:companyId/events',
    auth: ['board'],
    summary: "Server-Sent Events of the company's runs, agents and issues",
    description: [
      'A `text/event-stream` that stays open. Each event has an `id` (the resync notice has none), an `event` name and JSON `data`;',
      'comments (`: keep-alive`) and a `retry:` hint come between events.',
      `Event names: ${Object.keys(streamEvents).map((name) => `\`${name}\``).join(', ')}.`,
      'The response schema describes one event (OpenAPI 3.2 calls it `itemSchema`), its payload per event name as `contentSchema` of `data`, also listed in `x-vigil-events`.',
      'With `Last-Event-ID` (or `?lastEventId=`) the stream first replays every event after that id; without, it starts from now.',
      'The REST routes remain the source of truth.',
    ].join(' '),
    query: liveEventQuery,
    headers: liveEventHeaders,
    responses: {
      200: { description: 'The event stream', contentType: 'text/event-stream', events: streamEvents },
    },
  },
});

export function eventsRouter(ctx: ApiContext): Router {
  return routerFor(ctx, liveEventRoutes, {
    streamCompanyEvents: async ({ req, res, params, query, headers }) => {
      const raw = headers['last-event-id'] ?? query.lastEventId;
      req.socket.setNoDelay(true);
      await serveCompanyEvents({
        hub: ctx.liveEvents,
        prisma: ctx.prisma,
        logger: ctx.logger,
        res,
        companyId: params.companyId,
        lastEventId: raw === undefined ? null : Number(raw),
      });
    },
  });
}
