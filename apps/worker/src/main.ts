// The worker process: config, Redis, blob store, one BullMQ worker; graceful stop on SIGTERM/SIGINT.
import { utimes, writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import {
  assertRedisReachable,
  checkRedisDurability,
  createRedis,
  DatasetStore,
  EventLog,
  createBlobStore,
  JobStore,
  loadConfig,
  QUEUE_NAME,
  redactUrl,
} from '@unroll/store';
import { createTrainingWorker } from './worker.ts';

const HEARTBEAT_MS = 5_000;

/** TEST ONLY: UNROLL_TEST_CRASH_AT_EPOCH=n makes this process SIGKILL itself after publishing epoch n (fault suites). */
function testCrashAtEpoch(): number | undefined {
  const raw = process.env.UNROLL_TEST_CRASH_AT_EPOCH;
  if (!raw) return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`UNROLL_TEST_CRASH_AT_EPOCH must be a positive integer, got ${raw}`);
  return n;
}

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const logger = pino({ level: config.LOG_LEVEL, base: { service: 'worker', pid: process.pid } });

  try {
    await assertRedisReachable(config.REDIS_URL);
  } catch (err) {
    logger.fatal((err as Error).message);
    process.exitCode = 1;
    return;
  }

  const storeRedis = createRedis(config.REDIS_URL, 'worker');
  const queueRedis = createRedis(config.REDIS_URL, 'blocking');
  let lastRedisWarning = 0;
  for (const r of [storeRedis, queueRedis]) {
    r.on('error', (err) => {
      // ioredis reports every failed reconnect; one line per 5 s is enough.
      if (Date.now() - lastRedisWarning < 5000) return;
      lastRedisWarning = Date.now();
      logger.warn({ err: err.message }, 'redis connection error (reconnecting)');
    });
  }
  const durability = await checkRedisDurability(storeRedis);
  if (!durability.durable) {
    if (config.REQUIRE_DURABLE_REDIS) {
      logger.fatal(durability.problem);
      process.exit(1);
    }
    logger.warn(durability.problem);
  }
  const storeOptions = { eventRetention: config.EVENT_RETENTION, jobRetentionSeconds: config.JOB_RETENTION };

  const training = createTrainingWorker(
    {
      concurrency: config.WORKER_CONCURRENCY,
      lockDurationMs: config.LOCK_DURATION_MS,
      progressIntervalMs: config.PROGRESS_INTERVAL_MS,
      memoryBudgetBytes: config.WORKER_MEMORY_BUDGET_BYTES,
      // A job runs at most JOB_ATTEMPTS times, crashes included: BullMQ re-runs a stalled job
      // maxStalledCount times before failing it.
      maxStalledCount: config.JOB_ATTEMPTS - 1,
      redisOutageToleranceMs: config.REDIS_OUTAGE_TOLERANCE_MS,
      reconcileIntervalMs: config.RECONCILE_INTERVAL_MS,
      reconcileGraceMs: config.RECONCILE_GRACE_MS,
      testCrashAtEpoch: testCrashAtEpoch(),
    },
    {
      connection: queueRedis,
      jobs: new JobStore(storeRedis, storeOptions),
      events: new EventLog(storeRedis, storeOptions),
      datasets: new DatasetStore(storeRedis),
      blobs: createBlobStore(config), // DATA_DIR/blobs, shared with the API
      logger,
    },
  );
  await training.worker.waitUntilReady();
  logger.info(
    { queue: QUEUE_NAME, concurrency: config.WORKER_CONCURRENCY, redis: redactUrl(config.REDIS_URL), dataDir: config.DATA_DIR },
    'worker ready',
  );

  // Liveness for container healthchecks: proves this event loop still turns.
  const heartbeatFile = process.env.WORKER_HEARTBEAT_FILE;
  const heartbeat = heartbeatFile
    ? setInterval(() => {
        const now = new Date();
        utimes(heartbeatFile, now, now).catch(() => writeFile(heartbeatFile, '').catch(() => {}));
      }, HEARTBEAT_MS)
    : null;
  if (heartbeatFile) await writeFile(heartbeatFile, '').catch(() => {});

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'stopping: running jobs checkpoint and go back to the queue');
    if (heartbeat) clearInterval(heartbeat);
    await training.close(config.WORKER_SHUTDOWN_TIMEOUT_MS);
    // quit() waits for Redis; while it is unreachable that would be forever.
    await Promise.race([Promise.allSettled([storeRedis.quit(), queueRedis.quit()]), new Promise((r) => setTimeout(r, 1000))]);
    storeRedis.disconnect();
    queueRedis.disconnect();
    logger.info('worker stopped');
    process.exit(0);
  };
  process.on('SIGTERM', (s) => void stop(s));
  process.on('SIGINT', (s) => void stop(s));
}

main().catch((err: unknown) => {
  process.stderr.write(`worker failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
