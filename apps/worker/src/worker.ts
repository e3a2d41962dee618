// The BullMQ Worker on `unroll-train`: N concurrent attempts per process, any number of
// processes on any number of machines (all state is in Redis and the blob store).
import { availableParallelism } from 'node:os';
import { Queue, Worker, type Job as QueueJob } from 'bullmq';
import type { Redis } from 'ioredis';
import { QUEUE_NAME, QUEUE_PREFIX } from '@unroll/store';
import { processTrainingJob, type AttemptOutcome, type ProcessorDeps, type TrainQueueData } from './processor.ts';
import { Reconciler } from './reconciler.ts';

export interface TrainingWorkerConfig {
  concurrency: number;
  /** BullMQ lock: a worker that stops renewing it for this long is considered stalled. */
  lockDurationMs: number;
  progressIntervalMs: number;
  /** Default 250 ms. */
  cancelPollMs?: number;
  /** WORKER_MEMORY_BUDGET_BYTES: memory one job may take (default 2 GiB). */
  memoryBudgetBytes?: number;
  /** See ProcessorOptions.redisOutageToleranceMs. */
  redisOutageToleranceMs?: number;
  /** TEST ONLY: see ProcessorOptions.testCrashAtEpoch. */
  testCrashAtEpoch?: number;
  /** How many times a stalled (crashed) attempt is re-run before the job fails. */
  maxStalledCount?: number;
  /** Defaults: QUEUE_NAME / QUEUE_PREFIX. Tests use a unique queue name each. */
  queueName?: string;
  prefix?: string;
  /** Reconciler pass interval (default 60 s) and grace (default 60 s); see reconciler.ts. */
  reconcileIntervalMs?: number;
  reconcileGraceMs?: number;
}

export interface TrainingWorkerDeps extends ProcessorDeps {
  /** BullMQ connection (createRedis(url, 'blocking'): maxRetriesPerRequest null). Not closed by close(). */
  connection: Redis;
}

export interface TrainingWorker {
  readonly worker: Worker<TrainQueueData, AttemptOutcome>;
  readonly reconciler: Reconciler;
  /**
   * Graceful stop: running attempts checkpoint at their next batch boundary and put their jobs
   * back in the queue; then worker.close(). After `timeoutMs` the close is forced.
   */
  close(timeoutMs?: number): Promise<void>;
}

export const STALLED_MESSAGE = /stalled more than allowable limit/i;

export function createTrainingWorker(config: TrainingWorkerConfig, deps: TrainingWorkerDeps): TrainingWorker {
  const shutdown = new AbortController();
  const log = deps.logger;
  const worker = new Worker<TrainQueueData, AttemptOutcome>(
    config.queueName ?? QUEUE_NAME,
    (job: QueueJob<TrainQueueData>, token?: string) =>
      processTrainingJob(
        job,
        token,
        deps,
        {
          progressIntervalMs: config.progressIntervalMs,
          // jobs running at once share the cores instead of each taking helper threads on all of them
          coresPerJob: Math.max(1, Math.floor(availableParallelism() / config.concurrency)),
          cancelPollMs: config.cancelPollMs ?? 250,
          memoryBudgetBytes: config.memoryBudgetBytes,
          redisOutageToleranceMs: config.redisOutageToleranceMs,
          testCrashAtEpoch: config.testCrashAtEpoch,
        },
        shutdown.signal,
      ),
    {
      connection: deps.connection,
      prefix: config.prefix ?? QUEUE_PREFIX,
      concurrency: config.concurrency,
      lockDuration: config.lockDurationMs,
      stalledInterval: config.lockDurationMs,
      maxStalledCount: config.maxStalledCount ?? 2,
    },
  );

  worker.on('error', (err) => log.error({ err }, 'worker error'));
  worker.on('failed', (job, err) => {
    if (!job) return;
    log.warn({ jobId: job.id, err: err.message }, 'queue job failed');
    // A stale attempt's rejection: a newer attempt owns the job and ends it (or the reconciler does).
    if (job.id && err.name !== 'StaleFenceError') void settleIfQueueGaveUp(job, err.message);
  });

  // Defence in depth: an attempt ends its job itself, but when BullMQ gives up on a job whose
  // record is still queued/running (workers kept dying, or the attempt's own transition could not
  // be written), the record must not stay that way. The reconciler catches what this misses.
  async function settleIfQueueGaveUp(job: QueueJob<TrainQueueData>, reason: string): Promise<void> {
    try {
      if ((await job.getState()) !== 'failed') return; // retried: the next attempt ends it
      const record = await deps.jobs.get(job.id!);
      if (!record || record.status === 'succeeded' || record.status === 'failed' || record.status === 'cancelled') return;
      const error = STALLED_MESSAGE.test(reason)
        ? { code: 'worker_lost', message: `the job's worker died or stopped responding too many times; not retried again (${reason})` }
        : { code: 'training_failed', message: `the last attempt ended without settling the job: ${reason}` };
      await deps.jobs.transition(job.id!, 'failed', { error, event: { type: 'failed', ...error } });
      log.warn({ jobId: job.id, code: error.code }, 'job failed: the queue gave up on it');
    } catch (err) {
      log.error({ err, jobId: job.id }, 'could not settle a job the queue gave up on (the reconciler retries)');
    }
  }

  const reconcilerQueue = new Queue(config.queueName ?? QUEUE_NAME, { connection: deps.jobs.redis, prefix: config.prefix ?? QUEUE_PREFIX });
  reconcilerQueue.on('error', () => {});
  const reconciler = new Reconciler(
    { redis: deps.jobs.redis, jobs: deps.jobs, queue: reconcilerQueue, logger: log.child({ component: 'reconciler' }) },
    { intervalMs: config.reconcileIntervalMs ?? 60_000, graceMs: config.reconcileGraceMs ?? 60_000 },
  );
  reconciler.start();

  let closing: Promise<void> | null = null;
  return {
    worker,
    reconciler,
    close(timeoutMs = 30_000) {
      closing ??= (async () => {
        shutdown.abort();
        await raceTimeout(reconciler.close(), 1000);
        const result = await raceTimeout(worker.close(), timeoutMs);
        if (result === 'timeout') {
          // BullMQ memoizes close(): close(true) would return the same pending promise. Cut the
          // connections instead (Redis may be unreachable); the jobs resume from their checkpoints.
          log.warn({ timeoutMs }, 'jobs did not stop in time; forcing the worker closed (they resume from their last checkpoint)');
          await raceTimeout(worker.disconnect(), 1000);
        }
        // The queue shares the store connection (not closed here).
        await raceTimeout(reconcilerQueue.close(), 1000);
      })();
      return closing;
    },
  };
}

/** Resolves with the promise's outcome, or 'timeout' after `ms` (a rejection counts as settled). */
async function raceTimeout(promise: Promise<unknown>, ms: number): Promise<'done' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), ms)));
  try {
    return await Promise.race([promise.then(() => 'done' as const, () => 'done' as const), timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
