// The WASM SIMD backend against the plain TypeScript reference: every kernel, on random shapes
// including edge sizes (1×1, odd, not multiples of the 4-row / 8-column blocks), overwrite and
// accumulate, zero-copy buffers from the backend's memory and foreign Float32Arrays.

import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { jsKernels } from '../src/kernels/js.ts';
import { assemble, kernelSource } from '../src/kernels/wasm/build.ts';
import { type WasmKernels, createWasmKernels, createWasmKernelsSync } from '../src/kernels/wasm/backend.ts';
import { buildCachedKernelBinary, defaultVariant, loadKernelModule, loadKernelModuleSync } from '../src/kernels/wasm/load.ts';
import { DEFAULT_BLOCKING } from '../src/kernels/wasm/wat/gemm.ts';
import { relaxedSimdAvailable } from '../src/kernels/wasm/relaxed-simd.ts';
import { PLAIN_VARIANT } from '../src/kernels/wasm/wat/module.ts';
import type { Dataset } from '../src/data/dataset.ts';
import type { TrainSpec } from '../src/spec.ts';
import { createOptimizer, type OptimizerSpecInput } from '../src/optim.ts';
import { Trainer } from '../src/trainer.ts';
import { lmSpec, randomSequences, randomTokens, seqSpec } from './helpers/specs.ts';

// the default backend (fma where relaxed SIMD is available) and, for the GEMMs, the plain build
let wk: WasmKernels;
const gemmBackends: Record<string, WasmKernels> = {};
const BUILDS = ['mul+add', ...(relaxedSimdAvailable() ? ['fma'] : [])];
beforeAll(async () => {
  wk = await createWasmKernels();
  gemmBackends['mul+add'] = await createWasmKernels({ fma: false });
  if (BUILDS.includes('fma')) gemmBackends.fma = await createWasmKernels({ fma: true });
});

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A buffer in the wasm memory and an identical plain Float32Array. */
function pair(n: number, rand: () => number, scale = 1, backend = wk): [Float32Array, Float32Array] {
  const w = backend.alloc(n, 'float32') as Float32Array;
  for (let i = 0; i < n; i++) w[i] = (rand() * 2 - 1) * scale;
  return [w, Float32Array.from(w)];
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: (i: number) => number, what: string): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i] - expected[i]);
    if (!(diff <= tol(i))) {
      throw new Error(`${what}: element ${i}: wasm ${actual[i]} vs js ${expected[i]} (|diff| ${diff} > ${tol(i)})`);
    }
  }
}

type Product = 'matmulNT' | 'matmulNN' | 'matmulTN';
const aSize = (M: number, K: number): number => M * K;
const bSize = (N: number, K: number): number => N * K;

// [M, N, K]: 1×1, odd, below / across / not multiples of every block size, BPTT shapes, K = 0
const SHAPES: [number, number, number][] = [
  [1, 1, 1], [1, 1, 5], [2, 3, 1], [3, 5, 7], [4, 8, 4], [4, 16, 16], [5, 9, 3], [7, 13, 11],
  [9, 17, 33], [13, 31, 29], [16, 65, 128], [32, 128, 128], [33, 7, 2], [1, 37, 19], [6, 4, 0],
  [5, 9, 300], [3, 17, 257], [9, 20, 64], // K longer than the K chunk, and a whole number of chunks
  [70, 20, 130], [131, 9, 65], [128, 8, 3], // M over the row panel, and a whole number of panels
  [1, 100, 100], [5, 70, 9], [1, 8, 40], // single rows: the wide 1-row blocks, their 4-column and scalar edges
];

