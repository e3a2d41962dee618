import { Redis, type RedisOptions } from 'ioredis';

/**
 * What a connection is used for decides how it behaves while Redis is away:
 * - `command`: the API's request path. No offline queue and a 1.5 s command timeout, so a write
 *   while Redis is down fails fast (503 redis_unavailable) instead of hanging the request.
 * - `blocking`: XREAD BLOCK tails and BullMQ Workers. Commands wait through reconnects
 *   (maxRetriesPerRequest null, as BullMQ requires for blocking connections).
 * - `queue`: a BullMQ Queue producer in the API. Fails fast like `command`.
 * - `worker`: the worker's store writes. Waits through a short Redis blip rather than failing
 *   a training job, but never forever (fenced writes are retried by the caller).
 */
export type RedisRole = 'command' | 'blocking' | 'queue' | 'worker';

/** Reconnect with capped exponential backoff; never give up (the process decides when to exit). */
export function reconnectDelay(times: number): number {
  return Math.min(50 * 2 ** Math.min(times, 10), 2000);
}

export function redisOptions(role: RedisRole): RedisOptions {
  const base: RedisOptions = {
    connectTimeout: 2000,
    retryStrategy: reconnectDelay,
    connectionName: `unroll-${role}`,
  };
  switch (role) {
    case 'command':
      // 1.5 s: the whole request, Redis call included, answers 503 within the 2 s the service promises.
      return { ...base, enableOfflineQueue: false, commandTimeout: 1500, maxRetriesPerRequest: 1 };
    case 'queue':
      return { ...base, enableOfflineQueue: false, maxRetriesPerRequest: 1 };
    case 'blocking':
      return { ...base, maxRetriesPerRequest: null, enableReadyCheck: true };
    case 'worker':
      return { ...base, maxRetriesPerRequest: 20 };
  }
}

export function createRedis(url: string, role: RedisRole, overrides: RedisOptions = {}): Redis {
  return new Redis(url, { ...redisOptions(role), ...overrides });
}

export class RedisUnreachableError extends Error {
  override name = 'RedisUnreachableError';
}

/**
 * Fails within `timeoutMs` with a message naming REDIS_URL when Redis does not answer PING,
 * so a process started without Redis exits with a clear error instead of hanging.
 */
export async function assertRedisReachable(url: string, timeoutMs = 3000): Promise<void> {
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: timeoutMs, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  probe.on('error', () => {}); // reported through the rejected promise below
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      (async () => {
        await probe.connect();
        await probe.ping();
      })(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
  } catch (err) {
    throw new RedisUnreachableError(`cannot reach Redis at REDIS_URL=${redactUrl(url)}: ${(err as Error).message}. Start redis-server or set REDIS_URL.`);
  } finally {
    clearTimeout(timer);
    probe.disconnect();
  }
}

/** Hides a password in redis://user:pass@host URLs before they reach a log line. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '<unparseable REDIS_URL>';
  }
}

export interface RedisDurability {
  appendonly: string | null;
  appendfsync: string | null;
  /** appendonly yes + appendfsync always: a write acknowledged by Redis survives kill -9. */
  durable: boolean;
  /** Why it is not durable (or could not be checked). */
  problem: string | null;
}

/**
 * Checks that acknowledged writes survive a Redis crash. Redis 7.0 has no WAITAOF (7.2+), so the
 * service relies on `appendonly yes` + `appendfsync always`: Redis fsyncs the AOF before it
 * answers a write, so a 202 is only sent for a job whose record is on disk.
 */
export async function checkRedisDurability(redis: Redis): Promise<RedisDurability> {
  try {
    const [appendonly, appendfsync] = await Promise.all([
      redis.config('GET', 'appendonly') as Promise<string[]>,
      redis.config('GET', 'appendfsync') as Promise<string[]>,
    ]);
    const aof = appendonly[1] ?? null;
    const fsync = appendfsync[1] ?? null;
    const durable = aof === 'yes' && fsync === 'always';
    return {
      appendonly: aof,
      appendfsync: fsync,
      durable,
      problem: durable ? null : `Redis runs appendonly=${aof} appendfsync=${fsync}; acknowledged jobs may be lost if Redis crashes (want appendonly yes, appendfsync always)`,
    };
  } catch (err) {
    return { appendonly: null, appendfsync: null, durable: false, problem: `cannot read Redis persistence settings (CONFIG GET refused?): ${(err as Error).message}` };
  }
}

/** True for errors that mean "Redis is not reachable right now" (worth retrying once it is back). */
export function isRedisConnectionError(err: unknown): boolean {
  const e = err as Error | undefined;
  if (!e) return false;
  if (e.name === 'MaxRetriesPerRequestError') return true;
  return /Connection is closed|Command timed out|ECONNREFUSED|ECONNRESET|EPIPE|Stream isn't writeable|enableOfflineQueue|Redis connection timeout|connect ETIMEDOUT|LOADING/i.test(String(e.message));
}
