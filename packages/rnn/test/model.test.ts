// RnnModel: predict, sample, safetensors / JSON export → import round trips, PyTorch-layout
// files without our metadata, and continuing training from imported weights.

import { describe, expect, it } from 'vitest';
import { ModelFormatError, ModelInputError } from '../src/errors.ts';
import { RnnModel } from '../src/model.ts';
import { decodeSafetensors, encodeSafetensors, type Tensor } from '../src/safetensors.ts';
import type { Trainer } from '../src/trainer.ts';
import { BACKENDS, type TestBackend } from './helpers/backends.ts';
import { lmSpec, randomSequences, randomTokens, seqSpec } from './helpers/specs.ts';

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Trained on `backend`; the model (inference on the JS kernels) reads the live parameters. */
function trainedLm(backend: TestBackend): { t: Trainer; model: RnnModel } {
  const ds = randomTokens(3 * 20 + 1, 5, 1);
  const t = backend.create(lmSpec(5), ds);
  t.runEpoch();
  return { t, model: t.model };
}

describe.each(BACKENDS)('safetensors export ($name kernels)', (backend) => {
  it('uses PyTorch names, shapes and F32, with our metadata', () => {
    const { model } = trainedLm(backend);
    const { tensors, metadata } = decodeSafetensors(model.toSafetensors({ job: 'j1' }));
    const shapes = Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, [v.dtype, v.shape]]));
    expect(shapes).toEqual({
      'rnn.weight_ih_l0': ['F32', [8, 5]],
      'rnn.weight_hh_l0': ['F32', [8, 8]],
      'rnn.bias_ih_l0': ['F32', [8]],
      'rnn.bias_hh_l0': ['F32', [8]],
      'fc.weight': ['F32', [5, 8]],
      'fc.bias': ['F32', [5]],
    });
    expect(metadata.task).toBe('lm');
    expect(metadata.activation).toBe('tanh');
    expect(metadata.inputKind).toBe('tokens');
    expect(JSON.parse(metadata.vocab)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(JSON.parse(metadata.model)).toEqual(model.spec);
    expect(JSON.parse(metadata.hyperparameters).optimizer).toEqual({ name: 'adam', lr: 0.01 });
    expect(metadata.job).toBe('j1');
  });

  it('export → import gives identical weights and predictions', () => {
    const { model } = trainedLm(backend);
    const back = RnnModel.fromSafetensors(model.toSafetensors());
    expect(Buffer.compare(bytes(back.params), bytes(model.params))).toBe(0);
    expect(back.spec).toEqual(model.spec);
    expect(back.vocab).toEqual(model.vocab);
    const x = Int32Array.of(0, 3, 2, 2, 4, 1);
    const a = model.predict(x);
    const b = back.predict(x);
    expect(Buffer.compare(bytes(a.outputs), bytes(b.outputs))).toBe(0);
    expect(Buffer.compare(bytes(a.hidden), bytes(b.hidden))).toBe(0);
    expect(back.sample({ prime: 'ab', length: 20, temperature: 0.8, seed: 3 })).toBe(model.sample({ prime: 'ab', length: 20, temperature: 0.8, seed: 3 }));
  });

  it('JSON export → import is exact too', () => {
    const { model } = trainedLm(backend);
    const json = JSON.parse(JSON.stringify(model.toJSON()));
    expect(json.format).toBe('unroll-rnn-json');
    expect(json.tensors.map((t: { name: string }) => t.name)).toEqual(['rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0', 'fc.weight', 'fc.bias']);
    const back = RnnModel.fromJSON(json);
    expect(Buffer.compare(bytes(back.params), bytes(model.params))).toBe(0);
    expect(() => RnnModel.fromJSON({ format: 'nope' })).toThrow(ModelFormatError);
  });

  it('a PyTorch-layout file without metadata loads when the task is given, and training continues from it', () => {
    const { model } = trainedLm(backend);
    const tensors: Record<string, Tensor> = {};
    for (const v of model.layout.views) tensors[v.torchName] = { dtype: 'F32', shape: [...v.shape], data: Float32Array.from(model.params.subarray(v.offset, v.offset + v.size)) };
    const file = encodeSafetensors(tensors);
    try {
      RnnModel.fromSafetensors(file);
      expect.unreachable();
    } catch (e) {
      expect(e).toMatchObject({ code: 'model_metadata_missing', field: 'task' });
    }
    const imported = RnnModel.fromSafetensors(file, { task: 'lm', vocab: ['a', 'b', 'c', 'd', 'e'] });
    expect(imported.spec).toEqual({ inputKind: 'tokens', inputSize: 5, hiddenSize: 8, outputSize: 5, activation: 'tanh' });
    expect(Buffer.compare(bytes(imported.params), bytes(model.params))).toBe(0);
    const ds = randomTokens(3 * 20 + 1, 5, 1);
    const t = backend.create(lmSpec(5), ds, { initialParams: imported.params });
    expect(Buffer.compare(bytes(t.params), bytes(imported.params))).toBe(0);
    const before = t.evaluate(ds).loss;
    t.runEpoch();
    t.runEpoch();
    expect(t.evaluate(ds).loss).toBeLessThan(before);
  });

  it('rejects wrong shapes and garbage with clear codes', () => {
    const { model } = trainedLm(backend);
    const { tensors, metadata } = decodeSafetensors(model.toSafetensors());
    tensors['fc.bias'] = { dtype: 'F32', shape: [4], data: new Float32Array(4) };
    expect(() => RnnModel.fromSafetensors(encodeSafetensors(tensors, metadata))).toThrow(expect.objectContaining({ code: 'model_shape_mismatch', field: 'fc.bias' }));
    delete tensors['fc.bias'];
    expect(() => RnnModel.fromSafetensors(encodeSafetensors(tensors, metadata))).toThrow(expect.objectContaining({ code: 'invalid_model_file', field: 'fc.bias' }));
    expect(() => RnnModel.fromSafetensors(new Uint8Array([1, 2, 3]))).toThrow(expect.objectContaining({ code: 'invalid_model_file' }));
  });
});