describe('wasm GEMM kernels vs JS reference', () => {
  for (const build of BUILDS) for (const product of ['matmulNT', 'matmulNN', 'matmulTN'] as Product[]) {
    for (const accumulate of [false, true]) {
      it(`${product} accumulate=${accumulate} (${build})`, () => {
        const g = gemmBackends[build];
        expect(g.fma).toBe(build === 'fma');
        const rand = rng(product.length * 7 + (accumulate ? 1 : 0));
        for (const [M, N, K] of SHAPES) {
          const [a, aRef] = pair(aSize(M, K), rand, 1, g);
          const [b, bRef] = pair(bSize(N, K), rand, 1, g);
          const [out, outRef] = pair(M * N, rand, 1, g);
          g[product](out, a, b, M, N, K, accumulate);
          jsKernels[product](outRef, aRef, bRef, M, N, K, accumulate);
          // bound: float32 rounding of each of K products and sums of magnitudes Σ|a||b| (+|out|)
          const mag = new Float64Array(M * N);
          const abs = (x: Float32Array): Float64Array => Float64Array.from(x, Math.abs);
          jsKernels[product](mag, abs(aRef), abs(bRef), M, N, K, false);
          expectClose(out, outRef, (i) => (K + 2) * 1.2e-7 * (mag[i] + (accumulate ? 1 : 0)) + 1e-30, `${product} ${M}x${N}x${K}`);
          for (const buf of [a, b, out]) g.free(buf);
        }
      });
    }
  }

  it('overwrite ignores whatever the output held (NaN included)', () => {
    const rand = rng(3);
    for (const product of ['matmulNT', 'matmulNN', 'matmulTN'] as Product[]) {
      const [M, N, K] = [5, 11, 6];
      const [a, aRef] = pair(M * K, rand);
      const [b, bRef] = pair(N * K, rand);
      const out = wk.alloc(M * N, 'float32') as Float32Array;
      out.fill(Number.NaN);
      const outRef = new Float32Array(M * N);
      wk[product](out, a, b, M, N, K, false);
      jsKernels[product](outRef, aRef, bRef, M, N, K, false);
      expectClose(out, outRef, () => 1e-5, product);
    }
  });

  it('works on subarray views (the engine slices hs per step)', () => {
    const rand = rng(4);
    const [M, N, K] = [6, 10, 9];
    const [big, bigRef] = pair(3 * M * K, rand);
    const [w, wRef] = pair(N * K, rand);
    const [out, outRef] = pair(M * N, rand);
    wk.matmulNT(out, big.subarray(M * K, 2 * M * K), w, M, N, K, true);
    jsKernels.matmulNT(outRef, bigRef.subarray(M * K, 2 * M * K), wRef, M, N, K, true);
    expectClose(out, outRef, () => 1e-5, 'subarray');
  });

  it('foreign Float32Arrays are copied in and out; float64 runs on the JS reference', () => {
    const rand = rng(5);
    const [M, N, K] = [7, 9, 5];
    const a = Float32Array.from({ length: M * K }, () => rand() - 0.5);
    const b = Float32Array.from({ length: K * N }, () => rand() - 0.5);
    const out = Float32Array.from({ length: M * N }, () => rand() - 0.5);
    const outRef = Float32Array.from(out);
    wk.matmulNN(out, a, b, M, N, K, true);
    jsKernels.matmulNN(outRef, a, b, M, N, K, true);
    expect(wk.owns(out)).toBe(false);
    expectClose(out, outRef, () => 1e-5, 'foreign');
    // in-place activation on a foreign array: same array as input and output
    const h = Float32Array.from({ length: 13 }, () => rand() * 4 - 2);
    const hRef = Float32Array.from(h);
    wk.actForward(h, h, 13, 'tanh');
    jsKernels.actForward(hRef, hRef, 13, 'tanh');
    expectClose(h, hRef, () => 1e-6, 'foreign in-place tanh');

    const a64 = Float64Array.from(a);
    const b64 = Float64Array.from(b);
    const o64 = wk.alloc(M * N, 'float64');
    expect(o64).toBeInstanceOf(Float64Array);
    const oRef64 = new Float64Array(M * N);
    wk.matmulNN(o64, a64, b64, M, N, K, false);
    jsKernels.matmulNN(oRef64, a64, b64, M, N, K, false);
    expect(Array.from(o64)).toEqual(Array.from(oRef64));
  });

  it('rejects buffers too small for the stated shape', () => {
    const a = wk.alloc(6, 'float32');
    const b = wk.alloc(6, 'float32');
    const out = wk.alloc(3, 'float32');
    expect(() => wk.matmulNT(out, a, b, 2, 2, 3, false)).toThrow(/matmulNT out: needs 4 elements, got 3/);
  });
});

