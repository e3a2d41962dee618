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
        summary: 'Redis answers PING within 1 s and the queue is usable',
        response: {
          200: z.object({ status: z.literal('ready') }).meta({ examples: [{ status: 'ready' }] }),
          503: z.object({ status: z.literal('unavailable'), reason: z.string() }).meta({ examples: [{ status: 'unavailable', reason: 'redis: redis did not answer within 1000 ms' }] }),
        },
      },
    },
    async (_request, reply) => {
      try {
        await withRedisDeadline(app.redis.ping(), 1000);
        await app.queue.ping(1000);
        return { status: 'ready' as const };
      } catch (err) {
        return reply.code(503).send({ status: 'unavailable' as const, reason: `redis: ${(err as Error).message}` });
      }
    },
  );
};
export default routes;
