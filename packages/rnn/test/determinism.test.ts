// Same backend + seed + spec ⇒ bitwise identical weights; a different seed gives different ones.
// Between the JS and the WASM backend results agree to float32 tolerance only (summation order,
// fused multiply-add), which is why checkpoints record their backend.

import { describe, expect, it } from 'vitest';
import type { Dataset } from '../src/data/dataset.ts';
import type { TrainSpec } from '../src/spec.ts';
import { BACKENDS, jsBackend, maxAbsDiff, type TestBackend, wasmBackend } from './helpers/backends.ts';
import { lmSpec, randomSequences, randomTokens, seqSpec } from './helpers/specs.ts';

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function train(backend: TestBackend, spec: TrainSpec, ds: Dataset): { params: Buffer; weights: Float32Array; losses: number[] } {
  const t = backend.create(spec, ds);
  const losses: number[] = [];
  for (let e = 0; e < spec.epochs; e++) losses.push(t.runEpoch().loss);
  const out = { params: Buffer.from(bytes(t.params)), weights: Float32Array.from(t.params), losses };
  t.dispose();
  return out;
}

const lm = randomTokens(200, 6, 1);
const seqs = randomSequences({ task: 'classification', targetMode: 'many-to-one', inputKind: 'tokens', count: 11, seed: 2 });
const cases: [string, TrainSpec, Dataset][] = [
  ['LM, adam, TBPTT(3, 5)', lmSpec(6, { epochs: 3 }), lm],
  ['LM, rmsprop, orthogonal init, relu', lmSpec(6, { epochs: 2, optimizer: { name: 'rmsprop', lr: 0.005 }, init: { scheme: 'orthogonal' }, model: { inputKind: 'tokens', inputSize: 6, hiddenSize: 8, outputSize: 6, activation: 'relu' } }), lm],
  ['shuffled sequence set, sgd + nesterov', seqSpec(seqs, { epochs: 3, optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true } }), seqs],
];

describe.each(BACKENDS)('determinism ($name kernels)', (backend) => {
  for (const [name, spec, ds] of cases) {
    it(`${name}: two runs are bitwise identical`, () => {
      const a = train(backend, spec, ds);
      const b = train(backend, spec, ds);
      expect(Buffer.compare(a.params, b.params)).toBe(0);
      expect(a.losses).toEqual(b.losses);
    });
    it(`${name}: another seed differs`, () => {
      const a = train(backend, spec, ds);
      const c = train(backend, { ...spec, seed: spec.seed + 1 }, ds);
      expect(Buffer.compare(a.params, c.params)).not.toBe(0);
    });
  }
});

describe('JS and WASM backends agree to float32 tolerance', () => {
  for (const [name, spec, ds] of cases) {
    it(name, () => {
      const js = train(jsBackend, spec, ds);
      const wasm = train(wasmBackend, spec, ds);
      for (let e = 0; e < js.losses.length; e++) {
        expect(Math.abs(wasm.losses[e] - js.losses[e]), `epoch ${e + 1} loss`).toBeLessThan(1e-4 * (1 + js.losses[e]));
      }
      expect(maxAbsDiff(wasm.weights, js.weights)).toBeLessThan(1e-4);
    });
  }
});
