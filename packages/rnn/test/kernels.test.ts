// Every kernel of the JS backend against naive loops, in float32 and float64.

import { describe, expect, it } from 'vitest';
import { jsKernels as k } from '../src/kernels/js.ts';
import type { Dtype, FloatArray } from '../src/layout.ts';
import { Prng } from '../src/prng.ts';

const rng = new Prng(42);
function rand(n: number, dtype: Dtype): FloatArray {
  const a = k.alloc(n, dtype);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}
function close(a: ArrayLike<number>, b: ArrayLike<number>, tol: number): void {
  expect(a.length).toBe(b.length);
  for (let i = 0; i < a.length; i++) expect(Math.abs(a[i] - b[i]), `index ${i}: ${a[i]} vs ${b[i]}`).toBeLessThanOrEqual(tol * (1 + Math.abs(b[i])));
}

for (const dtype of ['float32', 'float64'] as const) {
  const tol = dtype === 'float32' ? 1e-5 : 1e-12;
  describe(`js kernels (${dtype})`, () => {
    const M = 3, N = 5, K = 7;

    it('alloc returns a zeroed buffer of the dtype', () => {
      const a = k.alloc(4, dtype);
      expect(a).toBeInstanceOf(dtype === 'float32' ? Float32Array : Float64Array);
      expect([...a]).toEqual([0, 0, 0, 0]);
    });

    it('matmulNT: out(M,N) (+)= a(M,K)·b(N,K)ᵀ', () => {
      const a = rand(M * K, dtype), b = rand(N * K, dtype), out = rand(M * N, dtype);
      const before = Float64Array.from(out);
      const want = new Float64Array(M * N);
      for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) for (let q = 0; q < K; q++) want[i * N + j] += a[i * K + q] * b[j * K + q];
      k.matmulNT(out, a, b, M, N, K, true);
      close(out, want.map((v, i) => v + before[i]), tol);
      k.matmulNT(out, a, b, M, N, K, false);
      close(out, want, tol);
    });

    it('matmulNN: out(M,N) (+)= a(M,K)·b(K,N)', () => {
      const a = rand(M * K, dtype), b = rand(K * N, dtype), out = rand(M * N, dtype);
      const before = Float64Array.from(out);
      const want = new Float64Array(M * N);
      for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) for (let q = 0; q < K; q++) want[i * N + j] += a[i * K + q] * b[q * N + j];
      k.matmulNN(out, a, b, M, N, K, true);
      close(out, want.map((v, i) => v + before[i]), tol);
      k.matmulNN(out, a, b, M, N, K, false);
      close(out, want, tol);
    });

    it('matmulTN: out(M,N) (+)= a(K,M)ᵀ·b(K,N)', () => {
      const a = rand(K * M, dtype), b = rand(K * N, dtype), out = rand(M * N, dtype);
      const before = Float64Array.from(out);
      const want = new Float64Array(M * N);
      for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) for (let q = 0; q < K; q++) want[i * N + j] += a[q * M + i] * b[q * N + j];
      k.matmulTN(out, a, b, M, N, K, true);
      close(out, want.map((v, i) => v + before[i]), tol);
      k.matmulTN(out, a, b, M, N, K, false);
      close(out, want, tol);
    });

    it('gatherColumnsAdd equals a one-hot product and skips padding (id -1)', () => {
      const B = 4, H = 3, I = 6;
      const W = rand(H * I, dtype), out = rand(B * H, dtype);
      const ids = Int32Array.of(2, 5, -1, 2);
      const want = Float64Array.from(out);
      for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < I; i++) want[b * H + h] += W[h * I + i] * (ids[b] === i ? 1 : 0);
      k.gatherColumnsAdd(out, ids, W, B, H, I);
      close(out, want, tol);
      expect(() => k.gatherColumnsAdd(out, Int32Array.of(6, 0, 0, 0), W, B, H, I)).toThrow(RangeError);
    });

    it('scatterColumnsAdd is the transpose of the gather (repeated ids accumulate)', () => {
      const B = 4, H = 3, I = 6;
      const dW = rand(H * I, dtype), dout = rand(B * H, dtype);
      const ids = Int32Array.of(2, 5, -1, 2);
      const want = Float64Array.from(dW);
      for (let b = 0; b < B; b++) for (let h = 0; h < H; h++) for (let i = 0; i < I; i++) want[h * I + i] += dout[b * H + h] * (ids[b] === i ? 1 : 0);
      k.scatterColumnsAdd(dW, ids, dout, B, H, I);
      close(dW, want, tol);
    });

    it('addBias and biasGradAdd', () => {
      const out = rand(M * N, dtype), bias = rand(N, dtype);
      const want = Float64Array.from(out, (v, i) => v + bias[i % N]);
      k.addBias(out, bias, M, N);
      close(out, want, tol);
      const db = rand(N, dtype);
      const wantDb = Float64Array.from(db);
      for (let r = 0; r < M; r++) for (let c = 0; c < N; c++) wantDb[c] += out[r * N + c];
      k.biasGradAdd(db, out, M, N);
      close(db, wantDb, tol);
    });

    it('actForward / actBackward for tanh and relu (backward from the output h)', () => {
      const n = 9;
      const pre = rand(n, dtype);
      for (const act of ['tanh', 'relu'] as const) {
        const h = k.alloc(n, dtype);
        k.actForward(h, pre, n, act);
        close(h, Array.from(pre, (v) => (act === 'tanh' ? Math.tanh(v) : Math.max(0, v))), tol);
        const dh = rand(n, dtype), dpre = rand(n, dtype);
        k.actBackward(dpre, dh, h, n, act);
        close(dpre, Array.from(dh, (g, i) => (act === 'tanh' ? g * (1 - h[i] * h[i]) : pre[i] > 0 ? g : 0)), tol);
      }
      const inPlace = Float64Array.from(pre);
      const same = k.alloc(n, dtype);
      same.set(pre);
      k.actForward(same, same, n, 'tanh');
      close(same, Array.from(inPlace, Math.tanh), tol);
    });

    it('actBackwardAdd: dpre = (dhA + dhB) ⊙ act\'(h) in place over dhA, returns Σ (dhA + dhB)²', () => {
      const n = 11;
      const pre = rand(n, dtype);
      for (const act of ['tanh', 'relu'] as const) {
        const h = k.alloc(n, dtype);
        k.actForward(h, pre, n, act);
        const dhA = rand(n, dtype), dhB = rand(n, dtype);
        const sum = Array.from(dhA, (a, i) => a + dhB[i]);
        const sq = k.actBackwardAdd(dhA, dhA, dhB, h, n, act);
        expect(Math.abs(sq - sum.reduce((s, d) => s + d * d, 0))).toBeLessThanOrEqual(tol * (1 + sq));
        close(dhA, sum.map((d, i) => (act === 'tanh' ? d * (1 - h[i] * h[i]) : pre[i] > 0 ? d : 0)), tol);
      }
    });

    it('countSaturated: tanh |h| > 0.99, relu h == 0', () => {
      const h = k.alloc(8, dtype);
      h.set([0.99, -0.99, 0.995, -0.9999, 0.5, 0, -0, 1]);
      // 0.99 itself counts in float32 (stored as 0.99000001), not in float64
      expect(k.countSaturated(h, 8, 'tanh')).toBe(dtype === 'float32' ? 5 : 3);
      expect(k.countSaturated(h, 8, 'relu')).toBe(2);
      expect(k.countSaturated(h, 4, 'relu')).toBe(0);
    });

    it('softmax cross-entropy: stable for huge logits, ignored rows, scaled backward', () => {
      const R = 3, C = 4;
      const logits = k.alloc(R * C, dtype);
      logits.set([1000, 999, 998, 0, -3, 0.5, 2, 1, 5, 5, 5, 5]);
      const targets = Int32Array.of(1, 2, -1);
      const probs = k.alloc(R * C, dtype), losses = k.alloc(R, dtype);
      k.softmaxCrossEntropyForward(probs, losses, logits, targets, R, C);
      for (let r = 0; r < R; r++) {
        const row = Array.from(logits.subarray(r * C, (r + 1) * C));
        const m = Math.max(...row);
        const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
        close(probs.subarray(r * C, (r + 1) * C), row.map((v) => Math.exp(v - m) / z), tol);
        if (targets[r] >= 0) close([losses[r]], [Math.log(z) + m - row[targets[r]]], tol);
        else expect(losses[r]).toBe(0);
      }
      expect(Number.isFinite(losses[0])).toBe(true);
      const d = rand(R * C, dtype);
      const want = Float64Array.from(d);
      for (let r = 0; r < 2; r++) for (let c = 0; c < C; c++) want[r * C + c] += 0.5 * (probs[r * C + c] - (c === targets[r] ? 1 : 0));
      k.softmaxCrossEntropyBackward(d, probs, targets, 0.5, R, C);
      close(d, want, tol);
    });

    it('squared error with a row mask, scaled backward', () => {
      const R = 3, C = 2;
      const preds = rand(R * C, dtype), targets = rand(R * C, dtype);
      const mask = Uint8Array.of(1, 0, 1);
      const losses = rand(R, dtype);
      k.squaredErrorForward(losses, preds, targets, mask, R, C);
      for (let r = 0; r < R; r++) {
        let s = 0;
        for (let c = 0; c < C; c++) s += (preds[r * C + c] - targets[r * C + c]) ** 2;
        close([losses[r]], [mask[r] ? s : 0], tol);
      }
      const d = rand(R * C, dtype);
      const want = Float64Array.from(d, (v, i) => v + (mask[Math.floor(i / C)] ? 0.25 * 2 * (preds[i] - targets[i]) : 0));
      k.squaredErrorBackward(d, preds, targets, mask, 0.25, R, C);
      close(d, want, tol);
      k.squaredErrorForward(losses, preds, targets, null, R, C);
      expect(losses[1]).toBeGreaterThan(0);
    });
  });
}