describe('wasm elementwise kernels vs JS reference', () => {
  const SIZES = [1, 3, 4, 5, 16, 33, 127, 4096];

  it('tanh forward (in place and not) and backward', () => {
    const rand = rng(11);
    for (const n of SIZES) {
      const [pre, preRef] = pair(n, rand, 6);
      if (n > 8) pre.set([0, -0, 20, -20, 1e-6, -1e-30, 7.9, -8]), preRef.set(pre.subarray(0, 8));
      const out = wk.alloc(n, 'float32') as Float32Array;
      const outRef = new Float32Array(n);
      wk.actForward(out, pre, n, 'tanh');
      jsKernels.actForward(outRef, preRef, n, 'tanh');
      expectClose(out, outRef, (i) => 5e-7 * Math.max(Math.abs(outRef[i]), 1e-30) + 1e-37, `tanh n=${n}`);
      wk.actForward(pre, pre, n, 'tanh');
      expectClose(pre, out, () => 0, `tanh in place n=${n}`);

      const [dh, dhRef] = pair(n, rand);
      const dpre = wk.alloc(n, 'float32') as Float32Array;
      const dpreRef = new Float32Array(n);
      wk.actBackward(dpre, dh, out, n, 'tanh');
      jsKernels.actBackward(dpreRef, dhRef, out, n, 'tanh');
      expectClose(dpre, dpreRef, (i) => 2.5e-7 * Math.abs(dhRef[i]), `tanh backward n=${n}`);
    }
  });

  it('tanh and softmax keep NaN (so the trainer\'s non-finite checks see it), in vector lanes and tails', () => {
    const n = 7; // one f32x4 step and a 3-element scalar tail
    const pre = wk.alloc(n, 'float32') as Float32Array;
    pre.set([NaN, 1, Infinity, -Infinity, 0.5, NaN, -2]);
    wk.actForward(pre, pre, n, 'tanh');
    expect(Array.from(pre)).toEqual([NaN, Math.fround(Math.tanh(1)), 1, -1, expect.closeTo(Math.tanh(0.5), 6), NaN, expect.closeTo(Math.tanh(-2), 6)]);
    const logits = wk.alloc(2 * n, 'float32') as Float32Array;
    logits.set([NaN, 1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, NaN, 7]);
    const probs = wk.alloc(2 * n, 'float32') as Float32Array;
    const losses = new Float32Array(2);
    wk.softmaxCrossEntropyForward(probs, losses, logits, Int32Array.of(1, 2), 2, n);
    expect(Number.isNaN(losses[0]) && Number.isNaN(losses[1])).toBe(true);
  });

  it('relu forward and backward match exactly (NaN and -0 give 0)', () => {
    const rand = rng(12);
    for (const n of SIZES) {
      const [pre, preRef] = pair(n, rand);
      if (n >= 4) pre.set([Number.NaN, -0, 0, 1e-40]), preRef.set(pre.subarray(0, 4));
      const out = wk.alloc(n, 'float32') as Float32Array;
      const outRef = new Float32Array(n);
      wk.actForward(out, pre, n, 'relu');
      jsKernels.actForward(outRef, preRef, n, 'relu');
      expect(Array.from(out)).toEqual(Array.from(outRef));
      const [dh, dhRef] = pair(n, rand);
      const dpre = wk.alloc(n, 'float32') as Float32Array;
      const dpreRef = new Float32Array(n);
      wk.actBackward(dpre, dh, out, n, 'relu');
      jsKernels.actBackward(dpreRef, dhRef, outRef, n, 'relu');
      expect(Array.from(dpre)).toEqual(Array.from(dpreRef));
    }
  });

  it('fused backward step (actBackwardAdd) and saturation counts, tanh and relu', () => {
    const rand = rng(13);
    for (const n of SIZES) {
      for (const act of ['tanh', 'relu'] as const) {
        const [pre, preRef] = pair(n, rand, 3);
        if (n > 8) pre.set([0.99, -0.99, 0.9900001, -0.98999995, 0, -0, 20, -20]), preRef.set(pre.subarray(0, 8));
        const h = wk.alloc(n, 'float32') as Float32Array;
        const hRef = new Float32Array(n);
        // saturation counts use the values as given (exact comparisons), then on activations
        expect(wk.countSaturated(pre, n, act), `count ${act} n=${n} on raw values`).toBe(jsKernels.countSaturated(preRef, n, act));
        wk.actForward(h, pre, n, act);
        hRef.set(h);
        expect(wk.countSaturated(h, n, act), `count ${act} n=${n}`).toBe(jsKernels.countSaturated(hRef, n, act));
        const [dhA, dhARef] = pair(n, rand);
        const [dhB, dhBRef] = pair(n, rand);
        const dhSum = Float32Array.from(dhARef, (a, i) => a + dhBRef[i]);
        const sq = wk.actBackwardAdd(dhA, dhA, dhB, h, n, act);
        const sqRef = jsKernels.actBackwardAdd(dhARef, dhARef, dhBRef, hRef, n, act);
        expect(Math.abs(sq - sqRef), `Σ dh² ${act} n=${n}: ${sq} vs ${sqRef}`).toBeLessThanOrEqual(1e-5 * sqRef + 1e-30);
        const tol = act === 'relu' ? () => 0 : (i: number) => 2.5e-7 * Math.abs(dhSum[i]);
        expectClose(dhA, dhARef, tol, `actBackwardAdd ${act} n=${n}`);
      }
    }
  });

  it('bias add and bias gradient', () => {
    const rand = rng(13);
    for (const [N, C] of [[1, 1], [3, 5], [4, 8], [7, 65], [32, 128], [2, 3]]) {
      const [out, outRef] = pair(N * C, rand);
      const [bias, biasRef] = pair(C, rand);
      wk.addBias(out, bias, N, C);
      jsKernels.addBias(outRef, biasRef, N, C);
      expect(Array.from(out)).toEqual(Array.from(outRef)); // one f32 add each: exact
      const [dbias, dbiasRef] = pair(C, rand);
      wk.biasGradAdd(dbias, out, N, C);
      jsKernels.biasGradAdd(dbiasRef, outRef, N, C);
      expect(Array.from(dbias)).toEqual(Array.from(dbiasRef)); // same order of f32 adds: exact
    }
  });

  it('transpose (tiles of 4 × 4 blocks): exact on every shape, tile edges and remainders included', () => {
    const rand = rng(15);
    for (const [R, C] of [[1, 1], [1, 7], [7, 1], [3, 5], [4, 4], [16, 16], [17, 33], [20, 4], [33, 18], [512, 65], [65, 512]]) {
      const [input] = pair(R * C, rand);
      const out = wk.alloc(R * C + 1, 'float32') as Float32Array;
      out[R * C] = 42; // nothing written past the end
      wk.exports.transpose(out.byteOffset, input.byteOffset, R, C);
      for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) if (out[c * R + r] !== input[r * C + c]) throw new Error(`${R}x${C}: (${r}, ${c})`);
      expect(out[R * C]).toBe(42);
      wk.free(input);
      wk.free(out);
    }
  });

  it('token column gather / scatter, padding ids skipped, out-of-range ids rejected', () => {
    const rand = rng(14);
    // B < I walks columns, B ≥ I goes through the transposed weights
    for (const [B, H, I] of [[1, 1, 1], [5, 7, 3], [32, 128, 65], [3, 9, 200], [70, 9, 65], [300, 130, 65]]) {
      const ids = Int32Array.from({ length: B }, (_, b) => (b % 4 === 3 ? -1 : Math.floor(rand() * I)));
      const [W, WRef] = pair(H * I, rand);
      const [out, outRef] = pair(B * H, rand);
      wk.gatherColumnsAdd(out, ids, W, B, H, I);
      jsKernels.gatherColumnsAdd(outRef, ids, WRef, B, H, I);
      expect(Array.from(out)).toEqual(Array.from(outRef));
      const [dW, dWRef] = pair(H * I, rand);
      wk.scatterColumnsAdd(dW, ids, out, B, H, I);
      jsKernels.scatterColumnsAdd(dWRef, ids, outRef, B, H, I);
      expect(Array.from(dW)).toEqual(Array.from(dWRef));
    }
    const W = wk.alloc(6, 'float32');
    const out = wk.alloc(4, 'float32');
    expect(() => wk.gatherColumnsAdd(out, Int32Array.of(0, 3), W, 2, 2, 3)).toThrow(/token id 3 out of range \[0, 3\)/);
    expect(() => wk.scatterColumnsAdd(W, Int32Array.of(5, 0), out, 2, 2, 3)).toThrow(RangeError);
  });

  it('softmax cross-entropy forward and backward, masked rows, extreme logits', () => {
    const rand = rng(15);
    for (const [N, C] of [[1, 1], [3, 2], [5, 7], [64, 65], [9, 128], [2, 1000]]) {
      const [logits, logitsRef] = pair(N * C, rand, 8);
      if (C >= 4) logits.set([100, -100, 0, 88], 0), logitsRef.set(logits.subarray(0, 4)); // probs underflow
      const targets = Int32Array.from({ length: N }, (_, r) => (r % 5 === 4 ? -1 : Math.floor(rand() * C)));
      targets[0] = C >= 2 ? 1 : 0; // the -100 logit: log-sum-exp keeps the loss finite
      const probs = wk.alloc(N * C, 'float32') as Float32Array;
      const losses = wk.alloc(N, 'float32') as Float32Array;
      const probsRef = new Float32Array(N * C);
      const lossesRef = new Float32Array(N);
      wk.softmaxCrossEntropyForward(probs, losses, logits, targets, N, C);
      jsKernels.softmaxCrossEntropyForward(probsRef, lossesRef, logitsRef, targets, N, C);
      expectClose(probs, probsRef, (i) => 1e-6 * probsRef[i] + 1e-37, `probs ${N}x${C}`);
      expectClose(losses, lossesRef, (i) => 1e-6 * Math.abs(lossesRef[i]) + 1e-6, `losses ${N}x${C}`);
      expect(Number.isFinite(losses[0])).toBe(true);

      const [dlogits, dlogitsRef] = pair(N * C, rand);
      wk.softmaxCrossEntropyBackward(dlogits, probs, targets, 0.37, N, C);
      jsKernels.softmaxCrossEntropyBackward(dlogitsRef, probs, targets, 0.37, N, C);
      expectClose(dlogits, dlogitsRef, (i) => 2.5e-7 * (Math.abs(dlogitsRef[i]) + 1), `dlogits ${N}x${C}`);
    }
    const logits = wk.alloc(4, 'float32');
    expect(() =>
      wk.softmaxCrossEntropyForward(wk.alloc(4, 'float32'), wk.alloc(2, 'float32'), logits, Int32Array.of(0, 2), 2, 2),
    ).toThrow(/target class 2 out of range \[0, 2\)/);
  });

  it('squared error (delegated loops) agrees on wasm buffers', () => {
    const rand = rng(16);
    const [N, C] = [6, 3];
    const [preds, predsRef] = pair(N * C, rand);
    const [targets, targetsRef] = pair(N * C, rand);
    const mask = Uint8Array.of(1, 0, 1, 1, 0, 1);
    const losses = wk.alloc(N, 'float32');
    const lossesRef = new Float32Array(N);
    wk.squaredErrorForward(losses, preds, targets, mask, N, C);
    jsKernels.squaredErrorForward(lossesRef, predsRef, targetsRef, mask, N, C);
    expect(Array.from(losses)).toEqual(Array.from(lossesRef));
  });
});

