import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  ApiErrorBody,
  EventMessage,
  EXAMPLE_EVENT_MESSAGES,
  EXAMPLE_FAILED_EVENT_MESSAGE,
  StreamId,
  isTerminal,
  isTerminalStatusEvent,
} from '@unroll/protocol';
import type { JobRecord } from '@unroll/store';
import { ApiError } from '../errors.ts';
import { streamEventsToSocket } from '../event-socket.ts';
import { JobIdParams } from './jobs.ts';
import { withExamples } from './openapi-examples.ts';

/** Past this many bytes queued on a socket the client is too slow: closed with 1013 (try again later). */
export const MAX_CLIENT_BUFFER_BYTES = 4 * 1024 * 1024;

const EventsQuery = z.strictObject({
  after: StreamId.optional().meta({ description: 'Resume strictly after this stream id (the last `id` you received)' }),
  limit: z.coerce.number().int().min(1).max(1000).default(100).meta({ description: 'HTTP only: page size', example: 100 }),
  token: z.string().optional().meta({ description: 'WebSocket only: API key for browsers (or subprotocol bearer.<key>)', example: 'unroll_q3Zk8v1NwXc7YpR2mT0sLfH9aJdE4uBg' }),
});

/** The message format, with one example per event type, for the document (a WebSocket has no response schema there). */
const MESSAGE_FORMAT =
  '\n\n**Messages** (one JSON text frame each, also the `items` of the HTTP page): `{"id": "<Redis stream id>", "event": {"type": ...}}`. ' +
  'Ids increase; keep the last one to resume. A finished job ends with its `completed` or `failed` event, then the terminal `status` event, then close 1000.\n\n' +
  [...EXAMPLE_EVENT_MESSAGES, EXAMPLE_FAILED_EVENT_MESSAGE].map((m) => `- \`${m.event.type}\`: \`${JSON.stringify(m)}\``).join('\n');

const routes: FastifyPluginAsyncZod<{ maxBufferedBytes?: number }> = async (app, opts) => {
  const maxBuffered = opts.maxBufferedBytes ?? MAX_CLIENT_BUFFER_BYTES;
  /** The job as preValidation read it, for the handler (no second read). */
  const jobsSeen = new WeakMap<object, JobRecord>();
  app.route({
    method: 'GET',
    url: '/v1/jobs/:id/events',
    config: {
      swaggerTransform: withExamples({
        responses: {
          200: {
            succeeded: { summary: 'History of a succeeded job, one event of each type', value: { items: EXAMPLE_EVENT_MESSAGES, nextAfter: null } },
            failed: {
              summary: 'A failed job: failed detail event, then the terminal status',
              value: {
                items: [EXAMPLE_FAILED_EVENT_MESSAGE, { id: '1795634901377-1', event: { type: 'status', status: 'failed', at: '2026-11-25T19:28:21.377Z' } }],
                nextAfter: null,
              },
            },
          },
        },
      }),
    },
    schema: {
      tags: ['events'],
      summary: 'Job events: WebSocket live stream, or paginated JSON history over plain HTTP',
      description:
        'WebSocket: the full history (after `after`), then live messages `{id, event}`; reconnect with `?after=<last id>` to resume without gap or duplicate. ' +
        'Closed with 1000 after the terminal status event, 1013 when the client reads too slowly. Plain HTTP: `{items, nextAfter}` pages; pass `nextAfter` as `after` for the next one; `nextAfter` is null on the last page of a finished job. ' +
      'Connect with `wss://<host>/v1/jobs/<id>/events?after=<id>` and `Authorization: Bearer <key>`, or from browsers `?token=<key>` / subprotocols `unroll.v1, bearer.<key>`.' +
      MESSAGE_FORMAT,
      params: JobIdParams,
      querystring: EventsQuery,
      response: { 200: z.object({ items: z.array(EventMessage), nextAfter: StreamId.nullable() }), 400: ApiErrorBody, 401: ApiErrorBody, 404: ApiErrorBody },
    },
    // After validation (a malformed id or `after` is 400, as over HTTP) and before the upgrade:
    // another tenant's (or a missing) job is a plain 404, no socket.
    preHandler: async (request) => {
      const { id } = request.params;
      request.log = request.log.child({ jobId: id });
      const job = await app.jobs.getForTenant(id, request.tenant);
      if (!job) throw ApiError.notFound('job', id);
      jobsSeen.set(request, job);
    },
    handler: async (request) => {
      const { id } = request.params;
      // Looked at BEFORE the read: a job finished by then has nothing after a short page.
      const finishedBefore = isTerminal(jobsSeen.get(request)?.status ?? 'queued');
      const items = await app.events.read(id, { after: request.query.after, count: request.query.limit });
      const last = items.at(-1);
      // The last page of a finished job ends the pagination: nextAfter null, not its last id again.
      const end = (last !== undefined && isTerminalStatusEvent(last.event)) || (finishedBefore && items.length < request.query.limit);
      return { items, nextAfter: end ? null : (last?.id ?? request.query.after ?? null) };
    },
    wsHandler: (socket, request) => {
      const { id } = request.params;
      const options = { jobs: app.jobs, hub: app.eventHub, history: app.eventHistory, maxBufferedBytes: maxBuffered };
      void streamEventsToSocket(options, socket, id, request.query.after, jobsSeen.get(request)).catch((err) => {
        request.log.warn({ jobId: id, err: (err as Error).message }, 'event stream failed');
        if (socket.readyState === socket.OPEN) socket.close(1011, 'server error');
      });
    },
  });

};
export default routes;
