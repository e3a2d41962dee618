import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTextCorpus, RnnModel, splitForValidation, Trainer, decodeSafetensors, type TrainSpec } from '@unroll/rnn';
import { blobKeys } from '@unroll/store';
import { startTestApp, uploadText, createJob, CORPUS, type TestApp } from './helpers.ts';

let t: TestApp;
let jobId: string;
let trained: Trainer;
let epoch1: Uint8Array;

/** Plays the worker: trains a tiny model on the job's training split and writes its artifacts. */
beforeAll(async () => {
  t = await startTestApp();
  const datasetId = await uploadText(t);
  const job = (await createJob(t, { datasetId, task: 'lm', model: { hiddenSize: 8 }, training: { epochs: 2, batchSize: 4 } })).json();
  jobId = job.id;
  const { train } = splitForValidation(parseTextCorpus(CORPUS), job.spec.training.validationSplit);
  const vocab = (train as { vocab: string[] }).vocab.length;
  const spec: TrainSpec = {
    task: 'lm',
    model: { inputKind: 'tokens', inputSize: vocab, hiddenSize: 8, outputSize: vocab, activation: 'tanh' },
    init: { scheme: 'pytorch' },
    optimizer: { name: 'adam', lr: 0.01 },
    schedule: { kind: 'constant' },
    clip: { mode: 'norm', maxNorm: 5 },
    bptt: { mode: 'truncated', k1: 10, k2: 10 },
    reduction: 'mean',
    batchSize: 4,
    epochs: 2,
    seed: 1,
  };
  trained = Trainer.create(spec, train);
  trained.runEpoch();
  epoch1 = trained.serialize();
  await t.app.blobs.put(blobKeys.checkpoint(jobId, 1), epoch1);
  await t.app.blobs.put(blobKeys.bestCheckpoint(jobId), epoch1);
  trained.runEpoch();
  await t.app.blobs.put(blobKeys.checkpoint(jobId, 2), trained.serialize());
});
afterAll(async () => t?.close());

const get = (url: string) => t.app.inject({ url, headers: t.auth() });
const post = (url: string, payload: object) => t.app.inject({ method: 'POST', url, headers: t.auth(), payload });

describe('weights', () => {
  it('409 not_ready before the final weights exist; checkpoints listed meanwhile', async () => {
    const res = await get(`/v1/jobs/${jobId}/weights`);
    expect(res.statusCode).toBe(409);
    expect(res.json().error.code).toBe('not_ready');
    expect((await post(`/v1/jobs/${jobId}/sample`, { length: 5 })).json().error.code).toBe('not_ready');
    const list = (await get(`/v1/jobs/${jobId}/checkpoints`)).json();
    expect(list.items.map((c: { epoch: number }) => c.epoch)).toEqual([1, 2]);
    expect(list.items[0]).toMatchObject({ bytes: epoch1.length });
    expect(list.items[0].sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('converts a checkpoint (epoch or best) into safetensors', async () => {
    const res = await get(`/v1/jobs/${jobId}/weights?checkpoint=1`);
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toBe('application/octet-stream');
    const model = RnnModel.fromSafetensors(res.rawPayload);
    const restored = Trainer.restore(epoch1, splitForValidation(parseTextCorpus(CORPUS), 0.1).train).model;
    expect(Array.from(model.params)).toEqual(Array.from(restored.params));
    const best = await get(`/v1/jobs/${jobId}/weights?checkpoint=best`);
    expect(Buffer.compare(best.rawPayload, res.rawPayload)).toBe(0);
    const missing = await get(`/v1/jobs/${jobId}/weights?checkpoint=7`);
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('checkpoint_not_found');
  });

  it('serves the final weights in the PyTorch layout, and as JSON', async () => {
    await t.app.blobs.put(blobKeys.finalWeights(jobId), trained.model.toSafetensors());
    const res = await get(`/v1/jobs/${jobId}/weights?format=safetensors`);
    expect(res.statusCode).toBe(200);
    const { tensors } = decodeSafetensors(res.rawPayload);
    expect(Object.keys(tensors).sort()).toEqual(['fc.bias', 'fc.weight', 'rnn.bias_hh_l0', 'rnn.bias_ih_l0', 'rnn.weight_hh_l0', 'rnn.weight_ih_l0']);
    expect(tensors['rnn.weight_hh_l0'].shape).toEqual([8, 8]);
    const json = await get(`/v1/jobs/${jobId}/weights?format=json`);
    expect(json.statusCode).toBe(200);
    expect(json.json()).toMatchObject({ task: 'lm', spec: { hiddenSize: 8 } });
    expect((await get(`/v1/jobs/${jobId}/weights?format=onnx`)).json().error.param).toBe('format');
  });
});

describe('inference', () => {
  it('samples text like the engine does, deterministically per seed', async () => {
    const body = { prime: 'hello', length: 20, temperature: 0.8, topK: 5, seed: 3 };
    const res = await post(`/v1/jobs/${jobId}/sample`, body);
    expect(res.statusCode, res.body).toBe(200);
    const { weights: _w, ...opts } = { ...body, weights: 'final' };
    expect(res.json().text).toBe(trained.model.sample(opts));
    expect((await post(`/v1/jobs/${jobId}/sample`, body)).json().text).toBe(res.json().text);
    const bad = await post(`/v1/jobs/${jobId}/sample`, { length: 0 });
    expect(bad.json().error).toMatchObject({ code: 'invalid_request', param: 'length' });
  });

  it('predicts next-token probabilities per step', async () => {
    const res = await post(`/v1/jobs/${jobId}/predict`, { inputs: [[0, 1, 2], [3]] });
    expect(res.statusCode, res.body).toBe(200);
    const { outputs } = res.json();
    expect(outputs).toHaveLength(2);
    expect(outputs[0]).toHaveLength(3);
    const V = trained.model.spec.outputSize;
    expect(outputs[0][0]).toHaveLength(V);
    const sum = outputs[0][2].reduce((a: number, b: number) => a + b, 0);
    expect(sum).toBeCloseTo(1, 5);
    const direct = trained.model.predict(Int32Array.from([0, 1, 2]));
    expect(outputs[0][2][0]).toBeCloseTo(direct.outputs[2 * V], 10);
    const outOfVocab = await post(`/v1/jobs/${jobId}/predict`, { inputs: [[0, 9999]] });
    expect(outOfVocab.statusCode).toBe(400);
    expect(outOfVocab.json().error.code).toBe('invalid_request');
    const vectors = await post(`/v1/jobs/${jobId}/predict`, { inputs: [[[0.1, 0.2]]] });
    expect(vectors.statusCode).toBe(400);
  });
});