describe('wasm fused Adam step vs the JS optimizer', () => {
  const specs: OptimizerSpecInput[] = [
    { name: 'adam', lr: 2e-3 },
    { name: 'adam', lr: 1e-2, weightDecay: 0.1, beta1: 0.3, beta2: 0.9 }, // lerp weight 0.7: torch's other branch
    { name: 'adamw', lr: 1e-2, weightDecay: 0.05 },
  ];
  for (const spec of specs) {
    it(`${JSON.stringify(spec)}: 30 steps agree to float32 tolerance, moments included`, () => {
      const rand = rng(31);
      const n = 1003;
      const onWasm = createOptimizer(spec, n, Float32Array, wk);
      const onJs = createOptimizer(spec, n, Float32Array);
      const [p, pRef] = pair(n, rand);
      const g = wk.alloc(n, 'float32') as Float32Array;
      for (let step = 0; step < 30; step++) {
        for (let i = 0; i < n; i++) g[i] = (rand() * 2 - 1) * (i % 7 === 0 ? 1e-3 : 1);
        onWasm.step(p, g, spec.lr!);
        onJs.step(pRef, Float32Array.from(g), spec.lr!);
      }
      expect(wk.owns(onWasm.state()[0].data)).toBe(true);
      expectClose(p, pRef, (i) => 2e-6 * Math.max(1, Math.abs(pRef[i])), 'params');
      const [m, v] = onWasm.state().map((b) => b.data);
      const [mRef, vRef] = onJs.state().map((b) => b.data);
      expectClose(m, mRef, (i) => 1e-5 * Math.abs(mRef[i]) + 1e-9, 'exp_avg');
      expectClose(v, vRef, (i) => 1e-5 * Math.abs(vRef[i]) + 1e-12, 'exp_avg_sq');
    });
  }
  it('declines foreign and float64 buffers (the optimizer falls back to its loop)', () => {
    const s = { stepSize: 1e-3, bc2Sqrt: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, lr: 1e-3 };
    const own = wk.alloc(4, 'float32');
    expect(wk.adamStep(new Float32Array(4), own, own, own, 4, s)).toBe(false);
    expect(wk.adamStep(new Float64Array(4), own, own, own, 4, s)).toBe(false);
    const opt = createOptimizer({ name: 'adam', lr: 0.1 }, 4, Float32Array, wk);
    const p = Float32Array.of(1, 2, 3, 4);
    opt.step(p, Float32Array.of(1, -1, 1, -1), 0.1);
    expectClose(p, Float32Array.of(0.9, 2.1, 2.9, 4.1), () => 1e-6, 'foreign params, reference loop');
  });
});

