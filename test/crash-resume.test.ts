// A worker process dies mid-training (SIGKILL: no graceful stop). BullMQ sees the job stall, a
// second worker process picks it up, resumes from the last epoch checkpoint, and the client still
// sees every epoch exactly once — and the same weights as an uninterrupted run.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { JobSpec, type EventMessage, type JobEvent } from '@unroll/protocol';
import { createDefaultKernels, parseTextCorpus, RnnModel, splitForValidation, Trainer } from '@unroll/rnn';
import { startService, type Service } from './support/service.ts';

// The worker helper's own mapping; the test must train exactly what the worker trains.
import { datasetShape, toTrainSpec } from '../apps/worker/src/train-spec.ts';

const CORPUS = 'the quick brown fox jumps over the lazy dog. '.repeat(240);
const EPOCHS = 20;

let service: Service;

beforeAll(async () => {
  // Short locks so the stall is noticed within about a second.
  service = await startService({ env: { LOCK_DURATION_MS: '1000', JOB_ATTEMPTS: '3' } });
});
afterAll(async () => {
  await service?.stop();
});

async function events(jobId: string): Promise<JobEvent[]> {
  const res = await service.request(`/v1/jobs/${jobId}/events?limit=1000`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { items: EventMessage[] }).items.map((m) => m.event);
}

describe('a worker crash', () => {
  it('is survived: the job stalls, another worker resumes it from its checkpoint, epochs arrive once', async () => {
    onTestFailed(() => console.error(service.group.logs()));
    const first = await service.startWorker('doomed-worker');

    const upload = await service.request('/v1/datasets', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: CORPUS });
    expect(upload.status).toBe(201);
    const { id: datasetId } = (await upload.json()) as { id: string };
    const body = {
      datasetId,
      task: 'lm',
      model: { hiddenSize: 8 },
      training: { epochs: EPOCHS, batchSize: 4, bptt: { mode: 'truncated', k1: 8, k2: 8 }, optimizer: { name: 'adam', lr: 0.01 }, seed: 3 },
    };
    const created = await service.request('/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(created.status).toBe(202);
    const { id: jobId } = (await created.json()) as { id: string };

    const epochsOf = (list: JobEvent[]) => list.flatMap((e) => (e.type === 'epoch' ? [e.epoch] : []));
    await expect.poll(async () => epochsOf(await events(jobId)).length, { timeout: 30_000, interval: 50 }).toBeGreaterThanOrEqual(2);
    first.child.kill('SIGKILL');
    await first.exited;
    const doneBeforeCrash = epochsOf(await events(jobId)).length;
    expect(doneBeforeCrash).toBeLessThan(EPOCHS);

    const second = await service.startWorker('rescuer');
    await expect
      .poll(async () => ((await (await service.request(`/v1/jobs/${jobId}`)).json()) as { status: string }).status, { timeout: 45_000, interval: 100 })
      .toBe('succeeded');
    await second.waitForLine(/resuming from checkpoint/, 1_000);

    const all = await events(jobId);
    expect(epochsOf(all)).toEqual(Array.from({ length: EPOCHS }, (_, i) => i + 1));
    expect(all.flatMap((e) => (e.type === 'status' ? [e.status] : []))).toEqual(['queued', 'running', 'queued', 'running', 'succeeded']);

    // Bitwise the same weights as training without the crash.
    const spec = JobSpec.parse(body);
    const full = parseTextCorpus(CORPUS);
    const { train, validation } = splitForValidation(full, spec.training.validationSplit);
    // the worker's default backend (WASM SIMD unless UNROLL_BACKEND=js): the same arithmetic
    const kernels = await createDefaultKernels();
    const reference = Trainer.create(toTrainSpec(spec, datasetShape(full)), train, { validation, kernels });
    for (let e = 0; e < EPOCHS; e++) reference.runEpoch();
    const weights = await service.request(`/v1/jobs/${jobId}/weights`);
    const model = RnnModel.fromSafetensors(new Uint8Array(await weights.arrayBuffer()));
    expect(Array.from(model.params)).toEqual(Array.from(reference.params));
  });
});