describe.each(BACKENDS)('predict and sample ($name kernels)', (backend) => {
  it('a batch predicts like its rows one by one; h0 continues a sequence', () => {
    const { model } = trainedLm(backend);
    const x1 = Int32Array.of(0, 1, 2, 3);
    const x2 = Int32Array.of(4, 4, 0, 1);
    const batch = model.predict([x1, x2]);
    const O = 5;
    expect(Array.from(batch.outputs.subarray(0, 4 * O))).toEqual(Array.from(model.predict(x1).outputs));
    expect(Array.from(batch.outputs.subarray(4 * O))).toEqual(Array.from(model.predict(x2).outputs));
    const whole = model.predict(Int32Array.of(0, 1, 2, 3, 4, 0));
    const first = model.predict(Int32Array.of(0, 1, 2, 3));
    const rest = model.predict(Int32Array.of(4, 0), first.hidden);
    expect(Array.from(rest.outputs)).toEqual(Array.from(whole.outputs.subarray(4 * O)));
    const row = batch.outputs.subarray(0, O);
    expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 12);
  });

  it('regression predicts values; classification probabilities', () => {
    const ds = randomSequences({ task: 'regression', targetMode: 'many-to-one', inputKind: 'vectors', count: 4, seed: 1 });
    const t = backend.create(seqSpec(ds), ds);
    const r = t.model.predict(ds.sequences[0].inputs as Float32Array);
    expect(Array.from(r.outputs)).toEqual(Array.from(r.logits));
    expect(() => t.model.predict(Float32Array.of(1, 2))).toThrow(ModelInputError);
  });

  it('sample: seeded, greedy at temperature 0, vocabulary-checked prime', () => {
    const { model } = trainedLm(backend);
    const s = model.sample({ prime: 'abc', length: 30, temperature: 1, seed: 5 });
    expect(s).toHaveLength(33);
    expect(s.startsWith('abc')).toBe(true);
    expect([...s].every((c) => 'abcde'.includes(c))).toBe(true);
    expect(model.sample({ prime: 'abc', length: 30, temperature: 1, seed: 5 })).toBe(s);
    expect(model.sample({ prime: 'abc', length: 30, temperature: 1, seed: 6 })).not.toBe(s);
    expect(model.sample({ prime: 'a', length: 10, temperature: 0, seed: 1 })).toBe(model.sample({ prime: 'a', length: 10, temperature: 0, seed: 2 }));
    expect(model.sample({ prime: '', length: 5, temperature: 1, seed: 1, topK: 1 })).toHaveLength(5);
    expect(() => model.sample({ prime: 'xyz', length: 3, temperature: 1, seed: 1 })).toThrow(expect.objectContaining({ code: 'invalid_model_input', field: 'prime' }));
  });
});
