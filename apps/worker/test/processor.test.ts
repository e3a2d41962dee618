// One job attempt end to end on a real Redis (private redis-server), real BullMQ, a real
// training thread and a real blob store.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { JobSpec, type EpochEvent, type JobEvent } from '@unroll/protocol';
import { createDefaultKernels, parseTextCorpus, RnnModel, splitForValidation, Trainer } from '@unroll/rnn';
import { blobKeys } from '@unroll/store';
import { listCheckpoints } from '../src/checkpoints.ts';
import { epochEventBody } from '../src/epoch-event.ts';
import { toTrainSpec, datasetShape } from '../src/train-spec.ts';
import { CORPUS, createHarness, tinyLmRequest, type Harness } from './harness.ts';

// The worker trains on the default backend (WASM SIMD unless UNROLL_BACKEND=js); bitwise
// comparisons need the same arithmetic.
const kernels = await createDefaultKernels();

const epochsOf = (events: JobEvent[]) => events.filter((e): e is EpochEvent => e.type === 'epoch').map((e) => e.epoch);
const statusesOf = (events: JobEvent[]) => events.flatMap((e) => (e.type === 'status' ? [e.status] : []));

/** The same training run in this process, for bitwise comparisons with what the worker produced. */
function trainInProcess(request: ReturnType<typeof tinyLmRequest>, epochs: number, corpus = CORPUS): Trainer {
  const spec = JobSpec.parse({ datasetId: 'ds_abcdefgh12', ...request });
  const full = parseTextCorpus(corpus);
  const { train, validation } = splitForValidation(full, spec.training.validationSplit);
  const trainer = Trainer.create(toTrainSpec(spec, datasetShape(full)), train, { validation, kernels });
  for (let e = 0; e < epochs; e++) trainer.runEpoch();
  return trainer;
}

