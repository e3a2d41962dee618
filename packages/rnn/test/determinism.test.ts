// Same seed + spec ⇒ bitwise identical weights; a different seed gives different ones.

import { describe, expect, it } from 'vitest';
import type { Dataset } from '../src/data/dataset.ts';
import type { TrainSpec } from '../src/spec.ts';
import { Trainer } from '../src/trainer.ts';
import { lmSpec, randomSequences, randomTokens, seqSpec } from './helpers/specs.ts';

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function train(spec: TrainSpec, ds: Dataset): { params: Buffer; losses: number[] } {
  const t = Trainer.create(spec, ds);
  const losses: number[] = [];
  for (let e = 0; e < spec.epochs; e++) losses.push(t.runEpoch().loss);
  return { params: bytes(t.params), losses };
}

describe('determinism', () => {
  const lm = randomTokens(200, 6, 1);
  const seqs = randomSequences({ task: 'classification', targetMode: 'many-to-one', inputKind: 'tokens', count: 11, seed: 2 });
  const cases: [string, TrainSpec, Dataset][] = [
    ['LM, adam, TBPTT(3, 5)', lmSpec(6, { epochs: 3 }), lm],
    ['LM, rmsprop, orthogonal init, relu', lmSpec(6, { epochs: 2, optimizer: { name: 'rmsprop', lr: 0.005 }, init: { scheme: 'orthogonal' }, model: { inputKind: 'tokens', inputSize: 6, hiddenSize: 8, outputSize: 6, activation: 'relu' } }), lm],
    ['shuffled sequence set, sgd + nesterov', seqSpec(seqs, { epochs: 3, optimizer: { name: 'sgd', lr: 0.1, momentum: 0.9, nesterov: true } }), seqs],
  ];
  for (const [name, spec, ds] of cases) {
    it(`${name}: two runs are bitwise identical`, () => {
      const a = train(spec, ds);
      const b = train(spec, ds);
      expect(Buffer.compare(a.params, b.params)).toBe(0);
      expect(a.losses).toEqual(b.losses);
    });
    it(`${name}: another seed differs`, () => {
      const a = train(spec, ds);
      const c = train({ ...spec, seed: spec.seed + 1 }, ds);
      expect(Buffer.compare(a.params, c.params)).not.toBe(0);
    });
  }
});
