// Scenarios 1, 2 and 4 of issue #5 on real processes: a worker SIGKILLed at a random epoch while a
// second one runs, a poison job that kills every worker that runs it, and a graceful SIGTERM.
// Locks are 1 s (configuration) so stalls are noticed within about two seconds.
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { downloadWeights, epochsOf, lmJobBody, sha256, statusesOf, uninterruptedWeights } from '../support/jobs.ts';
import { firstToPrint } from '../support/processes.ts';
import { startService, type Service } from '../support/service.ts';

let service: Service;
let datasetId: string;

beforeAll(async () => {
  service = await startService({ env: { LOCK_DURATION_MS: '1000', JOB_ATTEMPTS: '2', WORKER_SHUTDOWN_TIMEOUT_MS: '10000' } });
  datasetId = await service.uploadCorpus();
});
afterEach(async () => {
  await service?.stopWorkers();
});
afterAll(async () => {
  await service?.stop();
});

/** The epoch named by the `resuming from checkpoint` log line (pino JSON) of `worker`. */
async function resumedEpoch(worker: { waitForLine(p: RegExp, ms?: number): Promise<RegExpMatchArray> }): Promise<number> {
  const line = (await worker.waitForLine(/resuming from checkpoint/, 5000)).input ?? '';
  return Number(/"epoch":(\d+)/.exec(line)?.[1] ?? -1);
}

describe('scenario 1: a worker killed (SIGKILL) at a random epoch while a second worker runs', () => {
  it('the other worker resumes from the last checkpoint; weights are bitwise those of an uninterrupted run; every epoch once', async () => {
    onTestFailed(() => console.error(service.group.logs()));
    const epochs = 20;
    const killAt = 2 + Math.floor(Math.random() * 10); // 2..11
    const a = await service.startWorker('s1-worker-a');
    const b = await service.startWorker('s1-worker-b');
    const body = lmJobBody(datasetId, { epochs });
    const jobId = await service.createJob(body);
    const trainer = await firstToPrint([a, b], new RegExp(`${jobId}.*training from scratch|training from scratch.*${jobId}`));
    const rescuer = trainer === a ? b : a;

    await expect.poll(async () => epochsOf(await service.events(jobId)).length, { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(killAt);
    trainer.child.kill('SIGKILL');
    await trainer.exited;
    const beforeCrash = epochsOf(await service.events(jobId)).length;
    expect(beforeCrash).toBeLessThan(epochs);

    const done = await service.waitForStatus(jobId, 'succeeded', 60_000);
    expect(done.attempt).toBe(2);
    const resumedAt = await resumedEpoch(rescuer);
    expect(resumedAt).toBeGreaterThan(0); // not from scratch
    expect(resumedAt).toBeGreaterThanOrEqual(beforeCrash - 1); // from the last checkpoint
    console.info(`[figures] scenario 1: killed after epoch ${beforeCrash} (target ${killAt}); resumed from epoch ${resumedAt}`);

    const history = await service.events(jobId);
    expect(epochsOf(history)).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));
    expect(statusesOf(history)).toEqual(['queued', 'running', 'queued', 'running', 'succeeded']);

    const served = await downloadWeights(service, jobId);
    expect(sha256(served)).toBe(sha256(await uninterruptedWeights(service, body)));
    await rescuer.stop();
  });
});

