import { describe, expect, it } from 'vitest';
import { Prng } from '../src/prng.ts';
import { argmax, sampleFromLogits, softmaxInto, topKIndices } from '../src/sampling.ts';

describe('softmaxInto', () => {
  it('computes softmax(logits / T) and sums to 1', () => {
    const out = new Float64Array(3);
    softmaxInto(out, Float64Array.of(1, 2, 3), 1);
    const z = Math.exp(1) + Math.exp(2) + Math.exp(3);
    expect(Array.from(out).map((x) => +x.toFixed(12))).toEqual([Math.exp(1) / z, Math.exp(2) / z, Math.exp(3) / z].map((x) => +x.toFixed(12)));
    softmaxInto(out, Float64Array.of(1, 2, 3), 2);
    expect(out[2] / out[1]).toBeCloseTo(Math.exp(0.5), 12);
  });

  it('is numerically stable for huge logits', () => {
    const out = new Float64Array(2);
    softmaxInto(out, Float32Array.of(1000, 999), 1);
    expect(out[0]).toBeCloseTo(1 / (1 + Math.exp(-1)), 12);
    softmaxInto(out, Float64Array.of(-1e6, -1e6 - 1), 0.01);
    expect(out[0]).toBe(1);
    expect(Number.isFinite(out[1])).toBe(true);
  });

  it('rejects T ≤ 0 and mismatched lengths', () => {
    expect(() => softmaxInto(new Float64Array(2), Float64Array.of(1, 2), 0)).toThrow(/temperature/);
    expect(() => softmaxInto(new Float64Array(1), Float64Array.of(1, 2), 1)).toThrow(/slots/);
  });
});

describe('sampleFromLogits', () => {
  it('temperature 0 is argmax with ties to the lower index, and consumes no randomness', () => {
    const rng = new Prng(1);
    const before = rng.getState();
    expect(sampleFromLogits(Float32Array.of(0.1, 3, 3, -1), { temperature: 0 }, rng)).toBe(1);
    expect(rng.getState()).toEqual(before);
    expect(argmax(Float64Array.of(5, 5))).toBe(0);
  });

  it('frequencies follow softmax(logits / T)', () => {
    const logits = Float64Array.of(0, 1, 2);
    const rng = new Prng(42);
    const n = 30000;
    for (const T of [1, 0.5]) {
      const counts = [0, 0, 0];
      for (let i = 0; i < n; i++) counts[sampleFromLogits(logits, { temperature: T }, rng)]++;
      const p = new Float64Array(3);
      softmaxInto(p, logits, T);
      for (let k = 0; k < 3; k++) expect(Math.abs(counts[k] / n - p[k])).toBeLessThan(0.015);
    }
  });

  it('topK keeps only the K largest logits (ties by lower index)', () => {
    const logits = Float64Array.of(1, 5, 3, 5, 4);
    expect(topKIndices(logits, 3)).toEqual([1, 3, 4]);
    const rng = new Prng(9);
    const seen = new Set<number>();
    for (let i = 0; i < 2000; i++) seen.add(sampleFromLogits(logits, { temperature: 1, topK: 2 }, rng));
    expect([...seen].sort()).toEqual([1, 3]);
    for (let i = 0; i < 50; i++) expect(sampleFromLogits(logits, { temperature: 3, topK: 1 }, rng)).toBe(1);
    // topK ≥ V is no restriction
    const all = new Set<number>();
    for (let i = 0; i < 3000; i++) all.add(sampleFromLogits(logits, { temperature: 5, topK: 99 }, rng));
    expect(all.size).toBe(5);
  });

  it('is deterministic for a seed', () => {
    const logits = Float32Array.of(0.3, 0.1, 0.5, 0.2);
    const draw = (seed: number) => {
      const rng = new Prng(seed);
      return Array.from({ length: 20 }, () => sampleFromLogits(logits, { temperature: 1 }, rng));
    };
    expect(draw(3)).toEqual(draw(3));
  });

  it('rejects bad options and NaN logits', () => {
    const rng = new Prng(1);
    expect(() => sampleFromLogits(Float64Array.of(1), { temperature: -1 }, rng)).toThrow(/temperature/);
    expect(() => sampleFromLogits(Float64Array.of(1), { temperature: 1, topK: 0 }, rng)).toThrow(/topK/);
    expect(() => sampleFromLogits(Float64Array.of(1, Number.NaN), { temperature: 1 }, rng)).toThrow(/NaN/);
    expect(() => sampleFromLogits(new Float64Array(0), { temperature: 1 }, rng)).toThrow(/empty/);
  });
});