describe('wasm memory and build', () => {
  it('alloc returns zeroed buffers, reuses freed blocks, and views survive memory growth', () => {
    const a = wk.alloc(100, 'float32') as Float32Array;
    a.fill(7);
    const start = a.byteOffset;
    wk.free(a);
    const b = wk.alloc(100, 'float32') as Float32Array;
    expect(b.byteOffset).toBe(start);
    expect(b.every((x) => x === 0)).toBe(true);
    b.fill(3);
    const before = wk.memory.buffer.byteLength;
    const big = wk.alloc(8 * 1024 * 1024, 'float32'); // 32 MiB: forces a grow
    expect(wk.memory.buffer.byteLength).toBeGreaterThan(before);
    expect(b[99]).toBe(3); // shared memory: old views are not detached
    expect(wk.owns(b)).toBe(true);
    expect(wk.owns(big)).toBe(true);
    const out = wk.alloc(1, 'float32');
    wk.matmulNT(out, b.subarray(0, 4), b.subarray(4, 8), 1, 1, 4, false);
    expect(out[0]).toBe(36);
    wk.free(big);
    wk.free(b);
  });

  it('a fresh build from source is byte-identical to the cached binary the backend loads', async () => {
    for (const variant of [PLAIN_VARIANT, defaultVariant()]) {
      const path = await buildCachedKernelBinary(variant);
      const fresh = await assemble(kernelSource(variant));
      expect(Buffer.from(readFileSync(path)).equals(Buffer.from(fresh))).toBe(true);
    }
    expect(createWasmKernelsSync().name).toBe('wasm-simd');
  });

  it('a missing binary is built from source on first use and cached', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'unroll-wasm-'));
    const saved = process.env.UNROLL_WASM_CACHE_DIR;
    process.env.UNROLL_WASM_CACHE_DIR = dir;
    try {
      // a blocking no other test uses, so neither the in-process nor the on-disk cache has it
      const variant = { blocking: { ...DEFAULT_BLOCKING, kChunk: 40 }, fma: false };
      expect(() => loadKernelModuleSync(variant)).toThrow(/wasm kernels are not built/);
      await loadKernelModule(variant);
      expect(readdirSync(dir)).toEqual([`kernels-${kernelSource(variant).hash}.wasm`]);
    } finally {
      if (saved === undefined) delete process.env.UNROLL_WASM_CACHE_DIR;
      else process.env.UNROLL_WASM_CACHE_DIR = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the SIMD peak micro-benchmarks compute (x·0.999 + 0.001 chains)', () => {
    // c ← 0.999·c + 0.001 converges to 1 from every start; 8 chains start in (0, 1]
    expect(wk.exports.simd_peak_8(20000)).toBeCloseTo(8, 3);
    if (wk.fma) expect(wk.exports.simd_peak_fma_8!(20000)).toBeCloseTo(8, 3);
  });
});

describe('wasm GEMM on two threads', () => {
  let two: WasmKernels;
  beforeAll(async () => {
    // every product above 0 flops goes parallel, so small odd shapes exercise the row bands
    two = await createWasmKernels({ threads: 2, parallelMinFlops: 0 });
  });
  afterAll(async () => {
    await two.close();
  });

  it('gives bit-identical results to one thread (row bands, odd M, accumulate and overwrite)', () => {
    expect(two.threads).toBe(2);
    const rand = rng(21);
    for (const product of ['matmulNT', 'matmulNN', 'matmulTN'] as Product[]) {
      for (const [M, N, K] of [[4, 5, 3], [5, 17, 33], [9, 8, 70], [64, 65, 128], [131, 20, 9]]) {
        for (const accumulate of [false, true]) {
          const [a, aOne] = pair(M * K, rand, 1, two);
          const [b, bOne] = pair(N * K, rand, 1, two);
          const [out, outOne] = pair(M * N, rand, 1, two);
          two[product](out, a, b, M, N, K, accumulate);
          const one = gemmBackends[two.fma ? 'fma' : 'mul+add'];
          const [oa, ob, oo] = [one.alloc(M * K, 'float32'), one.alloc(N * K, 'float32'), one.alloc(M * N, 'float32')];
          oa.set(aOne), ob.set(bOne), oo.set(outOne);
          one[product](oo, oa, ob, M, N, K, accumulate);
          expect(Buffer.from(out.buffer, out.byteOffset, out.byteLength).equals(Buffer.from(oo.buffer, oo.byteOffset, oo.byteLength)), `${product} ${M}x${N}x${K}`).toBe(true);
          for (const x of [a, b, out]) two.free(x);
          for (const x of [oa, ob, oo]) one.free(x);
        }
      }
    }
  });

  it('a late wake-up never makes the helper run the previous request again (accumulate stays single)', async () => {
    // The caller can be preempted between publishing a request and notifying: the helper may run
    // it, go back to sleep, and only then receive that notify. Simulate the late notify directly.
    const control = (two as unknown as { pool: { control: Int32Array } }).pool.control;
    const rand = rng(22);
    const [M, N, K] = [8, 16, 32];
    const [a] = pair(M * K, rand, 1, two);
    const [b] = pair(N * K, rand, 1, two);
    const [out] = pair(M * N, rand, 1, two);
    two.matmulNT(out, a, b, M, N, K, true);
    const once = Float32Array.from(out);
    await new Promise((r) => setTimeout(r, 30)); // the helper stops spinning and sleeps
    Atomics.notify(control, 0); // the stale wake-up
    await new Promise((r) => setTimeout(r, 30));
    expect(Array.from(out)).toEqual(Array.from(once));
  });
});

