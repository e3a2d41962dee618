// bench/kernel-profile.ts: the timing wrapper must not change what training computes, and its
// report must account for the kernels and (two threads) the split calls it saw.

import { describe, expect, it } from 'vitest';
import { profileKernels } from '../bench/kernel-profile.ts';
import { jsKernels } from '../src/kernels/js.ts';
import { createWasmKernels } from '../src/kernels/wasm/backend.ts';
import { Trainer } from '../src/trainer.ts';
import { lmSpec, randomTokens } from './helpers/specs.ts';

describe('kernel profile (bench/engine.ts --profile)', () => {
  it('times every compute kernel per step and leaves the weights bit for bit unchanged', () => {
    const spec = lmSpec(11, { model: { inputKind: 'tokens', inputSize: 11, hiddenSize: 16, outputSize: 11, activation: 'tanh' } });
    const data = randomTokens(400, 11, 3);
    const plain = Trainer.create(spec, data, { kernels: jsKernels });
    const profile = profileKernels(jsKernels);
    const timed = Trainer.create(spec, data, { kernels: profile.kernels });
    profile.start();
    for (let i = 0; i < 4; i++) {
      plain.step();
      timed.step();
    }
    expect(Array.from(timed.params)).toEqual(Array.from(plain.params));
    const report = profile.report(4);
    const byName = new Map(report.kernels.map((r) => [r.kernel, r]));
    for (const k of ['matmulTN', 'matmulNN', 'gatherColumnsAdd', 'scatterColumnsAdd', 'softmaxCrossEntropyForward', 'sumSquares']) {
      expect(byName.get(k)?.callsPerStep, k).toBeGreaterThan(0);
    }
    expect(byName.has('alloc')).toBe(false);
    expect(report.bands).toEqual([]); // the JS backend splits nothing
  });

  it('on two WASM threads, parts each split call into the own band and the wait', async () => {
    const kernels = await createWasmKernels({ threads: 2, parallelMinFlops: 0 });
    try {
      const spec = lmSpec(65, {
        // window passes of 32·32·128 and 32·32·65 floats: above the split threshold (2¹⁶)
        model: { inputKind: 'tokens', inputSize: 65, hiddenSize: 128, outputSize: 65, activation: 'tanh' }, batchSize: 32,
        bptt: { mode: 'truncated', k1: 32, k2: 32 },
      });
      const profile = profileKernels(kernels);
      const trainer = Trainer.create(spec, randomTokens(40_000, 65, 4), { kernels: profile.kernels });
      trainer.step();
      profile.start();
      for (let i = 0; i < 3; i++) trainer.step();
      const { bands } = profile.report(3);
      const kinds = new Set(bands.map((b) => b.kind));
      for (const kind of ['rnn-forward', 'rnn-backward', 'tn', 'softmax-rows', 'gather-rows']) expect(kinds.has(kind), kind).toBe(true);
      for (const b of bands) {
        expect(b.ownMsPerStep).toBeGreaterThan(0);
        expect(b.ownMsPerStep).toBeLessThanOrEqual(b.msPerStep);
        expect(b.waitMsPerStep).toBeCloseTo(b.msPerStep - b.ownMsPerStep, 3);
      }
      trainer.dispose();
    } finally {
      await kernels.close();
    }
  });
});
