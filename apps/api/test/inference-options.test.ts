// Predict's request options against the model run locally: output kinds, positions, text, and
// the checks made before any work. A real app (inject), real Redis, a compute thread.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTextCorpus, Trainer, type TrainSpec, type RnnModel } from '@unroll/rnn';
import { blobKeys } from '@unroll/store';
import { startTestApp, uploadText, createJob, CORPUS, type TestApp } from './helpers.ts';

let t: TestApp;
let jobId: string;
let model: RnnModel;

beforeAll(async () => {
  t = await startTestApp();
  const datasetId = await uploadText(t);
  jobId = (await createJob(t, { datasetId, task: 'lm', model: { hiddenSize: 8 }, training: { epochs: 1, batchSize: 4 } })).json().id;
  const data = parseTextCorpus(CORPUS);
  const V = (data as { vocab: string[] }).vocab.length;
  const spec: TrainSpec = {
    task: 'lm',
    model: { inputKind: 'tokens', inputSize: V, hiddenSize: 8, outputSize: V, activation: 'tanh' },
    init: { scheme: 'pytorch' },
    optimizer: { name: 'adam', lr: 0.01 },
    schedule: { kind: 'constant' },
    clip: { mode: 'norm', maxNorm: 5 },
    bptt: { mode: 'truncated', k1: 10, k2: 10 },
    reduction: 'mean',
    batchSize: 4,
    epochs: 1,
    seed: 1,
  };
  const trainer = Trainer.create(spec, data);
  trainer.runEpoch();
  model = trainer.model;
  await t.app.blobs.put(blobKeys.finalWeights(jobId), model.toSafetensors());
});
afterAll(async () => t?.close());

const predict = (payload: object) => t.app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/predict`, headers: t.auth(), payload });
const idsOf = (text: string) => Int32Array.from([...text].map((ch) => model.vocab!.indexOf(ch)));

describe('predict options', () => {
  it('probs (default), logits and log_probs per step match the model; positions last keeps the last step', async () => {
    const text = 'hello world';
    const local = model.predict(idsOf(text));
    const O = model.spec.outputSize;
    const step = (a: Float64Array, i: number) => Array.from(a.subarray(i * O, (i + 1) * O));
    const probs = (await predict({ text })).json().outputs[0];
    expect(probs).toHaveLength(text.length);
    probs[3].forEach((p: number, o: number) => expect(p).toBeCloseTo(step(local.outputs, 3)[o], 10));
    const logits = (await predict({ inputs: [Array.from(idsOf(text))], output: 'logits', positions: 'last' })).json().outputs[0];
    expect(logits).toHaveLength(1);
    logits[0].forEach((v: number, o: number) => expect(v).toBeCloseTo(step(local.logits, text.length - 1)[o], 10));
    const logProbs = (await predict({ text, output: 'log_probs' })).json().outputs[0];
    logProbs[5].forEach((v: number, o: number) => expect(Math.exp(v)).toBeCloseTo(step(local.outputs, 5)[o], 10));
    const top = (await predict({ text: [text, 'the'], output: 'top_k', k: 2 })).json().outputs;
    expect(top[1]).toHaveLength(3);
    const last = step(local.outputs, 10);
    const best = last.indexOf(Math.max(...last));
    expect(top[0][10]).toMatchObject({ ids: [best, expect.any(Number)], tokens: [model.vocab![best], expect.any(String)] });
    expect(top[0][10].probs[0]).toBeGreaterThanOrEqual(top[0][10].probs[1]);
  });

  it('refuses contradictory or impossible options with 400 naming the field', async () => {
    const cases: [object, string, string][] = [
      [{ text: 'hello', inputs: [[0]] }, 'invalid_request', 'text'],
      [{ weights: 'final' }, 'invalid_request', 'inputs'],
      [{ text: 'hello', k: 2 }, 'invalid_request', 'k'],
      [{ text: 'hello', output: 'top_k', k: 1000 }, 'invalid_request', 'k'],
      [{ inputs: [[0, 999]] }, 'invalid_request', 'inputs.0.1'],
      [{ text: 'hello', output: 'softmax' }, 'invalid_request', 'output'],
      [{ text: 'hé' }, 'invalid_request', 'text'],
    ];
    for (const [body, code, param] of cases) {
      const res = await predict(body);
      expect(res.statusCode, `${JSON.stringify(body)}: ${res.body}`).toBe(400);
      expect(res.json().error, JSON.stringify(body)).toMatchObject({ code, param });
    }
    expect((await predict({ text: 'hé' })).json().error.position).toBe(1);
  });

  it('sample runs in the pool and answers as before', async () => {
    const res = await t.app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/sample`, headers: t.auth(), payload: { prime: 'hello', length: 20, seed: 3 } });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.json().text).toBe(model.sample({ prime: 'hello', length: 20, temperature: 1, seed: 3 }));
  });

  it('a busy pool answers 503 compute_busy with Retry-After, and serves again once free', async () => {
    const busy = await startTestApp({ COMPUTE_THREADS: '1', COMPUTE_QUEUE: '0' });
    try {
      const datasetId = await uploadText(busy);
      const id = (await createJob(busy, { datasetId, task: 'lm', model: { hiddenSize: 8 }, training: { epochs: 1 } })).json().id;
      await busy.app.blobs.put(blobKeys.finalWeights(id), model.toSafetensors());
      const post = (payload: object) => busy.app.inject({ method: 'POST', url: `/v1/jobs/${id}/predict`, headers: busy.auth(), payload });
      const long = post({ inputs: Array.from({ length: 64 }, () => Array.from({ length: 10_000 }, (_, i) => i % 5)), positions: 'last' });
      await new Promise((r) => setTimeout(r, 300)); // the long one holds the only thread
      const refused = await post({ text: 'hello' });
      expect(refused.statusCode, refused.body).toBe(503);
      expect(refused.json().error.code).toBe('compute_busy');
      expect(refused.headers['retry-after']).toBe('1');
      expect((await long).statusCode).toBe(200);
      expect((await post({ text: 'hello' })).statusCode).toBe(200);
    } finally {
      await busy.close();
    }
  });
});
