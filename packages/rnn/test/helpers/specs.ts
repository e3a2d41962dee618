// Small TrainSpecs and datasets for trainer-level tests.

import type { SequenceSet, TokenStream } from '../../src/data/dataset.ts';
import { Prng } from '../../src/prng.ts';
import type { TrainSpec } from '../../src/spec.ts';

export function lmSpec(V: number, over: Partial<TrainSpec> = {}): TrainSpec {
  return {
    task: 'lm',
    model: { inputKind: 'tokens', inputSize: V, hiddenSize: 8, outputSize: V, activation: 'tanh' },
    init: { scheme: 'pytorch' },
    optimizer: { name: 'adam', lr: 0.01 },
    schedule: { kind: 'constant' },
    clip: { mode: 'norm', maxNorm: 5 },
    bptt: { mode: 'truncated', k1: 3, k2: 5 },
    reduction: 'mean',
    batchSize: 3,
    epochs: 2,
    seed: 7,
    ...over,
  };
}

export function randomTokens(n: number, V: number, seed: number): TokenStream {
  const rng = new Prng(seed);
  const tokens = Int32Array.from({ length: n }, () => rng.nextUint32() % V);
  return { kind: 'token-stream', tokens, vocab: Array.from({ length: V }, (_, i) => String.fromCharCode(97 + i)) };
}

/** Sequences of varying length: regression or classification, many-to-many or many-to-one. */
export function randomSequences(
  o: { task: 'regression' | 'classification'; targetMode: 'many-to-many' | 'many-to-one'; inputKind: 'tokens' | 'vectors'; count: number; seed: number; withMask?: boolean },
): SequenceSet {
  const rng = new Prng(o.seed);
  const I = o.inputKind === 'tokens' ? 5 : 3;
  const O = o.task === 'classification' ? 3 : 2;
  const sequences = [];
  for (let s = 0; s < o.count; s++) {
    const T = 2 + (rng.nextUint32() % 6);
    const inputs = o.inputKind === 'tokens' ? Int32Array.from({ length: T }, () => rng.nextUint32() % I) : Float32Array.from({ length: T * I }, () => rng.normal());
    const rows = o.targetMode === 'many-to-one' ? 1 : T;
    const targets = o.task === 'classification' ? Int32Array.from({ length: rows }, () => rng.nextUint32() % O) : Float32Array.from({ length: rows * O }, () => rng.normal());
    const seq: SequenceSet['sequences'][number] = { inputs, targets };
    if (o.withMask && o.targetMode === 'many-to-many') seq.mask = Uint8Array.from({ length: T }, (_, t) => (t % 3 === 1 ? 0 : 1));
    sequences.push(seq);
  }
  return { kind: 'sequences', task: o.task, targetMode: o.targetMode, inputKind: o.inputKind, inputSize: I, outputSize: O, sequences };
}

export function seqSpec(ds: SequenceSet, over: Partial<TrainSpec> = {}): TrainSpec {
  return {
    task: ds.task,
    model: { inputKind: ds.inputKind, inputSize: ds.inputSize, hiddenSize: 6, outputSize: ds.outputSize, activation: 'tanh' },
    init: { scheme: 'xavier' },
    optimizer: { name: 'adam', lr: 0.01 },
    schedule: { kind: 'constant' },
    clip: { mode: 'none' },
    bptt: { mode: 'full' },
    reduction: 'mean',
    batchSize: 3,
    epochs: 2,
    seed: 3,
    ...over,
  };
}
