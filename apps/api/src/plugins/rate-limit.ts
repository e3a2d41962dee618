import fp from 'fastify-plugin';
import fastifyRateLimit from '@fastify/rate-limit';
import { keys } from '@unroll/store';
import { ApiError } from '../errors.ts';

/**
 * Requests per API key: RATE_LIMIT_MAX per RATE_LIMIT_WINDOW_MS, counted in Redis so the limit
 * holds across every API process. Runs after authentication (its hook is per route, after the
 * global auth hook), so the counter is the tenant's; public routes (health, docs) are not limited.
 * Past the limit: 429 rate_limited with Retry-After.
 */
export default fp(
  async (app) => {
    const { RATE_LIMIT_MAX: max, RATE_LIMIT_WINDOW_MS: timeWindow } = app.config;
    if (max === 0) return;
    await app.register(fastifyRateLimit, {
      global: true,
      max,
      timeWindow,
      redis: app.redis,
      nameSpace: keys.rateLimitPrefix,
      keyGenerator: (request) => `tenant:${request.tenant || `ip:${request.ip}`}`,
      allowList: (request) => request.tenant === '',
      errorResponseBuilder: (_request, context) =>
        new ApiError(429, 'rate_limited', `rate limit of ${context.max} requests per ${context.after} window exceeded for this API key; retry in ${context.after}`),
    });
  },
  { name: 'rate-limit', dependencies: ['config', 'redis', 'auth'] },
);
