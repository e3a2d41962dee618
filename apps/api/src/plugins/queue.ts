import fp from 'fastify-plugin';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { QueuePlace } from '@unroll/protocol';
import { createRedis, QUEUE_NAME, QUEUE_PREFIX, type TrainJobData } from '@unroll/store';
import { withRedisDeadline } from '../errors.ts';

declare module 'fastify' {
  interface FastifyInstance {
    queue: TrainQueue;
  }
}

/** The BullMQ producer side: enqueue a training job, remove a queued one. */
export class TrainQueue {
  constructor(
    readonly queue: Queue<TrainJobData>,
    private readonly attempts: number,
    /** The queue's own connection, for reads BullMQ has no call for (a job's place in the wait list). */
    private readonly connection: Redis,
  ) {}

  /** BullMQ job id = Unroll job id, so a duplicate add is a no-op. */
  async enqueue(jobId: string): Promise<void> {
    await withRedisDeadline(
      this.queue.add('train', { jobId }, { jobId, attempts: this.attempts, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: 1000, removeOnFail: 5000 }),
    );
  }

  /** Removes a waiting job; false when a worker already holds it (its lock blocks removal). */
  async remove(jobId: string): Promise<boolean> {
    return (await withRedisDeadline(this.queue.remove(jobId))) === 1;
  }

  /** Worker processes connected to the queue (BullMQ names their connections). */
  async liveWorkers(): Promise<number> {
    return withRedisDeadline(this.queue.getWorkersCount());
  }

  /**
   * Where a job stands in the queue. Workers take from the tail of BullMQ's wait list
   * (RPOPLPUSH), so the position counts from there; 1 is next.
   */
  async placeOf(jobId: string): Promise<QueuePlace> {
    const waitKey = this.queue.toKey('wait');
    const [index, length, liveWorkers] = await withRedisDeadline(
      Promise.all([this.connection.lpos(waitKey, jobId), this.connection.llen(waitKey), this.queue.getWorkersCount()]),
    );
    if (index !== null) return { state: 'waiting', position: length - index, liveWorkers };
    const state = await withRedisDeadline(this.queue.getJobState(jobId));
    return { state: state === 'delayed' || state === 'active' ? state : 'unknown', position: null, liveWorkers };
  }

  /**
   * Whether a live worker holds the job: BullMQ keeps `<job>:lock` only while the worker running it
   * renews it (LOCK_DURATION_MS), so a dead worker's job, or one BullMQ failed or dropped, has none.
   */
  async heldByWorker(jobId: string): Promise<boolean> {
    return (await withRedisDeadline(this.connection.exists(this.queue.toKey(`${jobId}:lock`)))) === 1;
  }

  /** Queue usable: its connection answers. */
  async ping(timeoutMs: number): Promise<void> {
    await withRedisDeadline(this.queue.waitUntilReady(), timeoutMs);
    await withRedisDeadline(this.queue.count(), timeoutMs);
  }
}

export default fp(
  async (app) => {
    const connection = createRedis(app.config.REDIS_URL, 'queue');
    connection.on('error', () => {}); // reported by the command connection and /readyz
    const queue = new Queue<TrainJobData>(QUEUE_NAME, { connection, prefix: QUEUE_PREFIX });
    queue.on('error', () => {});
    app.decorate('queue', new TrainQueue(queue, app.config.JOB_ATTEMPTS, connection));
    app.addHook('onClose', async () => {
      await Promise.race([queue.close().catch(() => {}), new Promise((r) => setTimeout(r, 1000))]);
      connection.disconnect();
    });
  },
  { name: 'queue', dependencies: ['config', 'redis'] },
);
