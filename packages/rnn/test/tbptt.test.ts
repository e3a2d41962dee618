// Truncated BPTT(k1, k2) driver: window arithmetic, every step's loss counted exactly once with
// the carried (detached) hidden state equal to the true one, stream/sequence batching with
// padding and masks, and memory that does not grow with the corpus.

import { describe, expect, it } from 'vitest';
import type { Dataset, SequenceSet, TokenStream } from '../src/data/dataset.ts';
import { SpecError } from '../src/errors.ts';
import { RnnModel } from '../src/model.ts';
import type { BpttSpec, TrainSpec } from '../src/spec.ts';
import { Trainer } from '../src/trainer.ts';
import { windowAfter, windowCount } from '../src/window.ts';
import { BACKENDS, type TestBackend } from './helpers/backends.ts';
import { lmSpec, randomSequences, randomTokens, seqSpec } from './helpers/specs.ts';

describe('Williams & Peng window arithmetic', () => {
  for (const [k1, k2, T] of [[2, 5, 11], [3, 3, 10], [1, 4, 6], [4, 9, 4], [5, 5, 1]]) {
    it(`k1=${k1} k2=${k2} T=${T}: loss ranges tile [0, T) once, windows reach back ≤ k2`, () => {
      const bptt: BpttSpec = { mode: 'truncated', k1, k2 };
      const covered: number[] = [];
      let done = 0;
      let windows = 0;
      while (done < T) {
        const w = windowAfter(bptt, T, done);
        expect(w.end - w.start).toBeLessThanOrEqual(k2);
        expect(w.end - (w.start + w.lossFrom)).toBeLessThanOrEqual(k1);
        expect(w.start + w.lossFrom).toBe(done);
        expect(w.start).toBe(Math.max(0, w.end - k2));
        for (let t = w.start + w.lossFrom; t < w.end; t++) covered.push(t);
        done = w.end;
        windows++;
      }
      expect(covered).toEqual(Array.from({ length: T }, (_, i) => i));
      expect(windows).toBe(windowCount(bptt, T));
    });
  }
  it('full BPTT is one window over everything', () => {
    expect(windowAfter({ mode: 'full' }, 17, 0)).toEqual({ start: 0, end: 17, lossFrom: 0 });
  });
  it('rejects k1 > k2 with a SpecError on field bptt', () => {
    const ds = randomTokens(50, 4, 1);
    const err = (() => {
      try {
        Trainer.create(lmSpec(4, { bptt: { mode: 'truncated', k1: 6, k2: 5 } }), ds);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SpecError);
    expect((err as SpecError).field).toBe('bptt');
    expect((err as SpecError).message).toMatch(/k1 \(6\) must be <= bptt.k2 \(5\)/);
  });
});

const frozen = { optimizer: { name: 'sgd', lr: 0 }, clip: { mode: 'none' } } as const;

/**
 * Σ loss over an epoch of trainer steps, with weights frozen (lr 0): float64 on the JS reference
 * (tolerance 1e-9), float32 on the WASM kernels (tolerance 2e-5 against the float64 reference).
 */
function epochLossSum(spec: TrainSpec, ds: Dataset, backend: TestBackend): { sum: number; count: number; steps: number; params: Float64Array } {
  const t = backend.create(spec, ds, { dtype: backend.name === 'js' ? 'float64' : 'float32' });
  let sum = 0;
  let count = 0;
  let steps = 0;
  t.runEpoch({ onStep: (m) => ((sum += m.lossSum), (count += m.lossCount), steps++) });
  return { sum, count, steps, params: Float64Array.from(t.params) };
}
const tolerance = (backend: TestBackend) => (backend.name === 'js' ? 1e-9 : 2e-5);

/** Reference: each row (stream or sequence) run alone from h = 0 by RnnModel.predict. */
function streamReference(spec: TrainSpec, ds: TokenStream, params: Float64Array): { sum: number; count: number } {
  const model = new RnnModel({ spec: spec.model, task: 'lm', params });
  const B = spec.batchSize;
  const L = Math.floor((ds.tokens.length - 1) / B);
  let sum = 0;
  for (let b = 0; b < B; b++) {
    const inputs = ds.tokens.slice(b * L, (b + 1) * L);
    const { outputs } = model.predict(inputs);
    const O = spec.model.outputSize;
    for (let t = 0; t < L; t++) sum -= Math.log(outputs[t * O + ds.tokens[b * L + t + 1]]);
  }
  return { sum, count: B * L };
}

function sequenceReference(spec: TrainSpec, ds: SequenceSet, params: Float64Array): { sum: number; count: number } {
  const model = new RnnModel({ spec: spec.model, task: ds.task, params });
  const O = ds.outputSize;
  let sum = 0;
  let count = 0;
  for (const s of ds.sequences) {
    const T = ds.inputKind === 'tokens' ? s.inputs.length : s.inputs.length / ds.inputSize;
    const { outputs } = model.predict(s.inputs as Int32Array | Float32Array);
    const scored = ds.targetMode === 'many-to-one' ? [[T - 1, 0]] : Array.from({ length: T }, (_, t) => [t, t]).filter(([t]) => !s.mask || s.mask[t]);
    for (const [t, row] of scored) {
      if (ds.task === 'classification') {
        sum -= Math.log(outputs[t * O + s.targets[row]]);
        count += 1;
      } else {
        for (let o = 0; o < O; o++) sum += (outputs[t * O + o] - s.targets[row * O + o]) ** 2;
        count += O;
      }
    }
  }
  return { sum, count };
}

describe.each(BACKENDS)('every step of a stream is scored once from the true hidden state ($name kernels)', (backend) => {
  const ds = randomTokens(3 * 20 + 1 + 2, 5, 11); // L = 20 per stream, 2 tokens left over
  for (const bptt of [
    { mode: 'truncated', k1: 3, k2: 5 },
    { mode: 'truncated', k1: 4, k2: 4 },
    { mode: 'truncated', k1: 1, k2: 7 },
    { mode: 'full' },
  ] as BpttSpec[]) {
    it(`B = 3 token streams, ${JSON.stringify(bptt)}`, () => {
      const spec = lmSpec(5, { ...frozen, bptt, batchSize: 3 });
      const got = epochLossSum(spec, ds, backend);
      const want = streamReference(spec, ds, got.params);
      expect(got.count).toBe(want.count);
      expect(Math.abs(got.sum - want.sum)).toBeLessThan(tolerance(backend) * want.sum);
      expect(got.steps).toBe(windowCount(bptt, 20));
    });
  }
});

describe.each(BACKENDS)('sequence sets: padded batches, masks, many-to-one on the last real step ($name kernels)', (backend) => {
  const cases = [
    { task: 'classification', targetMode: 'many-to-one', inputKind: 'tokens' },
    { task: 'classification', targetMode: 'many-to-many', inputKind: 'vectors', withMask: true },
    { task: 'regression', targetMode: 'many-to-many', inputKind: 'vectors', withMask: true },
    { task: 'regression', targetMode: 'many-to-one', inputKind: 'tokens' },
  ] as const;
  for (const c of cases) {
    for (const bptt of [{ mode: 'full' }, { mode: 'truncated', k1: 2, k2: 3 }] as BpttSpec[]) {
      it(`${c.task} ${c.targetMode} ${c.inputKind}, ${bptt.mode}`, () => {
        const ds = randomSequences({ ...c, count: 7, seed: 5 });
        const spec = seqSpec(ds, { ...frozen, bptt, batchSize: 3 });
        const got = epochLossSum(spec, ds, backend);
        const want = sequenceReference(spec, ds, got.params);
        expect(got.count).toBe(want.count);
        expect(Math.abs(got.sum - want.sum)).toBeLessThan(tolerance(backend) * Math.max(1, want.sum));
      });
    }
  }
});

describe.each(BACKENDS)('truncated BPTT memory ($name kernels)', (backend) => {
  it('the workspace does not grow with the corpus', () => {
    const small = backend.create(lmSpec(5, { bptt: { mode: 'truncated', k1: 8, k2: 16 }, batchSize: 4 }), randomTokens(1_000, 5, 1));
    const large = backend.create(lmSpec(5, { bptt: { mode: 'truncated', k1: 8, k2: 16 }, batchSize: 4 }), randomTokens(200_000, 5, 1));
    expect(large.workspaceScalars).toBe(small.workspaceScalars);
    expect(small.stepsPerEpoch).toBe(Math.ceil(Math.floor(999 / 4) / 8));
  });
  it('full BPTT on a stream equals truncated(L, L): identical weights after a step', () => {
    const ds = randomTokens(2 * 12 + 1, 4, 2);
    const a = backend.create(lmSpec(4, { bptt: { mode: 'full' }, batchSize: 2 }), ds);
    const b = backend.create(lmSpec(4, { bptt: { mode: 'truncated', k1: 12, k2: 12 }, batchSize: 2 }), ds);
    a.step();
    b.step();
    const bytes = (x: ArrayBufferView) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
    expect(Buffer.compare(bytes(a.params), bytes(b.params))).toBe(0);
  });
});