describe('wasm elementwise passes on two threads', () => {
  let two: WasmKernels;
  const kinds: string[] = [];
  beforeAll(async () => {
    two = await createWasmKernels({ threads: 2 });
    // record which passes really went to the helper (sizes below are above ELEMENTWISE_SPLIT_MIN_FLOATS)
    const pool = (two as unknown as { pool: { runBands: (kind: string, ...rest: unknown[]) => number } }).pool;
    const runBands = pool.runBands.bind(pool);
    pool.runBands = (kind, ...rest) => {
      kinds.push(kind);
      return runBands(kind, ...rest);
    };
  });
  afterAll(async () => {
    await two.close();
  });

  const bits = (x: Float32Array): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

  it('give the bits of one thread (and the JS reference\'s where exact): row, column and range bands, odd widths, padding ids', () => {
    const rand = rng(23);
    // every pass above ELEMENTWISE_SPLIT_MIN_FLOATS (2¹⁶): odd widths, odd row counts
    for (const [N, C, I] of [[2048, 128, 65], [1100, 65, 65], [521, 130, 7], [14001, 5, 3]]) {
      kinds.length = 0;
      const ids = Int32Array.from({ length: N }, (_, r) => (r % 7 === 3 ? -1 : Math.floor(rand() * I)));
      const [W, WOne] = pair(C * I, rand, 1, two);
      const [out, outOne] = pair(N * C, rand, 1, two);
      const [bias, biasOne] = pair(C, rand, 1, two);
      const [dW, dWOne] = pair(C * I, rand, 1, two);
      const [dbias, dbiasOne] = pair(C, rand, 1, two);
      const outRef = Float32Array.from(outOne), dWRef = Float32Array.from(dWOne), dbiasRef = Float32Array.from(dbiasOne);
      for (const [k, o, w, b, dw, db] of [
        [two, out, W, bias, dW, dbias], [wk, outOne, WOne, biasOne, dWOne, dbiasOne], [jsKernels, outRef, WOne, biasOne, dWRef, dbiasRef],
      ] as const) {
        k.gatherColumnsAdd(o, ids, w, N, C, I);
        k.addBias(o, b, N, C);
        k.scatterColumnsAdd(dw, ids, o, N, C, I);
        k.biasGradAdd(db, o, N, C);
      }
      const what = `N ${N} C ${C} I ${I}`;
      expect(bits(out).equals(bits(outOne)), `gather + bias ${what}`).toBe(true);
      expect(bits(dW).equals(bits(dWOne)), `scatter ${what}`).toBe(true);
      expect(bits(dbias).equals(bits(dbiasOne)), `bias gradient ${what}`).toBe(true);
      expect(Array.from(outOne)).toEqual(Array.from(outRef));
      expect(Array.from(dWOne)).toEqual(Array.from(dWRef));
      expect(Array.from(dbiasOne)).toEqual(Array.from(dbiasRef));
      for (const h of [out, outOne]) for (let i = 0; i < h.length; i += 3) h[i] = Math.tanh(h[i] * 3);
      expect(two.countSaturated(out, N * C, 'tanh')).toBe(jsKernels.countSaturated(outOne, N * C, 'tanh'));
      expect(two.countSaturated(out, N * C, 'relu')).toBe(jsKernels.countSaturated(outOne, N * C, 'relu'));
      const targets = Int32Array.from({ length: N }, (_, r) => (r % 5 === 2 ? -1 : Math.floor(rand() * C)));
      const [probs, probsOne] = [two.alloc(N * C, 'float32') as Float32Array, wk.alloc(N * C, 'float32') as Float32Array];
      const [losses, lossesOne] = [new Float32Array(N), new Float32Array(N)];
      two.softmaxCrossEntropyForward(probs, losses, out, targets, N, C);
      wk.softmaxCrossEntropyForward(probsOne, lossesOne, outOne, targets, N, C);
      expect(bits(probs).equals(bits(probsOne)), `softmax ${what}`).toBe(true);
      expect(Array.from(losses)).toEqual(Array.from(lossesOne));
      const [dlogits, dlogitsOne] = pair(N * C, rand, 1, two);
      two.softmaxCrossEntropyBackward(dlogits, probs, targets, 1 / N, N, C);
      wk.softmaxCrossEntropyBackward(dlogitsOne, probsOne, targets, 1 / N, N, C);
      expect(bits(dlogits).equals(bits(dlogitsOne)), `softmax backward ${what}`).toBe(true);
      // Adam over the (N, C) buffer as parameters: elementwise, split in ranges
      const [m, mOne] = pair(N * C, rand, 0.1, two);
      const [vv, vvOne] = pair(N * C, rand, 0.1, two);
      for (let i = 0; i < vv.length; i++) vv[i] = vvOne[i] = Math.abs(vv[i]);
      const [pOne, gOne, mW, vW] = [wk.alloc(N * C, 'float32'), wk.alloc(N * C, 'float32'), wk.alloc(N * C, 'float32'), wk.alloc(N * C, 'float32')];
      pOne.set(outOne), gOne.set(dlogitsOne), mW.set(mOne), vW.set(vvOne);
      const step = { stepSize: 1e-3, bc2Sqrt: 0.03, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, decoupled: true, lr: 1e-3 };
      expect(two.adamStep(out, dlogits, m, vv, N * C, step)).toBe(true);
      expect(wk.adamStep(pOne, gOne, mW, vW, N * C, step)).toBe(true);
      expect(bits(out).equals(bits(pOne as Float32Array)) && bits(m).equals(bits(mW as Float32Array)) && bits(vv).equals(bits(vW as Float32Array)), `adam ${what}`).toBe(true);
      for (const x of [dlogits, m, vv]) two.free(x);
      for (const x of [pOne, gOne, mW, vW]) wk.free(x);
      // column bands need more than one cache line (scatter) / 32-column chunk (bias gradient) of columns
      const columnKinds = C > 32 ? ['scatter-columns', 'bias-grad'] : [];
      expect(new Set(kinds), what).toEqual(new Set([
        'gather-rows', 'add-bias', ...columnKinds, 'count-saturated-tanh', 'count-saturated-relu', 'softmax-rows', 'softmax-backward', 'adam',
      ]));
      for (const x of [W, out, bias, dW, dbias, probs]) two.free(x);
      wk.free(probsOne);
    }
  });
});

