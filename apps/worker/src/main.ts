// The worker process: config, Redis, blob store, one BullMQ worker; graceful stop on SIGTERM/SIGINT.
import { utimes, writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import {
  assertRedisReachable,
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

/** How long running jobs get to checkpoint and return to the queue before the close is forced. */
const SHUTDOWN_TIMEOUT_MS = 30_000;
const HEARTBEAT_MS = 5_000;

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
  for (const r of [storeRedis, queueRedis]) r.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error (reconnecting)'));
  const storeOptions = { eventRetention: config.EVENT_RETENTION, jobRetentionSeconds: config.JOB_RETENTION };

  const training = createTrainingWorker(
    {
      concurrency: config.WORKER_CONCURRENCY,
      lockDurationMs: config.LOCK_DURATION_MS,
      progressIntervalMs: config.PROGRESS_INTERVAL_MS,
      maxStalledCount: config.JOB_ATTEMPTS,
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
    await training.close(SHUTDOWN_TIMEOUT_MS);
    await Promise.allSettled([storeRedis.quit(), queueRedis.quit()]);
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
