// estimateTrainingMemory against what the WASM arena actually reached (its high-water mark) on
// varied specs, and evaluation that needs no more memory than training.
import { describe, expect, it } from 'vitest';
import { type Dataset, splitForValidation } from '../src/data/dataset.ts';
import { createWasmKernels } from '../src/kernels/wasm/backend.ts';
import { estimateTrainingMemory, type MemoryDataShape, WASM_MAX_BYTES } from '../src/memory-estimate.ts';
import { Prng } from '../src/prng.ts';
import type { TrainSpec } from '../src/spec.ts';
import { Trainer } from '../src/trainer.ts';
import { lmSpec, randomSequences, randomTokens, seqSpec } from './helpers/specs.ts';

function vectorStream(rows: number, I: number, O: number, seed: number): Dataset {
  const rng = new Prng(seed);
  return {
    kind: 'vector-stream',
    inputs: Float32Array.from({ length: rows * I }, () => rng.normal()),
    targets: Float32Array.from({ length: rows * O }, () => rng.normal()),
    inputSize: I,
    outputSize: O,
    columns: Array.from({ length: I }, (_, i) => `x${i}`),
    targetColumns: Array.from({ length: O }, (_, i) => `y${i}`),
  };
}

function regressionSpec(I: number, O: number, over: Partial<TrainSpec>): TrainSpec {
  return {
    ...lmSpec(2),
    task: 'regression',
    model: { inputKind: 'vectors', inputSize: I, hiddenSize: 16, outputSize: O, activation: 'tanh' },
    ...over,
  };
}

/** The shape the API derives from a dataset's stored statistics. */
function shapeOf(ds: Dataset, validationSplit: number): MemoryDataShape {
  switch (ds.kind) {
    case 'token-stream':
      return { kind: ds.kind, length: ds.tokens.length, sequences: 1, validationSplit };
    case 'vector-stream':
      return { kind: ds.kind, length: ds.inputs.length / ds.inputSize, sequences: 1, validationSplit };
    case 'sequences': {
      const lengths = ds.sequences.map((s) => (ds.inputKind === 'tokens' ? s.inputs.length : s.inputs.length / ds.inputSize));
      return { kind: ds.kind, length: lengths.reduce((a, b) => a + b, 0), sequences: lengths.length, maxLength: Math.max(...lengths), validationSplit };
    }
  }
}

const model = (spec: TrainSpec, H: number) => ({ ...spec.model, hiddenSize: H });

interface Case {
  name: string;
  spec: TrainSpec;
  data: Dataset;
  threads?: number;
}

const lm = (V: number, H: number, over: Partial<TrainSpec>) => {
  const s = lmSpec(V, over);
  return { ...s, model: model(s, H) };
};
const seqs = (task: 'regression' | 'classification', inputKind: 'tokens' | 'vectors', count: number) =>
  randomSequences({ task, targetMode: 'many-to-many', inputKind, count, seed: 5 });

const cases: Case[] = [
  { name: 'lm V65 H128 B16 k25 adam', spec: lm(65, 128, { batchSize: 16, bptt: { mode: 'truncated', k1: 25, k2: 25 } }), data: randomTokens(20_000, 65, 1) },
  { name: 'lm V20 H16 B1 k1 sgd', spec: lm(20, 16, { batchSize: 1, bptt: { mode: 'truncated', k1: 1, k2: 1 }, optimizer: { name: 'sgd', lr: 0.1 } }), data: randomTokens(500, 20, 2) },
  {
    name: 'lm V1000 H64 B32 k10/50 rmsprop centered momentum',
    spec: lm(1000, 64, { batchSize: 32, bptt: { mode: 'truncated', k1: 10, k2: 50 }, optimizer: { name: 'rmsprop', lr: 0.01, momentum: 0.9, centered: true } }),
    data: randomTokens(40_000, 1000, 3),
  },
  { name: 'lm V100000 H4 B4 k8 (the evaluate case)', spec: lm(100_000, 4, { batchSize: 4, bptt: { mode: 'truncated', k1: 8, k2: 8 } }), data: randomTokens(3_000, 100_000, 4) },
  { name: 'regression I3 O2 H32 B8 full BPTT adagrad', spec: { ...regressionSpec(3, 2, { batchSize: 8, bptt: { mode: 'full' }, optimizer: { name: 'adagrad', lr: 0.01 } }) }, data: vectorStream(800, 3, 2, 5) },
  {
    name: 'regression I10 O1 H256 B128 k20 adamw amsgrad',
    spec: { ...regressionSpec(10, 1, { batchSize: 128, bptt: { mode: 'truncated', k1: 20, k2: 20 }, optimizer: { name: 'adamw', lr: 0.01, amsgrad: true } }), model: { inputKind: 'vectors', inputSize: 10, hiddenSize: 256, outputSize: 1, activation: 'tanh' } },
    data: vectorStream(10_000, 10, 1, 6),
  },
  { name: 'classification vector sequences H64 B16 full', spec: { ...seqSpec(seqs('classification', 'vectors', 60), { batchSize: 16 }), model: { ...seqSpec(seqs('classification', 'vectors', 60)).model, hiddenSize: 64 } }, data: seqs('classification', 'vectors', 60) },
  {
    name: 'regression token sequences H200 B3 k5/10 sgd momentum',
    spec: { ...seqSpec(seqs('regression', 'tokens', 30), { batchSize: 3, bptt: { mode: 'truncated', k1: 5, k2: 10 }, optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9 } }), model: { ...seqSpec(seqs('regression', 'tokens', 30)).model, hiddenSize: 200 } },
    data: seqs('regression', 'tokens', 30),
  },
  { name: 'lm V80 H512 B64 k32 two threads', spec: lm(80, 512, { batchSize: 64, bptt: { mode: 'truncated', k1: 32, k2: 32 } }), data: randomTokens(30_000, 80, 7), threads: 2 },
];

