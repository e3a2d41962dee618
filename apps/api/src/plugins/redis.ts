import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { assertRedisReachable, createRedis, redactUrl } from '@unroll/store';

declare module 'fastify' {
  interface FastifyInstance {
    /** Command connection: fails fast while Redis is down (no offline queue, 2 s timeout). */
    redis: Redis;
    /** A new connection for blocking reads (XREAD BLOCK); the caller closes it. */
    createBlockingRedis(): Redis;
  }
}

export default fp(
  async (app) => {
    const url = app.config.REDIS_URL;
    // A clear error within a few seconds instead of a hang when Redis is not there.
    await assertRedisReachable(url, 3000);
    const redis = createRedis(url, 'command');
    let lastWarned = 0;
    redis.on('error', (err: Error) => {
      // ioredis reports every failed reconnect; one line per 10 s is enough.
      if (Date.now() - lastWarned > 10_000) {
        lastWarned = Date.now();
        app.log.warn({ redis: redactUrl(url), err: err.message }, 'redis connection error');
      }
    });
    await new Promise<void>((resolve, reject) => {
      if (redis.status === 'ready') return resolve();
      const timer = setTimeout(() => reject(new Error(`Redis at REDIS_URL=${redactUrl(url)} did not become ready within 3000 ms`)), 3000);
      redis.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    app.decorate('redis', redis);
    app.decorate('createBlockingRedis', () => {
      const conn = createRedis(url, 'blocking');
      conn.on('error', () => {}); // the reader that owns it reports failures
      return conn;
    });
    app.addHook('onClose', async () => {
      await Promise.race([redis.quit().catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
      redis.disconnect();
    });
  },
  { name: 'redis', dependencies: ['config'] },
);