describe('scenario 2: a poison job that kills its worker every time', () => {
  it('ends failed with worker_lost after JOB_ATTEMPTS runs; nothing stays running', async () => {
    onTestFailed(() => console.error(service.group.logs()));
    // Test-only hook: the worker SIGKILLs itself after publishing epoch >= 1 of any job.
    const crashEnv = { UNROLL_TEST_CRASH_AT_EPOCH: '1' };
    const jobId = await service.createJob(lmJobBody(datasetId, { epochs: 10 }));
    const crashes: number[] = [];
    let status = (await service.job(jobId)).status;
    for (let i = 0; i < 6 && status !== 'failed'; i++) {
      const worker = await service.startWorker(`s2-worker-${i + 1}`, crashEnv);
      const outcome = await Promise.race([
        worker.exited.then((e) => ({ crashed: e.signal === 'SIGKILL' })),
        service.waitForStatus(jobId, 'failed', 20_000).then(() => ({ crashed: false })),
      ]);
      if (outcome.crashed) crashes.push(i + 1);
      status = (await service.job(jobId)).status;
      if (status === 'failed') await worker.stop();
    }
    const job = await service.waitForStatus(jobId, 'failed', 10_000);
    expect(job.error?.code).toBe('worker_lost');
    // JOB_ATTEMPTS = 2: the job runs twice, crashes included; the second crash fails it.
    expect(crashes.length).toBe(2);
    expect(job.attempt).toBe(2);
    const statuses = statusesOf(await service.events(jobId));
    expect(statuses.at(-1)).toBe('failed');
    // Nothing left running: BullMQ holds the job as failed, the record is terminal.
    const redis = service.inspect();
    expect(await redis.zscore('unroll:bull:unroll-train:failed', jobId)).not.toBeNull();
    expect(await redis.lrange('unroll:bull:unroll-train:active', 0, -1)).not.toContain(jobId);
    const running = (await (await service.request('/v1/jobs?status=running')).json()) as { items: unknown[] };
    expect(running.items).toEqual([]);
  });
});

describe('scenario 4: graceful stop (SIGTERM mid-epoch)', () => {
  it('checkpoints at the next batch, exits within the grace period, and the job resumes elsewhere bitwise identically', async () => {
    onTestFailed(() => console.error(service.group.logs()));
    const epochs = 12;
    const a = await service.startWorker('s4-worker-a');
    const b = await service.startWorker('s4-worker-b');
    // epochs long enough (H = 256: ≈ 0.1–0.2 s each here) that the training thread is still
    // inside the job when the signal lands; with a tiny model it finishes all of them while the
    // worker is still publishing the first few, and there is nothing left to stop
    const body = lmJobBody(datasetId, { epochs, seed: 11 }, { hiddenSize: 256 });
    const jobId = await service.createJob(body);
    const trainer = await firstToPrint([a, b], new RegExp(`${jobId}.*training from scratch|training from scratch.*${jobId}`));
    const other = trainer === a ? b : a;
    await expect.poll(async () => epochsOf(await service.events(jobId)).length, { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(3);

    const sentAt = Date.now();
    trainer.child.kill('SIGTERM');
    const line = await trainer.waitForLine(/checkpointed and returned the job to the queue/, 10_000);
    const exit = await trainer.exited;
    const exitMs = Date.now() - sentAt;
    expect(exit.code).toBe(0);
    expect(exitMs).toBeLessThan(10_000); // WORKER_SHUTDOWN_TIMEOUT_MS
    const stoppedAt = JSON.parse(line.input!.slice(line.input!.indexOf('{'))) as { epoch: number; step: number };
    const publishedAtStop = epochsOf(await service.events(jobId)).length;
    // Checkpointed within the epoch it was in: no completed epoch is lost.
    expect(stoppedAt.epoch).toBe(publishedAtStop);

    await service.waitForStatus(jobId, 'succeeded', 60_000);
    const resumed = await other.waitForLine(/resuming from checkpoint/, 5000);
    if (stoppedAt.step > 0) expect(resumed.input).toContain(`epoch-${stoppedAt.epoch}-step-${stoppedAt.step}.ckpt`);
    const history = await service.events(jobId);
    expect(epochsOf(history)).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));
    expect(sha256(await downloadWeights(service, jobId))).toBe(sha256(await uninterruptedWeights(service, body)));
    console.info(`[figures] scenario 4: SIGTERM → exit in ${exitMs} ms (stopped at epoch ${stoppedAt.epoch} step ${stoppedAt.step})`);
    await other.stop();
  });
});
