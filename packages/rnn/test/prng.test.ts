import { describe, expect, it } from 'vitest';
import { Prng } from '../src/prng.ts';
import { torchReference } from './reference/torch-reference.ts';

const ref = torchReference.prng;

describe('Prng (xoshiro128** seeded by splitmix32)', () => {
  it('matches the published xoshiro128** outputs from state (1, 2, 3, 4)', () => {
    const rng = Prng.fromState(Uint32Array.of(1, 2, 3, 4, 0, 0, 0));
    const out = Array.from({ length: 8 }, () => rng.nextUint32());
    expect(out).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849]);
    expect(out).toEqual(ref.state1234);
  });

  it.each(ref.seeds)('seed $seed: state, uint32 and float stream match the independent Python implementation', (c) => {
    const rng = new Prng(c.seed);
    expect(Array.from(rng.getState().subarray(0, 4))).toEqual(c.state);
    expect(Array.from({ length: c.uint32.length }, () => rng.nextUint32())).toEqual(c.uint32);
    expect(Array.from({ length: c.floats.length }, () => rng.nextFloat())).toEqual(c.floats);
  });

  it('is deterministic per seed and differs between seeds', () => {
    const a = new Prng(7), b = new Prng(7), c = new Prng(8);
    const xs = Array.from({ length: 10 }, () => a.nextUint32());
    expect(Array.from({ length: 10 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 10 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it('rejects seeds that are not safe integers', () => {
    expect(() => new Prng(1.5)).toThrow(RangeError);
    expect(() => new Prng(Number.NaN)).toThrow(RangeError);
    expect(() => new Prng(2 ** 60)).toThrow(RangeError);
  });

  it('nextFloat stays in [0, 1) with mean about 1/2; uniform respects its bounds', () => {
    const rng = new Prng(3);
    let sum = 0;
    for (let i = 0; i < 20000; i++) {
      const u = rng.nextFloat();
      expect(u >= 0 && u < 1).toBe(true);
      sum += u;
    }
    expect(sum / 20000).toBeCloseTo(0.5, 1);
    for (let i = 0; i < 1000; i++) {
      const v = rng.uniform(-2, 3);
      expect(v >= -2 && v < 3).toBe(true);
    }
  });

  it('normal() has mean 0 and variance 1 (Box–Muller)', () => {
    const rng = new Prng(11);
    const n = 40000;
    let s = 0, s2 = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.normal();
      s += x;
      s2 += x * x;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.03);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.03);
  });

  it('state saved mid-stream (including a cached normal spare) continues identically', () => {
    const rng = new Prng(99);
    for (let i = 0; i < 5; i++) rng.nextUint32();
    rng.normal(); // leaves the Box–Muller spare cached
    const saved = rng.getState();
    expect(saved.length).toBe(7);
    expect(saved[4]).toBe(1);
    const expected = [rng.normal(), rng.normal(), rng.nextFloat(), rng.nextUint32(), rng.normal()];

    const restored = Prng.fromState(saved);
    expect([restored.normal(), restored.normal(), restored.nextFloat(), restored.nextUint32(), restored.normal()]).toEqual(expected);

    const other = new Prng(1);
    other.setState(saved);
    expect(other.normal()).toBe(expected[0]);
  });

  it('getState returns a copy', () => {
    const rng = new Prng(5);
    const s = rng.getState();
    s[0] ^= 0xffff;
    const fresh = new Prng(5);
    expect(rng.nextUint32()).toBe(fresh.nextUint32());
  });

  it('setState rejects malformed states', () => {
    const rng = new Prng(1);
    expect(() => rng.setState(new Uint32Array(4))).toThrow(/7 words/);
    expect(() => rng.setState(new Uint32Array(7))).toThrow(/all zero/);
    expect(() => rng.setState(Uint32Array.of(1, 2, 3, 4, 2, 0, 0))).toThrow(/hasSpare/);
  });
});
