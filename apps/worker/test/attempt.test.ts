// TrainingAttempt on a real Redis: its ending is made once, whatever is called after it, and an
// error becomes a retry with its reason or, on the last attempt, a failure naming the cause.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Job as QueueJob } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { pino } from 'pino';
import { TrainingAttempt } from '../src/attempt.ts';
import { createHarness, tinyLmRequest, type Harness } from './harness.ts';

const statusesOf = (events: { type: string; status?: string }[]) => events.flatMap((e) => (e.type === 'status' ? [e.status] : []));

describe('TrainingAttempt', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(async () => {
    await h.teardown();
  });

  /** A running attempt of a fresh job, as attempt `attemptsMade + 1` of `attempts`. */
  async function runningAttempt(attemptsMade: number, attempts: number): Promise<{ attempt: TrainingAttempt; jobId: string }> {
    const record = await h.createJob(await h.addTextDataset(), tinyLmRequest(), attempts);
    const fence = await h.jobs.claimAttempt(record.id);
    await h.jobs.transition(record.id, 'running', { fence });
    const queueJob = { attemptsMade, opts: { attempts } } as unknown as QueueJob;
    const attempt = new TrainingAttempt({
      jobId: record.id,
      fence,
      record,
      queueJob,
      token: undefined,
      jobs: h.jobs,
      events: h.events,
      blobs: h.blobs,
      logger: pino({ level: 'silent' }),
      shutdown: new AbortController().signal,
      redisOutageToleranceMs: 0,
    });
    return { attempt, jobId: record.id };
  }

  it('begin: a running transition Redis already applied (reply lost, write re-sent) counts as done', async () => {
    const { attempt, jobId } = await runningAttempt(0, 2);
    // What processTrainingJob did before: the bare re-sent transition is refused and cost an attempt.
    const fence = (await h.jobs.get(jobId))!.fence;
    await expect(h.jobs.transition(jobId, 'running', { fence })).rejects.toThrow(/illegal transition running → running/);
    await expect(attempt.begin('queued')).resolves.toBeUndefined();
    expect((await h.jobs.get(jobId))!.status).toBe('running');
    expect(statusesOf(await h.readEvents(jobId))).toEqual(['queued', 'running']);
  });

  it('finishes once: a second ending, or an error after the ending, changes nothing', async () => {
    const { attempt, jobId } = await runningAttempt(0, 3);
    const first = await attempt.cancel();
    expect(await attempt.cancel()).toEqual(first);
    await expect(attempt.fail(new Error('late'))).rejects.toThrow('late');
    expect((await h.jobs.get(jobId))!.status).toBe('cancelled');
    expect(statusesOf(await h.readEvents(jobId))).toEqual(['queued', 'running', 'cancelled']);
  });

  it('a storage error before the last attempt is a retry with its reason; on the last one the job fails naming it', async () => {
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, write '/data/blobs/x'"), { code: 'ENOSPC', syscall: 'write' });
    const early = await runningAttempt(0, 2);
    await expect(early.attempt.fail(enospc)).rejects.not.toBeInstanceOf(UnrecoverableError);
    const requeued = (await h.jobs.get(early.jobId))!;
    expect(requeued.status).toBe('queued');
    expect(requeued.history.at(-1)?.reason).toBe('storage_failed: the blob store failed: ENOSPC: no space left on device (write)');

    const last = await runningAttempt(1, 2);
    await expect(last.attempt.fail(enospc)).rejects.toBeInstanceOf(UnrecoverableError);
    const failed = (await h.jobs.get(last.jobId))!;
    expect(failed.status).toBe('failed');
    expect(failed.error).toEqual({ code: 'storage_failed', message: 'the blob store failed: ENOSPC: no space left on device (write) (after 2 attempts)' });
  });

  it('a deterministic thread error fails at once, even on the first of several attempts', async () => {
    const { attempt, jobId } = await runningAttempt(0, 3);
    await expect(attempt.threadError({ code: 'non_finite_loss', message: 'loss became NaN at epoch 1 step 2', retryable: false, epoch: 1, step: 2 })).rejects.toBeInstanceOf(UnrecoverableError);
    expect((await h.jobs.get(jobId))!.error).toEqual({ code: 'non_finite_loss', message: 'loss became NaN at epoch 1 step 2' });
  });
});
