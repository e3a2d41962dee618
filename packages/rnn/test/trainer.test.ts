// Trainer: step/epoch protocol, non-finite guards (nothing touched), clipping, schedules,
// diagnostics, validation, spec errors.

import { describe, expect, it } from 'vitest';
import type { SequenceSet } from '../src/data/dataset.ts';
import { largestSingularValue } from '../src/diagnostics.ts';
import { NonFiniteError, SpecError } from '../src/errors.ts';
import { paramLayout, viewsOf } from '../src/layout.ts';
import { Trainer } from '../src/trainer.ts';
import { BACKENDS } from './helpers/backends.ts';
import { lmSpec, randomSequences, randomTokens, seqSpec } from './helpers/specs.ts';

const bytes = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

describe.each(BACKENDS)('step / runEpoch protocol ($name kernels)', (backend) => {
  it('step() takes one optimizer step per window and returns null at the end of the epoch', () => {
    const ds = randomTokens(3 * 10 + 1, 5, 1); // L = 10, k1 = 3 → 4 windows
    const t = backend.create(lmSpec(5), ds);
    expect(t.stepsPerEpoch).toBe(4);
    const before = Float32Array.from(t.params);
    const ms = [];
    for (let m = t.step(); m !== null; m = t.step()) ms.push(m);
    expect(ms.map((m) => [m.epoch, m.step, m.globalStep])).toEqual([[0, 0, 1], [0, 1, 2], [0, 2, 3], [0, 3, 4]]);
    expect(ms.map((m) => m.tokens)).toEqual([9, 9, 9, 3]);
    expect(Buffer.compare(bytes(before), bytes(t.params))).not.toBe(0);
    expect(t.epoch).toBe(1);
    expect(t.stepInEpoch).toBe(0);
    expect(t.globalStep).toBe(4);
    const e = t.lastEpochMetrics!;
    expect(e.epoch).toBe(0);
    expect(e.complete).toBe(true);
    expect(e.steps).toBe(4);
    const sum = ms.reduce((s, m) => s + m.lossSum, 0);
    expect(e.loss).toBeCloseTo(sum / 30, 10);
    expect(e.bitsPerChar).toBeCloseTo(e.loss / Math.LN2, 12);
    expect(e.perplexity).toBeCloseTo(Math.exp(e.loss), 10);
  });

  it('runEpoch reports each step and stops early on shouldStop; the next call finishes the epoch', () => {
    const ds = randomTokens(3 * 10 + 1, 5, 1);
    const t = backend.create(lmSpec(5), ds);
    const seen: number[] = [];
    const partial = t.runEpoch({ onStep: (m) => seen.push(m.step), shouldStop: () => seen.length === 2 });
    expect(partial.complete).toBe(false);
    expect(partial.steps).toBe(2);
    expect(t.epoch).toBe(0);
    const full = t.runEpoch({ onStep: (m) => seen.push(m.step) });
    expect(full.complete).toBe(true);
    expect(full.steps).toBe(4);
    expect(seen).toEqual([0, 1, 2, 3]);
    expect(t.epoch).toBe(1);
    expect(t.done).toBe(false);
    t.runEpoch();
    expect(t.done).toBe(true);
  });

  it('the model getter shares the live parameters', () => {
    const t = backend.create(lmSpec(5), randomTokens(40, 5, 1));
    const m = t.model;
    expect(m.params).toBe(t.params);
    t.step();
    expect(t.model).toBe(m);
    expect(m.vocab).toEqual(['a', 'b', 'c', 'd', 'e']);
  });
});

