import fp from 'fastify-plugin';
import type { Redis } from 'ioredis';
import { assertRedisReachable, checkRedisDurability, createRedis, redactUrl } from '@unroll/store';

declare module 'fastify' {
  interface FastifyInstance {
    /** Command connection: fails fast while Redis is down (no offline queue, 1.5 s timeout). */
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
    // A 202 promises the job survives a Redis crash: that needs AOF with fsync on every write.
    const durability = await checkRedisDurability(redis);
    if (!durability.durable) {
      if (app.config.REQUIRE_DURABLE_REDIS) throw new Error(`${durability.problem} (REQUIRE_DURABLE_REDIS is set)`);
      app.log.warn({ appendonly: durability.appendonly, appendfsync: durability.appendfsync }, durability.problem!);
    }
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
