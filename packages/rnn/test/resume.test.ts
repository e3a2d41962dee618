// Checkpoints hold the whole trainer state: restoring from ANY point (mid-epoch included) and
// finishing ends bitwise identical to an uninterrupted run. Corrupt bytes are rejected.

import { describe, expect, it } from 'vitest';
import type { Dataset } from '../src/data/dataset.ts';
import { checkpointBackend } from '../src/checkpoint.ts';
import { parseCsvSeries } from '../src/data/csv.ts';
import { datasetFingerprint, datasetShapeFingerprint, fingerprintMatches } from '../src/data/fingerprint.ts';
import { CheckpointError } from '../src/errors.ts';
import type { TrainSpec } from '../src/spec.ts';
import { Trainer } from '../src/trainer.ts';
import { BACKENDS, jsBackend, maxAbsDiff, type TestBackend, wasmBackend } from './helpers/backends.ts';
import { lmSpec, randomSequences, randomTokens, seqSpec } from './helpers/specs.ts';

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/** Runs to the end of spec.epochs; returns final params and every epoch's metrics. */
function finish(t: Trainer): { params: Buffer; losses: number[]; spectral: number[] } {
  const losses: number[] = [];
  const spectral: number[] = [];
  while (!t.done) {
    const m = t.step();
    if (m === null) {
      losses.push(t.lastEpochMetrics!.loss);
      spectral.push(t.lastEpochMetrics!.whhSpectralNorm);
    }
  }
  return { params: bytes(t.params), losses, spectral };
}

function checkResume(backend: TestBackend, spec: TrainSpec, ds: Dataset, cutPoints: number[]): void {
  const reference = finish(backend.create(spec, ds));
  for (const cut of cutPoints) {
    const t = backend.create(spec, ds);
    const lossesBefore: number[] = [];
    const spectralBefore: number[] = [];
    for (let i = 0; i < cut; i++) {
      if (t.step() === null) {
        lossesBefore.push(t.lastEpochMetrics!.loss);
        spectralBefore.push(t.lastEpochMetrics!.whhSpectralNorm);
      }
    }
    const ckpt = t.serialize();
    expect(checkpointBackend(ckpt)).toBe(backend.kernels.id);
    const resumed = backend.restore(ckpt, ds);
    expect(resumed.globalStep).toBe(t.globalStep);
    expect(resumed.epoch).toBe(t.epoch);
    expect(resumed.stepInEpoch).toBe(t.stepInEpoch);
    const rest = finish(resumed);
    expect(Buffer.compare(rest.params, reference.params), `cut after ${cut} calls`).toBe(0);
    expect([...lossesBefore, ...rest.losses]).toEqual(reference.losses);
    expect([...spectralBefore, ...rest.spectral]).toEqual(reference.spectral);
    // the original keeps going identically too (serialize has no side effects)
    expect(Buffer.compare(finish(t).params, reference.params)).toBe(0);
    t.dispose();
    resumed.dispose();
  }
}

describe.each(BACKENDS)('resume equivalence (bitwise, $name kernels)', (backend) => {
  it('LM token stream, Adam, TBPTT(3, 5): cuts at start, mid-epoch, epoch boundary and after it', () => {
    const ds = randomTokens(3 * 14 + 1, 6, 9); // 5 windows per epoch (+1 null call)
    const spec = lmSpec(6, { epochs: 3 });
    checkResume(backend, spec, ds, [0, 1, 3, 5, 6, 8, 12]);
  });
  it('shuffled sequence set, SGD momentum, truncated within sequences, step schedule', () => {
    const ds = randomSequences({ task: 'regression', targetMode: 'many-to-many', inputKind: 'vectors', count: 8, seed: 4, withMask: true });
    const spec = seqSpec(ds, {
      epochs: 3,
      optimizer: { name: 'sgd', lr: 0.05, momentum: 0.9 },
      schedule: { kind: 'step', stepSize: 1, gamma: 0.5 },
      bptt: { mode: 'truncated', k1: 2, k2: 3 },
      clip: { mode: 'norm', maxNorm: 1 },
    });
    const perEpoch = backend.create(spec, ds).stepsPerEpoch;
    checkResume(backend, spec, ds, [1, Math.floor(perEpoch / 2), perEpoch, perEpoch + 1, perEpoch + 3]);
  });
  it('float64 trainer round-trips its dtype', () => {
    const ds = randomTokens(40, 4, 1);
    const t = backend.create(lmSpec(4), ds, { dtype: 'float64' });
    t.step();
    const r = backend.restore(t.serialize(), ds);
    expect(r.dtype).toBe('float64');
    expect(r.params).toBeInstanceOf(Float64Array);
    expect(Buffer.compare(bytes(r.params), bytes(t.params))).toBe(0);
  });
});

