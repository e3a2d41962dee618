// Settles job records that no attempt will ever end: queued or running in Redis, while their BullMQ
// entry is gone, failed or completed (a worker died between BullMQ giving up and the record's
// transition, Redis lost a write, an entry was removed by hand). Runs at worker start and then
// periodically; a Redis lock (SET NX PX) makes sure only one worker reconciles at a time.
import { randomBytes } from 'node:crypto';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { isTerminal, type JobError } from '@unroll/protocol';
import { KEY_PREFIX, StaleFenceError, IllegalTransitionError, type JobStore, type JobRecord } from '@unroll/store';

export const RECONCILER_LOCK_KEY = `${KEY_PREFIX}reconciler:lock`;
const ACTIVE_SETS = `${KEY_PREFIX}tenant:*:active-jobs`;

// Releases the lock only while it is still ours (it may have expired and been taken meanwhile).
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export interface ReconcilerOptions {
  intervalMs: number;
  /** A record updated more recently than this is left alone (the API may be enqueueing it right now). */
  graceMs: number;
}

export interface ReconcilerDeps {
  redis: Redis;
  jobs: JobStore;
  queue: Queue;
  logger: Logger;
}

export class Reconciler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<number> | null = null;
  private closed = false;

  constructor(
    private readonly deps: ReconcilerDeps,
    private readonly options: ReconcilerOptions,
  ) {}

  /** First pass now, then one per interval. */
  start(): void {
    if (this.closed || this.timer) return;
    void this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.options.intervalMs);
    this.timer.unref();
  }

  /** One pass (skipped while another worker holds the lock, or a pass is still running here); resolves with the jobs settled. */
  runOnce(): Promise<number> {
    this.running ??= this.pass()
      .catch((err: unknown) => {
        this.deps.logger.warn({ err: (err as Error).message }, 'reconciler pass failed; retried at the next interval');
        return 0;
      })
      .finally(() => (this.running = null));
    return this.running;
  }

  /** Idempotent: stops the timer and waits for a pass in flight. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running;
  }

  private async pass(): Promise<number> {
    const { redis } = this.deps;
    const token = randomBytes(8).toString('hex');
    // The lock outlives a pass comfortably; a worker that dies holding it frees it at expiry.
    const acquired = await redis.set(RECONCILER_LOCK_KEY, token, 'PX', Math.max(this.options.intervalMs * 2, 10_000), 'NX');
    if (acquired !== 'OK') return 0;
    try {
      let settled = 0;
      for (const id of await this.activeJobIds()) {
        if (this.closed) break;
        if (await this.settleIfOrphaned(id)) settled++;
      }
      return settled;
    } finally {
      await redis.eval(RELEASE, 1, RECONCILER_LOCK_KEY, token).catch(() => {});
    }
  }

  /** Ids in every tenant's active-jobs set (queued / running records). */
  private async activeJobIds(): Promise<string[]> {
    const ids = new Set<string>();
    let cursor = '0';
    do {
      const [next, found] = await this.deps.redis.scan(cursor, 'MATCH', ACTIVE_SETS, 'COUNT', 200);
      cursor = next;
      for (const key of found) for (const id of await this.deps.redis.smembers(key)) ids.add(id);
    } while (cursor !== '0');
    return [...ids];
  }

  private async settleIfOrphaned(id: string): Promise<boolean> {
    const record = await this.deps.jobs.get(id);
    if (!record || isTerminal(record.status)) return false;
    if (Date.now() - Date.parse(record.updatedAt) < this.options.graceMs) return false;
    const error = await this.orphanError(record);
    if (!error) return false;
    try {
      // Fenced at the fence we saw: an attempt that claims the job meanwhile wins, and we step back.
      await this.deps.jobs.transition(id, 'failed', { ...(record.fence > 0 ? { fence: record.fence } : {}), error, event: { type: 'failed', ...error }, reason: 'settled by the reconciler' });
    } catch (err) {
      if (err instanceof StaleFenceError || err instanceof IllegalTransitionError) return false;
      throw err;
    }
    this.deps.logger.warn({ jobId: id, was: record.status, error }, 'reconciler settled an orphaned job');
    return true;
  }

  /** Why no attempt will end this job, or null when its queue entry is alive. */
  private async orphanError(record: JobRecord): Promise<JobError | null> {
    const queueJob = await this.deps.queue.getJob(record.id);
    if (!queueJob) {
      return { code: 'worker_lost', message: `the job was ${record.status} but its queue entry is gone: no worker will run it (settled by the reconciler)` };
    }
    const state = await queueJob.getState();
    if (state === 'failed') {
      return { code: 'training_failed', message: `the queue gave up on the job: ${queueJob.failedReason || 'no reason recorded'} (settled by the reconciler)` };
    }
    if (state === 'completed') {
      return { code: 'worker_lost', message: `the job's queue entry completed but its record stayed ${record.status} (settled by the reconciler)` };
    }
    return null;
  }
}