describe('estimateTrainingMemory', () => {
  it('WASM_MAX_BYTES is the kernels module maximum (16384 pages = 1 GiB)', () => {
    expect(WASM_MAX_BYTES).toBe(16384 * 65536);
  });

  it.each(cases)('covers what the arena reaches, within 2×: $name', async ({ spec, data, threads = 1 }) => {
    const kernels = await createWasmKernels({ threads, parallelMinFlops: 0 });
    try {
      const { train, validation } = splitForValidation(data, 0.1);
      const trainer = Trainer.create(spec, train, { kernels, validation });
      for (let i = 0; i < 3; i++) trainer.step();
      if (validation !== null) trainer.evaluate(validation);
      trainer.dispose();
      const actual = kernels.arena.highWaterBytes;
      const estimate = estimateTrainingMemory(spec, shapeOf(data, 0.1), { threads });
      expect(estimate.wasmBytes, `estimate ${estimate.wasmBytes} vs actual ${actual}`).toBeGreaterThanOrEqual(actual);
      expect(estimate.wasmBytes, `estimate ${estimate.wasmBytes} vs actual ${actual}`).toBeLessThanOrEqual(2 * actual);
      expect(estimate.totalBytes).toBe(estimate.wasmBytes + estimate.hostBytes);
    } finally {
      await kernels.close();
    }
  });

  it('names the field to lower: batch for a wide window × batch, bptt for full BPTT, hidden size for big weights', () => {
    const big = estimateTrainingMemory(lm(65, 1024, { batchSize: 1024, bptt: { mode: 'truncated', k1: 1000, k2: 1000 } }), { kind: 'token-stream', length: 5_000_000, sequences: 1 });
    expect(big.dominantParam).toBe('training.batchSize');
    expect(big.wasmBytes).toBeGreaterThan(WASM_MAX_BYTES);
    const vocab = estimateTrainingMemory(lm(100_000, 64, { batchSize: 64 }), { kind: 'token-stream', length: 1_000_000, sequences: 1 });
    expect(vocab.dominantParam).toBe('training.batchSize');
    const full = estimateTrainingMemory(lm(65, 1024, { batchSize: 1, bptt: { mode: 'full' } }), { kind: 'token-stream', length: 1_000_000, sequences: 1 });
    expect(full.dominantParam).toBe('training.bptt');
    expect(full.window.steps).toBe(999_999);
    const weights = estimateTrainingMemory(lm(100_000, 1024, { batchSize: 1, bptt: { mode: 'truncated', k1: 1, k2: 1 } }), { kind: 'token-stream', length: 10_000, sequences: 1 });
    expect(weights.dominantParam).toBe('model.hiddenSize');
  });
});

describe('Trainer.evaluate', () => {
  it('evaluates a 100 000-entry vocabulary in the training workspace: no second, larger one', async () => {
    // 64 MiB of WASM memory: training (window 8 × 4 streams × 100 000 logits) fits; a separate
    // 128-step evaluation window (128 × 4 × 100 000 × 3 buffers ≈ 614 MB) would not
    const kernels = await createWasmKernels({ maximumPages: 1024 });
    try {
      const spec = lm(100_000, 4, { batchSize: 4, bptt: { mode: 'truncated', k1: 8, k2: 8 } });
      const trainer = Trainer.create(spec, randomTokens(2_000, 100_000, 8), { kernels });
      trainer.step();
      const before = kernels.arena.highWaterBytes;
      const metrics = trainer.evaluate(randomTokens(1_000, 100_000, 9));
      expect(Number.isFinite(metrics.loss)).toBe(true);
      expect(metrics.lossCount).toBe(4 * Math.floor(999 / 4));
      expect(kernels.arena.highWaterBytes).toBe(before);
      trainer.dispose();
    } finally {
      await kernels.close();
    }
  });
});