describe('checkpoints across backends', () => {
  it('record the kernels id; a checkpoint restores on the other backend and continues within float32 tolerance', () => {
    const ds = randomTokens(3 * 14 + 1, 6, 9);
    const spec = lmSpec(6, { epochs: 2 });
    const straight = finish(jsBackend.create(spec, ds));
    const t = jsBackend.create(spec, ds);
    for (let i = 0; i < 3; i++) t.step();
    const ckpt = t.serialize();
    expect(checkpointBackend(ckpt)).toBe('js');
    const onWasm = wasmBackend.restore(ckpt, ds);
    expect(onWasm.backend).toBe(wasmBackend.kernels.id);
    expect(checkpointBackend(onWasm.serialize())).toMatch(/^wasm-simd(-fma)?$/);
    const rest = finish(onWasm);
    const a = new Float32Array(rest.params.buffer, rest.params.byteOffset, rest.params.byteLength / 4);
    const b = new Float32Array(straight.params.buffer, straight.params.byteOffset, straight.params.byteLength / 4);
    expect(maxAbsDiff(a, b)).toBeLessThan(1e-4);
    expect(Math.abs(rest.losses[rest.losses.length - 1] - straight.losses[straight.losses.length - 1])).toBeLessThan(1e-4);
  });
  it('checkpointBackend is null for bytes that are not a checkpoint', () => {
    expect(checkpointBackend(new Uint8Array(3))).toBeNull();
    expect(checkpointBackend(Uint8Array.from({ length: 64 }, (_, i) => i))).toBeNull();
  });
});

describe('checkpoint corruption', () => {
  const ds = randomTokens(40, 4, 1);
  const t = Trainer.create(lmSpec(4), ds);
  t.step();
  const good = t.serialize();

  function codeOf(fn: () => unknown): string | undefined {
    try {
      fn();
    } catch (e) {
      expect(e).toBeInstanceOf(CheckpointError);
      return (e as CheckpointError).code;
    }
    return undefined;
  }

  it('starts with the magic number', () => {
    expect(Buffer.from(good.subarray(0, 8)).toString('latin1')).toBe('UNROLLCK');
  });
  it('a flipped byte anywhere is checkpoint_corrupt', () => {
    for (const at of [9, 20, Math.floor(good.length / 2), good.length - 40, good.length - 1]) {
      const bad = Uint8Array.from(good);
      bad[at] ^= 0x01;
      expect(codeOf(() => Trainer.restore(bad, ds)), `byte ${at}`).toBe('checkpoint_corrupt');
    }
  });
  it('truncated, empty and random bytes are checkpoint_corrupt', () => {
    expect(codeOf(() => Trainer.restore(good.subarray(0, good.length - 1), ds))).toBe('checkpoint_corrupt');
    expect(codeOf(() => Trainer.restore(new Uint8Array(0), ds))).toBe('checkpoint_corrupt');
    expect(codeOf(() => Trainer.restore(Uint8Array.from({ length: 500 }, (_, i) => (i * 37) & 255), ds))).toBe('checkpoint_corrupt');
  });
  it('a checkpoint of another dataset is refused', () => {
    expect(codeOf(() => Trainer.restore(good, randomTokens(41, 4, 1)))).toBe('checkpoint_dataset_mismatch');
  });
  it('the same shape with other content is refused (the fingerprint hashes the data, not only its length)', () => {
    const sameShape = randomTokens(40, 4, 2);
    expect(sameShape.tokens.length).toBe(ds.tokens.length);
    expect(codeOf(() => Trainer.restore(good, sameShape))).toBe('checkpoint_dataset_mismatch');
    const oneTokenChanged = { ...ds, tokens: Int32Array.from(ds.tokens) };
    oneTokenChanged.tokens[17] = (oneTokenChanged.tokens[17] + 1) % 4;
    expect(codeOf(() => Trainer.restore(good, oneTokenChanged))).toBe('checkpoint_dataset_mismatch');
    expect(codeOf(() => Trainer.restore(good, { ...ds, tokens: Int32Array.from(ds.tokens) }))).toBeUndefined();
  });
  it('other preprocessing of the same CSV is another dataset; a pre-hash fingerprint is checked by shape', () => {
    const csv = 'a,b\n' + Array.from({ length: 30 }, (_, i) => `${i},${(i * 7) % 5}`).join('\n');
    const normalized = parseCsvSeries(csv, { normalize: true });
    const raw = parseCsvSeries(csv, { normalize: false });
    expect(datasetShapeFingerprint(normalized)).toBe(datasetShapeFingerprint(raw));
    expect(datasetFingerprint(normalized)).not.toBe(datasetFingerprint(raw));
    expect(datasetFingerprint(parseCsvSeries(csv, { normalize: true, horizon: 2 }))).not.toBe(datasetFingerprint(normalized));
    expect(fingerprintMatches(datasetFingerprint(normalized), raw)).toBe(false);
    expect(fingerprintMatches(datasetShapeFingerprint(normalized), raw)).toBe(true);
  });
});
