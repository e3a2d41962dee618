// The reconciler on a real Redis and a real BullMQ queue: orphaned records are settled once, live
// queue entries and fresh records are left alone, and two reconcilers never both act (the lock).
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Reconciler, RECONCILER_LOCK_KEY } from '../src/reconciler.ts';
import { createHarness, tinyLmRequest, type Harness } from './harness.ts';

describe('Reconciler', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(async () => {
    await h.teardown();
  });

  const reconciler = (graceMs = 0) =>
    new Reconciler({ redis: h.store, jobs: h.jobs, queue: h.queue, logger: pino({ level: 'silent' }) }, { intervalMs: 60_000, graceMs });

  /** A job whose record reads running while its queue entry is gone (its worker died after BullMQ dropped it). */
  async function orphan(): Promise<string> {
    const record = await h.createJob(await h.addTextDataset(), tinyLmRequest());
    const fence = await h.jobs.claimAttempt(record.id);
    await h.jobs.transition(record.id, 'running', { fence });
    await h.queue.remove(record.id);
    return record.id;
  }

  it('settles an orphan once, even with two reconcilers at once; leaves a live queue entry alone', async () => {
    const lost = await orphan();
    const live = (await h.createJob(await h.addTextDataset(), tinyLmRequest())).id;
    const [a, b] = [reconciler(), reconciler()];
    const settled = await Promise.all([a.runOnce(), b.runOnce()]);
    expect(settled[0] + settled[1]).toBe(1);
    expect((await h.jobs.get(lost))!).toMatchObject({ status: 'failed', error: { code: 'worker_lost' } });
    expect((await h.jobs.get(live))!.status).toBe('queued');
    expect(await h.store.sismember('unroll:tenant:acme:active-jobs', lost)).toBe(0);
    expect(await h.store.exists(RECONCILER_LOCK_KEY)).toBe(0); // released after the pass
    await Promise.all([a.close(), b.close(), a.close()]);
  });

  it('skips while another worker holds the lock, and within the grace period', async () => {
    const lost = await orphan();
    await h.store.set(RECONCILER_LOCK_KEY, 'another-worker', 'PX', 10_000);
    expect(await reconciler().runOnce()).toBe(0);
    await h.store.del(RECONCILER_LOCK_KEY);
    expect(await reconciler(60_000).runOnce()).toBe(0);
    expect((await h.jobs.get(lost))!.status).toBe('running');
    expect(await reconciler().runOnce()).toBe(1);
  });

  it('settles a record whose queue entry failed with the queue\'s reason', async () => {
    const record = await h.createJob(await h.addTextDataset(), tinyLmRequest(), 1);
    const fence = await h.jobs.claimAttempt(record.id);
    await h.jobs.transition(record.id, 'running', { fence });
    const queueJob = (await h.queue.getJob(record.id))!;
    // Fail the entry the way a worker does (take it, then moveToFailed with its lock token).
    const { Worker } = await import('bullmq');
    const worker = new Worker(h.queueName, null, { connection: h.queue.opts.connection as never, prefix: 'unroll:bull', autorun: false });
    const taken = await worker.getNextJob('tok');
    expect(taken?.id).toBe(queueJob.id);
    await taken!.moveToFailed(new Error('ENOSPC: disk full'), 'tok');
    await worker.close();
    expect(await reconciler().runOnce()).toBe(1);
    const failed = (await h.jobs.get(record.id))!;
    expect(failed.error?.code).toBe('training_failed');
    expect(failed.error?.message).toMatch(/ENOSPC: disk full/);
  });
});
