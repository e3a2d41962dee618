// `training.checkpoints.keep` (issue #11 item 8) on a real Redis, real BullMQ, a real training
// thread and a real blob store: the job keeps exactly the checkpoints its spec asks for.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCheckpoints } from '../src/checkpoints.ts';
import { createHarness, tinyLmRequest, type Harness } from './harness.ts';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
  h.startWorker();
});
afterAll(async () => h?.teardown());

describe('checkpoint retention', () => {
  it.each([
    ['all', [5, 4, 3, 2, 1]],
    [2, [5, 4]],
    [undefined, [5, 4, 3]], // the default, 3
  ] as const)('keep %s leaves epochs %j', async (keep, epochs) => {
    const datasetId = await h.addTextDataset();
    const request = tinyLmRequest({ epochs: 5 });
    const job = await h.createJob(datasetId, { ...request, training: { ...request.training, ...(keep === undefined ? {} : { checkpoints: { keep } }) } });
    const done = await h.waitForStatus(job.id, ['succeeded', 'failed', 'cancelled']);
    expect(done.status, JSON.stringify(done.error)).toBe('succeeded');
    expect((await listCheckpoints(h.blobs, job.id)).map((c) => c.epoch)).toEqual(epochs);
  });
});