describe('wasm GEMM operand packing', () => {
  it('gives bit for bit the results of the unpacked kernels (NN and TN, edges, several K chunks and panels)', async () => {
    const packed = await createWasmKernels();
    const plain = await createWasmKernels();
    plain.exports.set_pack_buffer(0, 0); // this instance never packs
    for (const product of ['matmulNN', 'matmulTN'] as const) {
      for (const [M, N, K] of [[16, 256, 64], [17, 261, 65], [64, 300, 130], [131, 517, 200], [70, 2100, 9], [33, 256, 2048], [16, 8, 64]]) {
        for (const accumulate of [false, true]) {
          const run = (k: WasmKernels) => {
            const r = rng(M * 7 + N * 3 + K + (accumulate ? 1 : 0));
            const [a] = pair(M * K, r, 1, k);
            const [b] = pair(N * K, r, 1, k);
            const [out] = pair(M * N, r, 1, k);
            k[product](out, a, b, M, N, K, accumulate);
            const result = Array.from(out);
            for (const buf of [a, b, out]) k.free(buf);
            return result;
          };
          expect(run(packed), `${product} ${M}x${N}x${K} accumulate=${accumulate}`).toEqual(run(plain));
        }
      }
    }
    await Promise.all([packed.close(), plain.close()]);
  });
});

describe('wasm fused recurrence loops', () => {
  // the step-by-step composition rnn.ts falls back to, on the same backend
  function stepwiseForward(k: WasmKernels, hs: Float32Array, Whh: Float32Array, bhh: Float32Array, K: number, B: number, H: number, act: 'tanh' | 'relu'): void {
    const BH = B * H;
    // from 4 streams the backend multiplies by Whhᵀ in outer-product blocks: the same as matmulNN with Whhᵀ
    const WhhT = k.alloc(H * H, 'float32') as Float32Array;
    for (let i = 0; i < H; i++) for (let j = 0; j < H; j++) WhhT[j * H + i] = Whh[i * H + j];
    for (let t = 0; t < K; t++) {
      const h = hs.subarray((t + 1) * BH, (t + 2) * BH);
      if (B >= 4) k.matmulNN(h, hs.subarray(t * BH, (t + 1) * BH), WhhT, B, H, H, true);
      else k.matmulNT(h, hs.subarray(t * BH, (t + 1) * BH), Whh, B, H, H, true);
      k.addBias(h, bhh, B, H);
      k.actForward(h, h, BH, act);
    }
    k.free(WhhT);
  }
  function stepwiseBackward(k: WasmKernels, dhs: Float32Array, dhNext: Float32Array, sumSq: Float64Array, hs: Float32Array, Whh: Float32Array, K: number, B: number, H: number, act: 'tanh' | 'relu'): void {
    const BH = B * H;
    for (let t = K - 1; t >= 0; t--) {
      const slot = dhs.subarray(t * BH, (t + 1) * BH);
      let sum = 0; // Σ dh² row by row, rows added in order in double
      for (let b = 0; b < B; b++) {
        const row = (x: Float32Array, base: number) => x.subarray(base + b * H, base + (b + 1) * H);
        sum += k.actBackwardAdd(row(slot, 0), row(slot, 0), row(dhNext, 0), row(hs, (t + 1) * BH), H, act);
      }
      sumSq[t] = sum;
      k.matmulNN(dhNext, slot, Whh, B, H, H, false);
    }
  }

  for (const act of ['tanh', 'relu'] as const) {
    // [3, 20, 260]: step products that pack, from weights packed once for the window
    for (const [K, B, H] of [[1, 1, 1], [25, 1, 100], [7, 3, 13], [9, 32, 40], [3, 20, 260]]) {
      it(`forward and backward equal the step-by-step loop bit for bit (${act}, K ${K}, B ${B}, H ${H})`, () => {
        const rand = rng(K * 131 + B * 7 + H);
        const [hs, hsRef] = pair((K + 1) * B * H, rand);
        const [Whh] = pair(H * H, rand, 1 / Math.sqrt(H));
        const [bhh] = pair(H, rand);
        expect(wk.recurrenceForward(hs, Whh, bhh, K, B, H, act)).toBe(true);
        const ref = wk.alloc(hsRef.length, 'float32') as Float32Array;
        ref.set(hsRef);
        stepwiseForward(wk, ref, Whh, bhh, K, B, H, act);
        expect(Array.from(hs)).toEqual(Array.from(ref));

        const [dhs, dhsRef] = pair(K * B * H, rand);
        const [dhNext, dhNextRef] = pair(B * H, rand);
        const sumSq = new Float64Array(K);
        expect(wk.recurrenceBackward(dhs, dhNext, sumSq, hs, Whh, K, B, H, act)).toBe(true);
        const dRef = wk.alloc(dhsRef.length, 'float32') as Float32Array;
        const nRef = wk.alloc(dhNextRef.length, 'float32') as Float32Array;
        dRef.set(dhsRef);
        nRef.set(dhNextRef);
        const sumSqRef = new Float64Array(K);
        stepwiseBackward(wk, dRef, nRef, sumSqRef, ref, Whh, K, B, H, act);
        expect(Array.from(dhs)).toEqual(Array.from(dRef));
        expect(Array.from(dhNext)).toEqual(Array.from(nRef));
        expect(Array.from(sumSq)).toEqual(Array.from(sumSqRef));
        for (const buf of [hs, Whh, bhh, ref, dhs, dhNext, dRef, nRef]) wk.free(buf);
      });
    }
  }

  it('two threads (each its own band of streams) give the bits of one thread', async () => {
    const two = await createWasmKernels({ threads: 2, parallelMinFlops: 0 });
    try {
      for (const [K, B, H] of [[5, 8, 16], [6, 9, 33], [4, 33, 100], [3, 64, 40], [3, 40, 264]]) {
        const run = (k: WasmKernels) => {
          const rand = rng(K + B + H);
          const [hs] = pair((K + 1) * B * H, rand, 1, k);
          const [Whh] = pair(H * H, rand, 1 / Math.sqrt(H), k);
          const [bhh] = pair(H, rand, 1, k);
          const [dhs] = pair(K * B * H, rand, 1, k);
          const [dhNext] = pair(B * H, rand, 1, k);
          const sumSq = new Float64Array(K);
          expect(k.recurrenceForward(hs, Whh, bhh, K, B, H, 'tanh')).toBe(true);
          expect(k.recurrenceBackward(dhs, dhNext, sumSq, hs, Whh, K, B, H, 'tanh')).toBe(true);
          return [hs, dhs, dhNext, sumSq].map((x) => Array.from(x));
        };
        expect(run(two), `K ${K} B ${B} H ${H}`).toEqual(run(wk));
      }
    } finally {
      await two.close();
    }
  });

  it('declines foreign buffers (rnn.ts then loops step by step)', () => {
    const foreign = new Float32Array(2 * 4);
    const [Whh] = pair(16, rng(1));
    const [bhh] = pair(4, rng(2));
    expect(wk.recurrenceForward(foreign, Whh, bhh, 1, 1, 4, 'tanh')).toBe(false);
    expect(wk.recurrenceBackward(new Float32Array(4), new Float32Array(4), new Float64Array(1), foreign, Whh, 1, 1, 4, 'tanh')).toBe(false);
  });
});

