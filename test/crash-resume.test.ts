// A worker process dies mid-training (SIGKILL: no graceful stop). BullMQ sees the job stall, a
// second worker process picks it up, resumes from the last epoch checkpoint, and the client still
// sees every epoch exactly once — and the same weights as an uninterrupted run.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { JobSpec } from '@unroll/protocol';
import { createDefaultKernels, parseTextCorpus, RnnModel, splitForValidation, Trainer } from '@unroll/rnn';
import { CORPUS } from './support/corpora.ts';
import { downloadWeights, epochsOf, lmJobBody, statusesOf } from './support/jobs.ts';
import { startService, type Service } from './support/service.ts';

// The worker helper's own mapping; the test must train exactly what the worker trains.
import { datasetShape, toTrainSpec } from '../apps/worker/src/train-spec.ts';

const EPOCHS = 20;

let service: Service;

beforeAll(async () => {
  // Short locks so the stall is noticed within about a second.
  service = await startService({ env: { LOCK_DURATION_MS: '1000', JOB_ATTEMPTS: '3' } });
});
afterAll(async () => {
  await service?.stop();
});

describe('a worker crash', () => {
  it('is survived: the job stalls, another worker resumes it from its checkpoint, epochs arrive once', async () => {
    onTestFailed(() => console.error(service.group.logs()));
    const first = await service.startWorker('doomed-worker');

    const datasetId = await service.uploadCorpus(CORPUS);
    const body = lmJobBody(datasetId, { epochs: EPOCHS });
    const jobId = await service.createJob(body);

    await expect.poll(async () => epochsOf(await service.events(jobId)).length, { timeout: 30_000, interval: 50 }).toBeGreaterThanOrEqual(2);
    first.child.kill('SIGKILL');
    await first.exited;
    const doneBeforeCrash = epochsOf(await service.events(jobId)).length;
    expect(doneBeforeCrash).toBeLessThan(EPOCHS);

    const second = await service.startWorker('rescuer');
    await expect.poll(async () => (await service.job(jobId)).status, { timeout: 45_000, interval: 100 }).toBe('succeeded');
    await second.waitForLine(/resuming from checkpoint/, 1_000);

    const all = await service.events(jobId);
    expect(epochsOf(all)).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
    expect(statusesOf(all)).toEqual(['queued', 'running', 'queued', 'running', 'succeeded']);

    // Bitwise the same weights as training without the crash.
    const spec = JobSpec.parse(body);
    const full = parseTextCorpus(CORPUS);
    const { train, validation } = splitForValidation(full, spec.training.validationSplit);
    // the worker's default backend (WASM SIMD unless UNROLL_BACKEND=js): the same arithmetic
    const kernels = await createDefaultKernels();
    const reference = Trainer.create(toTrainSpec(spec, datasetShape(full)), train, { validation, kernels });
    for (let e = 0; e < EPOCHS; e++) reference.runEpoch();
    const model = RnnModel.fromSafetensors(await downloadWeights(service, jobId));
    expect(Array.from(model.params)).toEqual(Array.from(reference.params));
  });
});
