import { describe, expect, it } from 'vitest';
import { initParams, randomOrthogonal, signCorrectedQ } from '../src/init.ts';
import { paramLayout, viewsOf, type ParamName } from '../src/layout.ts';
import { Prng } from '../src/prng.ts';
import type { InitSpec } from '../src/spec.ts';
import { torchReference } from './reference/torch-reference.ts';

const layout = paramLayout(5, 16, 3);

function init(spec: InitSpec, seed = 1, ctor: Float32ArrayConstructor | Float64ArrayConstructor = Float64Array) {
  const buf = new ctor(layout.total);
  initParams(buf, layout, spec, new Prng(seed));
  return buf;
}

function stats(xs: ArrayLike<number>) {
  let s = 0, s2 = 0, maxAbs = 0;
  for (let i = 0; i < xs.length; i++) {
    s += xs[i];
    s2 += xs[i] * xs[i];
    maxAbs = Math.max(maxAbs, Math.abs(xs[i]));
  }
  return { mean: s / xs.length, std: Math.sqrt(s2 / xs.length - (s / xs.length) ** 2), maxAbs };
}

/** max |W·Wᵀ − c·I| for an (n, n) row-major W. */
function orthogonalityError(w: ArrayLike<number>, n: number, c: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let k = 0; k < n; k++) dot += w[i * n + k] * w[j * n + k];
      worst = Math.max(worst, Math.abs(dot - (i === j ? c : 0)));
    }
  }
  return worst;
}

const BIASES: ParamName[] = ['bih', 'bhh', 'by'];

describe('initParams', () => {
  it('is a pure function of (seed, spec, shapes)', () => {
    for (const spec of [{ scheme: 'pytorch' }, { scheme: 'orthogonal' }, { scheme: 'normal' }] as InitSpec[]) {
      expect(init(spec, 7)).toEqual(init(spec, 7));
      expect(init(spec, 7)).not.toEqual(init(spec, 8));
      // float32 holds the float64 values rounded
      expect(init(spec, 7, Float32Array)).toEqual(Float32Array.from(init(spec, 7)));
    }
  });

  it("'pytorch': every tensor U(-1/√H, 1/√H), drawn in layout order", () => {
    const buf = init({ scheme: 'pytorch' }, 3);
    const k = 1 / Math.sqrt(layout.H);
    const rng = new Prng(3);
    for (let i = 0; i < buf.length; i++) expect(buf[i]).toBe(rng.uniform(-k, k));
    const v = viewsOf(buf, layout);
    for (const name of ['Wxh', 'Whh', 'bih', 'bhh', 'Why', 'by'] as ParamName[]) {
      expect(stats(v[name]).maxAbs).toBeLessThanOrEqual(k);
    }
    const s = stats(buf);
    expect(Math.abs(s.mean)).toBeLessThan(0.05);
    expect(s.std).toBeCloseTo(k / Math.sqrt(3), 1);
  });

  it("'xavier': matrices within gain·√(6/(fan_in+fan_out)), biases zero", () => {
    const buf = init({ scheme: 'xavier', gain: 2 });
    const v = viewsOf(buf, layout);
    const bound = (fanIn: number, fanOut: number) => 2 * Math.sqrt(6 / (fanIn + fanOut));
    expect(stats(v.Wxh).maxAbs).toBeLessThanOrEqual(bound(5, 16));
    expect(stats(v.Whh).maxAbs).toBeLessThanOrEqual(bound(16, 16));
    expect(stats(v.Whh).maxAbs).toBeGreaterThan(0.8 * bound(16, 16));
    expect(stats(v.Why).maxAbs).toBeLessThanOrEqual(bound(16, 3));
    for (const b of BIASES) expect(stats(v[b]).maxAbs).toBe(0);
  });

  it("'orthogonal': Whh·Whhᵀ = gain²·I, Xavier input/output weights, zero biases", () => {
    const v64 = viewsOf(init({ scheme: 'orthogonal', gain: 1.5 }), layout);
    expect(orthogonalityError(v64.Whh, 16, 2.25)).toBeLessThan(1e-12);
    const v32 = viewsOf(init({ scheme: 'orthogonal' }, 5, Float32Array), layout);
    expect(orthogonalityError(v32.Whh, 16, 1)).toBeLessThan(1e-6);
    expect(stats(v64.Wxh).maxAbs).toBeLessThanOrEqual(Math.sqrt(6 / 21));
    for (const b of BIASES) expect(stats(v64[b]).maxAbs).toBe(0);
  });

  it.each(torchReference.orthogonal)('signCorrectedQ equals torch orthogonal_ QR with sign(diag R) (n = $n)', (c) => {
    const q = signCorrectedQ(Float64Array.from(c.a), c.n);
    c.q.forEach((v, i) => expect(q[i]).toBeCloseTo(v, 12));
  });

  it('randomOrthogonal handles larger sizes accurately', () => {
    expect(orthogonalityError(randomOrthogonal(64, new Prng(2)), 64, 1)).toBeLessThan(1e-12);
  });

  it("'identity' (IRNN): Whh = gain·I, small-normal Wxh/Why, zero biases", () => {
    const v = viewsOf(init({ scheme: 'identity', gain: 0.5 }), layout);
    for (let i = 0; i < 16; i++) for (let j = 0; j < 16; j++) expect(v.Whh[i * 16 + j]).toBe(i === j ? 0.5 : 0);
    expect(stats(v.Wxh).maxAbs).toBeGreaterThan(0);
    expect(stats(v.Wxh).maxAbs).toBeLessThan(0.006);
    expect(stats(v.Why).std).toBeLessThan(0.003);
    for (const b of BIASES) expect(stats(v[b]).maxAbs).toBe(0);
    expect(viewsOf(init({ scheme: 'identity' }), layout).Whh[0]).toBe(1);
  });

  it("'normal' (min-char-rnn): N(0, std²) matrices, default std 0.01, zero biases", () => {
    const big = paramLayout(50, 100, 50);
    const buf = new Float64Array(big.total);
    initParams(buf, big, { scheme: 'normal' }, new Prng(4));
    const v = viewsOf(buf, big);
    expect(stats(v.Whh).std).toBeCloseTo(0.01, 3);
    expect(Math.abs(stats(v.Whh).mean)).toBeLessThan(0.0005);
    initParams(buf, big, { scheme: 'normal', std: 0.1 }, new Prng(4));
    expect(stats(v.Why).std).toBeCloseTo(0.1, 2);
    for (const b of BIASES) expect(stats(v[b]).maxAbs).toBe(0);
  });

  it('rejects a wrong buffer length and bad gains', () => {
    expect(() => initParams(new Float32Array(3), layout, { scheme: 'pytorch' }, new Prng(1))).toThrow(/needs/);
    expect(() => init({ scheme: 'xavier', gain: 0 })).toThrow(/gain/);
    expect(() => init({ scheme: 'normal', std: -1 })).toThrow(/std/);
    expect(() => init({ scheme: 'bogus' } as never)).toThrow(/unknown init scheme/);
  });
});