describe('training job processor', () => {
  let h: Harness;
  beforeEach(async () => {
    h = await createHarness();
  });
  afterEach(async () => {
    await h.teardown();
  });

  it('runs a tiny LM job to succeeded: one epoch event per epoch in order, a checkpoint per epoch, final weights', async () => {
    h.startWorker();
    const datasetId = await h.addTextDataset();
    const job = await h.createJob(datasetId, tinyLmRequest({ epochs: 3 }));
    const done = await h.waitForStatus(job.id, ['succeeded', 'failed', 'cancelled']);
    expect(done.error).toBeNull();
    expect(done.status).toBe('succeeded');

    const events = await h.readEvents(job.id);
    expect(epochsOf(events)).toEqual([1, 2, 3]);
    expect(statusesOf(events)).toEqual(['queued', 'running', 'succeeded']);
    expect(events.filter((e) => e.type === 'checkpoint').map((e) => (e as { epoch: number }).epoch)).toEqual([1, 2, 3]);
    // Every epoch event comes after its checkpoint was written, and carries the metrics.
    const first = events.find((e): e is EpochEvent => e.type === 'epoch')!;
    expect(first.trainLoss).toBeGreaterThan(0);
    expect(first.valLoss).toBeGreaterThan(0);
    expect(Object.keys(first.paramNorms)).toContain('rnn.weight_hh_l0');
    const completed = events.find((e) => e.type === 'completed');
    expect(completed).toMatchObject({ type: 'completed', bestEpoch: expect.any(Number), finalLoss: expect.any(Number) });
    expect(events.at(-1)).toMatchObject({ type: 'status', status: 'succeeded' });
    expect(done.lastEpoch).toBe(3);
    expect(done.metrics).toMatchObject({ epoch: 3 });

    for (const epoch of [1, 2, 3]) expect(await h.blobs.stat(blobKeys.checkpoint(job.id, epoch))).not.toBeNull();
    const weights = await h.blobs.get(blobKeys.finalWeights(job.id));
    expect(weights).not.toBeNull();
    const model = RnnModel.fromSafetensors(new Uint8Array(weights!));
    // Without early stopping the final weights are the last epoch's: bitwise equal to an in-process run.
    const reference = trainInProcess(tinyLmRequest({ epochs: 3 }), 3);
    expect(Array.from(model.params)).toEqual(Array.from(reference.params));
  });

  /** What a previous attempt left behind: epoch events 1..n in the stream, and the given checkpoints. */
  async function previousAttempt(jobId: string, request: ReturnType<typeof tinyLmRequest>, publishedEpochs: number): Promise<void> {
    const spec = JobSpec.parse({ datasetId: 'ds_abcdefgh12', ...request });
    const full = parseTextCorpus(CORPUS);
    const { train, validation } = splitForValidation(full, spec.training.validationSplit);
    const trainer = Trainer.create(toTrainSpec(spec, datasetShape(full)), train, { validation, kernels });
    for (let e = 1; e <= publishedEpochs; e++) {
      await h.events.append(jobId, { type: 'epoch', ...epochEventBody(trainer.runEpoch(), 0, false) } as JobEvent);
    }
  }

  it('resumes from the newest checkpoint that verifies, not from epoch 0', async () => {
    const request = tinyLmRequest({ epochs: 4 });
    const datasetId = await h.addTextDataset();
    const job = await h.createJob(datasetId, request);
    // A previous attempt published epochs 1-2 with a valid checkpoint, then wrote a corrupt epoch-3 checkpoint.
    await previousAttempt(job.id, request, 2);
    await h.blobs.put(blobKeys.checkpoint(job.id, 2), trainInProcess(request, 2).serialize());
    const corrupt = trainInProcess(request, 3).serialize();
    corrupt[corrupt.length >> 1] ^= 0xff;
    await h.blobs.put(blobKeys.checkpoint(job.id, 3), corrupt);

    h.startWorker();
    const done = await h.waitForStatus(job.id, ['succeeded', 'failed', 'cancelled']);
    expect(done.status).toBe('succeeded');
    expect(epochsOf(await h.readEvents(job.id))).toEqual([1, 2, 3, 4]);
    // The corrupt checkpoint was replaced by the re-run epoch 3's.
    const rerun = await h.blobs.get(blobKeys.checkpoint(job.id, 3));
    const { train } = splitForValidation(parseTextCorpus(CORPUS), 0.1);
    expect(Trainer.restore(new Uint8Array(rerun!), train).epoch).toBe(3); // verifies its checksum
    const model = RnnModel.fromSafetensors(new Uint8Array((await h.blobs.get(blobKeys.finalWeights(job.id)))!));
    // Resuming continues bitwise identically to an uninterrupted 4-epoch run.
    expect(Array.from(model.params)).toEqual(Array.from(trainInProcess(request, 4).params));
  });

  it('publishes the epoch of a checkpoint whose attempt died before announcing it (no gap)', async () => {
    const request = tinyLmRequest({ epochs: 4 });
    const datasetId = await h.addTextDataset();
    const job = await h.createJob(datasetId, request);
    // Epochs 1-2 published; the epoch-3 checkpoint was written, then the worker died before its event.
    await previousAttempt(job.id, request, 2);
    await h.blobs.put(blobKeys.checkpoint(job.id, 2), trainInProcess(request, 2).serialize());
    await h.blobs.put(blobKeys.checkpoint(job.id, 3), trainInProcess(request, 3).serialize());

    h.startWorker();
    const done = await h.waitForStatus(job.id, ['succeeded', 'failed', 'cancelled']);
    expect(done.status).toBe('succeeded');
    const events = await h.readEvents(job.id);
    expect(epochsOf(events)).toEqual([1, 2, 3, 4]);
    // Epoch 3's metrics come from the checkpoint: the same numbers an uninterrupted run reports.
    const reference = trainInProcess(request, 3).lastEpochMetrics!;
    expect(events.find((e): e is EpochEvent => e.type === 'epoch' && e.epoch === 3)!.trainLoss).toBe(reference.loss);
    const model = RnnModel.fromSafetensors(new Uint8Array((await h.blobs.get(blobKeys.finalWeights(job.id)))!));
    expect(Array.from(model.params)).toEqual(Array.from(trainInProcess(request, 4).params));
  });

  it('cancels mid-training: ends cancelled, not retried', async () => {
    h.startWorker();
    // long enough that an epoch outlasts the 50 ms progress interval on the WASM kernels too
    const datasetId = await h.addTextDataset(CORPUS.repeat(200));
    const job = await h.createJob(datasetId, tinyLmRequest({ epochs: 1000 }));
    await h.waitForStatus(job.id, ['running']);
    // Wait until it is really training (an epoch published), then cancel.
    for (let i = 0; i < 400 && epochsOf(await h.readEvents(job.id)).length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(await h.jobs.requestCancel(job.id)).toBe('running');
    const done = await h.waitForStatus(job.id, ['succeeded', 'failed', 'cancelled']);
    expect(done.status).toBe('cancelled');
    expect(done.lastEpoch).toBeLessThan(1000);
    const queueJob = await h.queue.getJob(job.id);
    await expect.poll(() => queueJob!.getState()).toBe('completed');
    expect((await h.queue.getJob(job.id))!.attemptsMade).toBeLessThanOrEqual(1);
    const events = await h.readEvents(job.id);
    expect(statusesOf(events)).toEqual(['queued', 'running', 'cancelled']);
    // Throttled progress within epochs (progressIntervalMs 50 here).
    const progress = events.filter((e) => e.type === 'progress');
    expect(progress.length).toBeGreaterThan(0);
    expect(progress[0]).toMatchObject({ epoch: expect.any(Number), step: expect.any(Number), stepsInEpoch: expect.any(Number), loss: expect.any(Number) });
    expect(done.progress).not.toBeNull();
  });

  it('fails a diverging job (huge lr, no clip) with non_finite_loss and does not retry it', async () => {
    h.startWorker();
    const datasetId = await h.addTextDataset();
    const job = await h.createJob(datasetId, {
      task: 'lm',
      model: { hiddenSize: 16, activation: 'relu', init: { scheme: 'identity', gain: 10 } },
      training: { epochs: 3, batchSize: 4, optimizer: { name: 'sgd', lr: 10 }, clip: { mode: 'none' }, reduction: 'sum', validationSplit: 0 },
    });
    const done = await h.waitForStatus(job.id, ['succeeded', 'failed', 'cancelled']);
    expect(done.status).toBe('failed');
    expect(done.error).toMatchObject({ code: 'non_finite_loss' });
    const events = await h.readEvents(job.id);
    const failed = events.find((e) => e.type === 'failed');
    expect(failed).toMatchObject({ type: 'failed', code: 'non_finite_loss', epoch: 1, step: expect.any(Number) });
    expect(statusesOf(events)).toEqual(['queued', 'running', 'failed']); // no retry
    // The job record turns `failed` inside the processor; BullMQ moves the queue job to its failed
    // set only after the processor rejects, so wait for that rather than race it.
    await expect.poll(async () => (await h.queue.getJob(job.id))!.getState(), { timeout: 10_000 }).toBe('failed');
    expect((await h.queue.getJob(job.id))!.attemptsMade).toBe(1);
  });

  it('on graceful shutdown checkpoints mid-epoch and requeues; another worker resumes and finishes identically', async () => {
    // Epochs long enough (≈ 10x the other tests') that the stop lands inside one, not on a boundary.
    const corpus = CORPUS.repeat(200);
    const request = tinyLmRequest({ epochs: 6 });
    const first = h.startWorker();
    const datasetId = await h.addTextDataset(corpus);
    const job = await h.createJob(datasetId, request);
    for (let i = 0; i < 800 && epochsOf(await h.readEvents(job.id)).length < 2; i++) await new Promise((r) => setTimeout(r, 25));
    await first.close(10_000);

    const requeued = await h.jobs.get(job.id);
    expect(requeued!.status).toBe('queued');
    expect(await (await h.queue.getJob(job.id))!.getState()).toBe('waiting');
    const interruptedAt = requeued!.lastEpoch;
    expect(interruptedAt).toBeLessThan(6);
    // The newest checkpoint is the mid-epoch one the stopping worker wrote at a batch boundary.
    const [newest] = await listCheckpoints(h.blobs, job.id);
    expect(newest).toMatchObject({ epoch: interruptedAt, step: expect.any(Number) });
    expect(newest.step).toBeGreaterThan(0);

    h.startWorker();
    const done = await h.waitForStatus(job.id, ['succeeded', 'failed', 'cancelled']);
    expect(done.status).toBe('succeeded');
    const events = await h.readEvents(job.id);
    expect(epochsOf(events)).toEqual(Array.from({ length: 6 }, (_, i) => i + 1));
    expect(statusesOf(events)).toEqual(['queued', 'running', 'queued', 'running', 'succeeded']);
    const model = RnnModel.fromSafetensors(new Uint8Array((await h.blobs.get(blobKeys.finalWeights(job.id)))!));
    expect(Array.from(model.params)).toEqual(Array.from(trainInProcess(request, 6, corpus).params));
  });

  it('early stopping on validation loss ends the job and delivers the best epoch\'s weights', async () => {
    h.startWorker();
    const datasetId = await h.addTextDataset();
    // minDelta so large that nothing after epoch 1 counts as an improvement: stop after 1 + patience epochs.
    const job = await h.createJob(datasetId, tinyLmRequest({ epochs: 20, earlyStopping: { patience: 2, minDelta: 1000 } }));
    const done = await h.waitForStatus(job.id, ['succeeded', 'failed', 'cancelled']);
    expect(done.status).toBe('succeeded');
    const events = await h.readEvents(job.id);
    expect(epochsOf(events)).toEqual([1, 2, 3]);
    expect(events.filter((e): e is EpochEvent => e.type === 'epoch').map((e) => e.best)).toEqual([true, false, false]);
    expect(events.find((e) => e.type === 'completed')).toMatchObject({ bestEpoch: 1 });
    const best = await h.blobs.get(blobKeys.bestWeights(job.id));
    expect(best).not.toBeNull();
    expect(await h.blobs.get(blobKeys.finalWeights(job.id))).toEqual(best);
    expect(await h.blobs.get(blobKeys.bestCheckpoint(job.id))).toEqual(await h.blobs.get(blobKeys.checkpoint(job.id, 1)));
  });

  it('fences a zombie attempt: once a newer attempt claimed the job, the old one publishes nothing', async () => {
    h.startWorker();
    const datasetId = await h.addTextDataset(CORPUS.repeat(20));
    const job = await h.createJob(datasetId, tinyLmRequest({ epochs: 1000 }), 1);
    for (let i = 0; i < 400 && epochsOf(await h.readEvents(job.id)).length === 0; i++) await new Promise((r) => setTimeout(r, 25));
    // Another worker took over (as after a stall): it claims a new fence.
    const newer = await h.jobs.claimAttempt(job.id);
    const atClaim = await h.readEvents(job.id);
    // The old attempt's next fenced write is refused; it gives up without publishing.
    await expect.poll(async () => (await h.queue.getJob(job.id))!.getState(), { timeout: 10_000 }).toBe('failed');
    await new Promise((r) => setTimeout(r, 300));
    expect(await h.readEvents(job.id)).toEqual(atClaim);
    const record = await h.jobs.get(job.id);
    expect(record).toMatchObject({ status: 'running', fence: newer });
  });
});