describe.each(BACKENDS)('non-finite guards ($name kernels)', (backend) => {
  it('a NaN weight gives non_finite_loss before anything changes', () => {
    const ds = randomTokens(40, 5, 1);
    const spec = lmSpec(5);
    const layout = paramLayout(5, 8, 5);
    const init = new Float32Array(layout.total).fill(0.1);
    viewsOf(init, layout).Why[3] = Number.NaN;
    const t = backend.create(spec, ds, { initialParams: init });
    const before = Float32Array.from(t.params);
    const ckpt = t.serialize();
    let err: unknown;
    try {
      t.step();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NonFiniteError);
    expect(err).toMatchObject({ code: 'non_finite_loss', epoch: 0, step: 0, param: null });
    expect(Buffer.compare(bytes(before), bytes(t.params))).toBe(0);
    expect(t.globalStep).toBe(0);
    expect(t.stepInEpoch).toBe(0);
    // the data position did not move either: the state is the one before the failed step
    const after = backend.restore(t.serialize(), ds);
    expect(after.globalStep).toBe(backend.restore(ckpt, ds).globalStep);
  });

  it('an overflowing gradient with a finite loss gives non_finite_gradient naming the parameter', () => {
    // relu unit h = 1e21 (float32-representable), target 1e18: loss 1e36 is finite in float32,
    // but ∂L/∂W_hy = 2 (y − target) h ≈ 2e39 overflows float32.
    const ds: SequenceSet = {
      kind: 'sequences', task: 'regression', targetMode: 'many-to-one', inputKind: 'vectors', inputSize: 1, outputSize: 1,
      sequences: [{ inputs: Float32Array.of(1), targets: Float32Array.of(1e18) }],
    };
    const spec = seqSpec(ds, { model: { inputKind: 'vectors', inputSize: 1, hiddenSize: 1, outputSize: 1, activation: 'relu' }, reduction: 'sum' });
    const layout = paramLayout(1, 1, 1);
    const init = new Float32Array(layout.total);
    viewsOf(init, layout).Wxh[0] = 1e21;
    const t = backend.create(spec, ds, { initialParams: init });
    const before = Float32Array.from(t.params);
    let err: unknown;
    try {
      t.step();
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(NonFiniteError);
    expect(err).toMatchObject({ code: 'non_finite_gradient', epoch: 0, step: 0, param: 'fc.weight', index: 0 });
    expect(Buffer.compare(bytes(before), bytes(t.params))).toBe(0);
  });
});

describe.each(BACKENDS)('clipping, schedule, diagnostics ($name kernels)', (backend) => {
  it('norm clipping: clippedGradNorm = maxNorm when clipped, clip rate counts steps', () => {
    const t = backend.create(lmSpec(5, { clip: { mode: 'norm', maxNorm: 1e-3 } }), randomTokens(61, 5, 2));
    const m = t.step()!;
    expect(m.clipped).toBe(true);
    expect(m.gradNorm).toBeGreaterThan(1e-3);
    expect(m.clippedGradNorm).toBeCloseTo(1e-3, 6);
    const e = t.runEpoch();
    expect(e.clipRate).toBe(1);
    expect(e.gradNorm.max).toBeGreaterThanOrEqual(e.gradNorm.mean);
    expect(e.clippedGradNorm.mean).toBeCloseTo(1e-3, 6);
  });

  it('value clipping clamps every gradient element', () => {
    const t = backend.create(lmSpec(5, { clip: { mode: 'value', value: 1e-4 } }), randomTokens(61, 5, 2));
    const m = t.step()!;
    expect(m.clipped).toBe(true);
    const n = t.layout.total;
    expect(m.clippedGradNorm).toBeLessThanOrEqual(1e-4 * Math.sqrt(n) + 1e-9);
  });

  it('step schedule changes the learning rate per epoch', () => {
    const t = backend.create(lmSpec(5, { optimizer: { name: 'sgd', lr: 0.5 }, schedule: { kind: 'step', stepSize: 1, gamma: 0.1 } }), randomTokens(31, 5, 2));
    expect(t.step()!.learningRate).toBe(0.5);
    t.runEpoch();
    expect(t.step()!.learningRate).toBeCloseTo(0.05, 15);
  });

  it('epoch diagnostics: per-parameter norms, ∂L/∂h_t profile over k2, spectral norm, saturation', () => {
    const t = backend.create(lmSpec(5, { bptt: { mode: 'truncated', k1: 2, k2: 6 } }), randomTokens(3 * 30 + 1, 5, 3), {
      validation: randomTokens(40, 5, 4),
    });
    const e = t.runEpoch();
    const names = ['rnn.weight_ih_l0', 'rnn.weight_hh_l0', 'rnn.bias_ih_l0', 'rnn.bias_hh_l0', 'fc.weight', 'fc.bias'];
    expect(Object.keys(e.paramGradNorms)).toEqual(names);
    expect(Object.keys(e.paramNorms)).toEqual(names);
    expect(Object.values(e.paramGradNorms).every((v) => v > 0)).toBe(true);
    expect(e.hiddenGradProfile).toHaveLength(6);
    expect(e.hiddenGradProfile.every((v) => v > 0)).toBe(true);
    // with k1 < k2 the oldest steps receive gradient only through the recurrence
    expect(e.hiddenGradProfile[0]).toBeLessThan(e.hiddenGradProfile[5]);
    const Whh = viewsOf(t.params, t.layout).Whh;
    const v = new Float64Array(8).fill(1 / Math.sqrt(8));
    expect(e.whhSpectralNorm).toBeCloseTo(largestSingularValue(Whh, 8, v, 500), 2);
    expect(e.saturation.measure).toBe('tanh_saturated');
    expect(e.saturation.fraction).toBeGreaterThanOrEqual(0);
    expect(e.tokens).toBe(90);
    expect(e.tokensPerSec).toBeGreaterThan(0);
    expect(e.learningRate).toBe(0.01);
    expect(e.validation).not.toBeNull();
    expect(e.validation!.lossCount).toBe(39);
    expect(e.validation!.bitsPerChar).toBeCloseTo(e.validation!.loss / Math.LN2, 12);
    expect(t.evaluate(randomTokens(40, 5, 4))).toEqual(e.validation);
  });

  it('relu reports the dead-unit fraction', () => {
    const ds = randomSequences({ task: 'regression', targetMode: 'many-to-many', inputKind: 'vectors', count: 6, seed: 1 });
    const t = backend.create(seqSpec(ds, { model: { inputKind: 'vectors', inputSize: 3, hiddenSize: 6, outputSize: 2, activation: 'relu' } }), ds);
    const e = t.runEpoch();
    expect(e.saturation.measure).toBe('relu_dead');
    expect(e.saturation.fraction).toBeGreaterThan(0);
    expect(e.saturation.fraction).toBeLessThan(1);
    expect(e.bitsPerChar).toBeUndefined();
  });
});

describe('spec validation', () => {
  const ds = randomTokens(40, 5, 1);
  const cases: [string, Parameters<typeof lmSpec>[1], string][] = [
    ['model.inputSize', { model: { inputKind: 'tokens', inputSize: 4, hiddenSize: 8, outputSize: 5, activation: 'tanh' } }, 'model.inputSize'],
    ['hidden', { model: { inputKind: 'tokens', inputSize: 5, hiddenSize: 0, outputSize: 5, activation: 'tanh' } }, 'model.hiddenSize'],
    ['task', { task: 'regression' }, 'task'],
    ['batch', { batchSize: 100 }, 'batchSize'],
    ['optimizer', { optimizer: { name: 'adam', lr: -1 } }, 'optimizer.lr'],
    ['clip', { clip: { mode: 'norm', maxNorm: 0 } }, 'clip.maxNorm'],
    ['schedule', { schedule: { kind: 'step', stepSize: 0, gamma: 0.5 } }, 'schedule'],
  ];
  for (const [name, over, field] of cases) {
    it(`rejects a bad ${name}`, () => {
      expect(() => Trainer.create(lmSpec(5, over), ds)).toThrow(SpecError);
      try {
        Trainer.create(lmSpec(5, over), ds);
      } catch (e) {
        expect((e as SpecError).field).toBe(field);
        expect((e as SpecError).code).toBe('invalid_spec');
      }
    });
  }
});
