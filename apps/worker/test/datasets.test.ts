// The worker trains every dataset kind the API accepts, and reports bad data without retrying.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RnnModel } from '@unroll/rnn';
import { blobKeys } from '@unroll/store';
import { createHarness, type Harness } from './harness.ts';

const training = { epochs: 2, batchSize: 4, bptt: { mode: 'truncated' as const, k1: 6, k2: 6 }, optimizer: { name: 'adam' as const, lr: 0.01 }, validationSplit: 0.2 };

describe('dataset kinds', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await createHarness();
    h.startWorker({ concurrency: 2 });
  });
  afterAll(async () => {
    await h.teardown();
  });

  async function finalModel(jobId: string): Promise<RnnModel> {
    const bytes = await h.blobs.get(blobKeys.finalWeights(jobId));
    expect(bytes).not.toBeNull();
    return RnnModel.fromSafetensors(new Uint8Array(bytes!));
  }

  it('trains a CSV series forecaster (regression) with the upload\'s CSV options', async () => {
    const rows = ['t,sin,cos', ...Array.from({ length: 120 }, (_, i) => `${i},${Math.sin(i / 5).toFixed(4)},${Math.cos(i / 5).toFixed(4)}`)];
    const id = await h.addDataset('csv', rows.join('\n'), { targetColumns: ['sin'], horizon: 2, normalize: true });
    const job = await h.createJob(id, { task: 'regression', model: { hiddenSize: 6 }, training });
    const done = await h.waitForStatus(job.id, ['succeeded', 'failed', 'cancelled']);
    expect(done.error).toBeNull();
    const model = await finalModel(job.id);
    expect(model.task).toBe('regression');
    expect(model.spec).toMatchObject({ inputKind: 'vectors', inputSize: 3, outputSize: 1 });
  });

  it('trains a JSON sequence classifier', async () => {
    const sequences = Array.from({ length: 20 }, (_, i) => ({ inputs: [[i % 2], [(i + 1) % 2], [i % 3]], targets: i % 2 }));
    const id = await h.addDataset('json', JSON.stringify({ task: 'classification', targetMode: 'many-to-one', sequences }));
    const job = await h.createJob(id, { task: 'classification', model: { hiddenSize: 4 }, training: { ...training, bptt: { mode: 'full' } } });
    const done = await h.waitForStatus(job.id, ['succeeded', 'failed', 'cancelled']);
    expect(done.error).toBeNull();
    const model = await finalModel(job.id);
    expect(model.spec).toMatchObject({ inputKind: 'vectors', inputSize: 1, outputSize: 2 });
  });

  it('fails a job whose dataset does not parse with invalid_dataset and its line, without retrying', async () => {
    const id = await h.addDataset('csv', 'a,b\n1,2\n3,oops\n4,5\n');
    const job = await h.createJob(id, { task: 'regression', model: { hiddenSize: 4 }, training });
    const done = await h.waitForStatus(job.id, ['succeeded', 'failed', 'cancelled']);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('invalid_dataset');
    expect(done.error?.message).toMatch(/line 3/);
    await expectQueueJobFailed(h, job.id);
  });

  it('fails a text job whose bytes are not UTF-8 with invalid_dataset and its line and column, without retrying', async () => {
    const id = await h.addDataset('text', Buffer.concat([Buffer.from('abcabc\nab', 'utf8'), Buffer.from([0xff]), Buffer.from('cabc', 'utf8')]));
    const job = await h.createJob(id, { task: 'lm', model: { hiddenSize: 4 }, training });
    const done = await h.waitForStatus(job.id, ['succeeded', 'failed', 'cancelled']);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('invalid_dataset');
    expect(done.error?.message).toMatch(/line 2, column 3: invalid UTF-8/);
    await expectQueueJobFailed(h, job.id);
  });

  it('runs WORKER_CONCURRENCY jobs at once in one process', async () => {
    const id = await h.addTextDataset('abcdefghij'.repeat(400));
    const long = { task: 'lm' as const, model: { hiddenSize: 8 }, training: { ...training, epochs: 1000 } };
    const jobs = await Promise.all([h.createJob(id, long), h.createJob(id, long)]);
    await Promise.all(jobs.map((j) => h.waitForStatus(j.id, ['running'])));
    // Both running in the same worker at the same time.
    expect((await Promise.all(jobs.map((j) => h.jobs.get(j.id)))).map((r) => r!.status)).toEqual(['running', 'running']);
    await Promise.all(jobs.map((j) => h.jobs.requestCancel(j.id)));
    for (const j of jobs) expect((await h.waitForStatus(j.id, ['succeeded', 'failed', 'cancelled'])).status).toBe('cancelled');
  });
});

/** BullMQ moves a job to its failed set (attemptsMade 1) only after the processor rejects, which is
 * after the job record already says `failed`: poll for it instead of racing it. */
async function expectQueueJobFailed(h: Harness, jobId: string): Promise<void> {
  await expect.poll(async () => (await h.queue.getJob(jobId))!.getState(), { timeout: 10_000 }).toBe('failed');
  expect((await h.queue.getJob(jobId))!.attemptsMade).toBe(1);
}