describe('wasm gradient-norm kernels vs JS reference', () => {
  it('Σ x² agrees to double rounding (any length, NaN and ±Infinity propagate); scaling is bit for bit', () => {
    const rand = rng(17);
    for (const n of [0, 1, 3, 7, 8, 9, 31, 32, 33, 1000, 23265]) {
      const [x, xRef] = pair(n, rand, 3);
      const sum = wk.sumSquares(x, n);
      const ref = jsKernels.sumSquares(xRef, n);
      expect(Math.abs(sum - ref)).toBeLessThanOrEqual(1e-15 * n * ref + 1e-300);
      const factor = 0.3 + rand();
      wk.scaleInPlace(x, n, factor);
      jsKernels.scaleInPlace(xRef, n, factor);
      expect(Array.from(x)).toEqual(Array.from(xRef));
      if (n > 9) {
        x[n - 2] = Number.NaN;
        expect(wk.sumSquares(x, n)).toBeNaN();
        x[n - 2] = Number.POSITIVE_INFINITY;
        expect(wk.sumSquares(x, n)).toBe(Number.POSITIVE_INFINITY);
      }
      wk.free(x);
    }
  });

  it('foreign and float64 buffers use the JS loops', () => {
    const x = Float64Array.from([1, 2, 3]);
    expect(wk.sumSquares(x, 3)).toBe(14);
    wk.scaleInPlace(x, 3, 0.5);
    expect(Array.from(x)).toEqual([0.5, 1, 1.5]);
    const y = Float32Array.from([3, 4]);
    expect(wk.sumSquares(y, 2)).toBe(25);
  });
});

describe('the engine on the wasm backend agrees with the JS reference', () => {
  // whole training steps: forward, BPTT, losses, clipping, optimizer — every kernel in context
  const cases: { name: string; spec: TrainSpec; data: Dataset }[] = [
    {
      name: 'language model, tokens, tanh, truncated BPTT',
      spec: lmSpec(11, { batchSize: 5, bptt: { mode: 'truncated', k1: 6, k2: 9 }, model: { inputKind: 'tokens', inputSize: 11, hiddenSize: 19, outputSize: 11, activation: 'tanh' } }),
      data: randomTokens(400, 11, 2),
    },
    (() => {
      const data = randomSequences({ task: 'regression', targetMode: 'many-to-many', inputKind: 'vectors', count: 12, seed: 4, withMask: true });
      return { name: 'regression, vectors, relu, masked', spec: seqSpec(data, { model: { inputKind: 'vectors', inputSize: 3, hiddenSize: 9, outputSize: 2, activation: 'relu' } }), data };
    })(),
    (() => {
      const data = randomSequences({ task: 'classification', targetMode: 'many-to-one', inputKind: 'tokens', count: 12, seed: 5 });
      return { name: 'classification, tokens, many-to-one', spec: seqSpec(data), data };
    })(),
  ];
  for (const c of cases) {
    it(c.name, () => {
      const js = Trainer.create(c.spec, c.data, { kernels: jsKernels });
      const wasm = Trainer.create(c.spec, c.data, { kernels: wk });
      expect(wk.owns(wasm.params as Float32Array)).toBe(true);
      for (let i = 0; i < 6; i++) {
        const a = js.step();
        const b = wasm.step();
        if (a === null || b === null) {
          expect(b).toBe(a);
          continue;
        }
        expect(Math.abs(b.loss - a.loss), `step ${i} loss ${b.loss} vs ${a.loss}`).toBeLessThan(1e-5 * (1 + Math.abs(a.loss)));
      }
      let worst = 0;
      for (let i = 0; i < js.params.length; i++) worst = Math.max(worst, Math.abs(js.params[i] - wasm.params[i]));
      expect(worst).toBeLessThan(1e-5);
    });
  }
});
