import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { withRedisDeadline } from '../errors.ts';

const routes: FastifyPluginAsyncZod = async (app) => {
  app.get('/', { config: { public: true }, schema: { hide: true } }, async () => ({
    name: 'Unroll API',
    links: { docs: '/docs', openapi: '/openapi.json', health: '/healthz', ready: '/readyz', datasets: '/v1/datasets', jobs: '/v1/jobs' },
    dashboard: '/',
  }));

  app.get(
    '/healthz',
    { config: { public: true }, schema: { tags: ['ops'], summary: 'The process is up', response: { 200: z.object({ status: z.literal('ok') }).meta({ examples: [{ status: 'ok' }] }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { public: true },
      schema: {
        tags: ['ops'],
        summary: 'Redis answers PING within 1 s and the queue is usable; reports the worker processes connected to the queue',
        description: 'Ready means the API can accept jobs. `workers: 0` is still ready (jobs wait in the queue), but nothing will train until a worker connects.',
        response: {
          200: z
            .object({ status: z.literal('ready'), workers: z.int().min(0).meta({ description: 'Worker processes connected to the queue now' }) })
            .meta({ examples: [{ status: 'ready', workers: 2 }] }),
          503: z.object({ status: z.literal('unavailable'), reason: z.string() }).meta({ examples: [{ status: 'unavailable', reason: 'redis: redis did not answer within 1000 ms' }] }),
        },
      },
    },
    async (_request, reply) => {
      try {
        await withRedisDeadline(app.redis.ping(), 1000);
        await app.queue.ping(1000);
        return { status: 'ready' as const, workers: await withRedisDeadline(app.queue.liveWorkers(), 1000) };
      } catch (err) {
        return reply.code(503).send({ status: 'unavailable' as const, reason: `redis: ${(err as Error).message}` });
      }
    },
  );
};
export default routes;
