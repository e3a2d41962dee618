// Plain TypeScript reference backend. Loops are ordered so the innermost one walks contiguous
// memory; dot products accumulate in JS doubles and are stored once.

import type { Activation } from '../spec.ts';
import type { Dtype, FloatArray } from '../layout.ts';
import type { Kernels } from './kernels.ts';

function alloc(n: number, dtype: Dtype): FloatArray {
  return dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
}

// out(M, N) (+)= a(M, K) · b(N, K)ᵀ — a 2 × 4 register block: each pass over k loads two rows
// of a and four rows of b and does eight multiply-adds (about 1.6× a plain dot-product loop).
function matmulNT(out: FloatArray, a: FloatArray, b: FloatArray, M: number, N: number, K: number, accumulate: boolean): void {
  const M2 = M - (M % 2);
  const N4 = N - (N % 4);
  for (let i = 0; i < M2; i += 2) {
    const a0 = i * K, a1 = a0 + K, o0 = i * N, o1 = o0 + N;
    let j = 0;
    for (; j < N4; j += 4) {
      const b0 = j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
      let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
      for (let k = 0; k < K; k++) {
        const x0 = a[a0 + k], x1 = a[a1 + k];
        const y0 = b[b0 + k], y1 = b[b1 + k], y2 = b[b2 + k], y3 = b[b3 + k];
        s00 += x0 * y0; s01 += x0 * y1; s02 += x0 * y2; s03 += x0 * y3;
        s10 += x1 * y0; s11 += x1 * y1; s12 += x1 * y2; s13 += x1 * y3;
      }
      if (accumulate) {
        out[o0 + j] += s00; out[o0 + j + 1] += s01; out[o0 + j + 2] += s02; out[o0 + j + 3] += s03;
        out[o1 + j] += s10; out[o1 + j + 1] += s11; out[o1 + j + 2] += s12; out[o1 + j + 3] += s13;
      } else {
        out[o0 + j] = s00; out[o0 + j + 1] = s01; out[o0 + j + 2] = s02; out[o0 + j + 3] = s03;
        out[o1 + j] = s10; out[o1 + j + 1] = s11; out[o1 + j + 2] = s12; out[o1 + j + 3] = s13;
      }
    }
    for (; j < N; j++) {
      const bj = j * K;
      let s0 = 0, s1 = 0;
      for (let k = 0; k < K; k++) {
        const y = b[bj + k];
        s0 += a[a0 + k] * y;
        s1 += a[a1 + k] * y;
      }
      out[o0 + j] = accumulate ? out[o0 + j] + s0 : s0;
      out[o1 + j] = accumulate ? out[o1 + j] + s1 : s1;
    }
  }
  if (M2 < M) {
    // the last, odd row (all of it when M = 1): a 1 × 4 block, then single dot products
    const ai = M2 * K, oi = M2 * N;
    let j = 0;
    for (; j < N4; j += 4) {
      const b0 = j * K, b1 = b0 + K, b2 = b1 + K, b3 = b2 + K;
      let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (let k = 0; k < K; k++) {
        const x = a[ai + k];
        s0 += x * b[b0 + k];
        s1 += x * b[b1 + k];
        s2 += x * b[b2 + k];
        s3 += x * b[b3 + k];
      }
      if (accumulate) {
        out[oi + j] += s0; out[oi + j + 1] += s1; out[oi + j + 2] += s2; out[oi + j + 3] += s3;
      } else {
        out[oi + j] = s0; out[oi + j + 1] = s1; out[oi + j + 2] = s2; out[oi + j + 3] = s3;
      }
    }
    for (; j < N; j++) {
      const bj = j * K;
      let sum = 0;
      for (let k = 0; k < K; k++) sum += a[ai + k] * b[bj + k];
      out[oi + j] = accumulate ? out[oi + j] + sum : sum;
    }
  }
}

// out(M, N) (+)= a(M, K) · b(K, N) — four rows of b per pass over an output row.
function matmulNN(out: FloatArray, a: FloatArray, b: FloatArray, M: number, N: number, K: number, accumulate: boolean): void {
  if (!accumulate) out.fill(0, 0, M * N);
  const K4 = K - (K % 4);
  for (let i = 0; i < M; i++) {
    const oi = i * N;
    const ai = i * K;
    let k = 0;
    for (; k < K4; k += 4) {
      const a0 = a[ai + k], a1 = a[ai + k + 1], a2 = a[ai + k + 2], a3 = a[ai + k + 3];
      const b0 = k * N, b1 = b0 + N, b2 = b1 + N, b3 = b2 + N;
      for (let j = 0; j < N; j++) out[oi + j] += a0 * b[b0 + j] + a1 * b[b1 + j] + a2 * b[b2 + j] + a3 * b[b3 + j];
    }
    for (; k < K; k++) {
      const aik = a[ai + k];
      const bk = k * N;
      for (let j = 0; j < N; j++) out[oi + j] += aik * b[bk + j];
    }
  }
}

// Scratch for transposes, one pair per element type so every matmulNT call site stays
// monomorphic (grown on demand; the JS backend is single-threaded).
const scratch = { f32: [new Float32Array(0), new Float32Array(0)], f64: [new Float64Array(0), new Float64Array(0)] };

function scratchFor(like: FloatArray, slot: 0 | 1, n: number): FloatArray {
  const pair: FloatArray[] = like instanceof Float64Array ? scratch.f64 : scratch.f32;
  if (pair[slot].length < n) pair[slot] = like instanceof Float64Array ? new Float64Array(n) : new Float32Array(n);
  return pair[slot];
}

function transposeInto(dst: FloatArray, src: FloatArray, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const sr = r * cols;
    for (let c = 0; c < cols; c++) dst[c * rows + r] = src[sr + c];
  }
}

// out(M, N) (+)= a(K, M)ᵀ · b(K, N) — transpose both operands once, then contiguous dot
// products (matmulNT); the transposes cost O(K·(M + N)) against O(K·M·N) multiply-adds.
function matmulTN(out: FloatArray, a: FloatArray, b: FloatArray, M: number, N: number, K: number, accumulate: boolean): void {
  const aT = scratchFor(a, 0, M * K);
  const bT = scratchFor(b, 1, N * K);
  transposeInto(aT, a, K, M); // (M, K)
  transposeInto(bT, b, K, N); // (N, K)
  matmulNT(out, aT, bT, M, N, K, accumulate);
}

// out(B, H) += W(H, I)[:, ids[b]]
function gatherColumnsAdd(out: FloatArray, ids: Int32Array, W: FloatArray, B: number, H: number, I: number): void {
  for (let b = 0; b < B; b++) {
    const id = ids[b];
    if (id < 0) continue;
    if (id >= I) throw new RangeError(`token id ${id} out of range [0, ${I})`);
    const ob = b * H;
    for (let h = 0; h < H; h++) out[ob + h] += W[h * I + id];
  }
}

// dW(H, I)[:, ids[b]] += dout(B, H)[b, :]
function scatterColumnsAdd(dW: FloatArray, ids: Int32Array, dout: FloatArray, B: number, H: number, I: number): void {
  for (let b = 0; b < B; b++) {
    const id = ids[b];
    if (id < 0) continue;
    const db = b * H;
    for (let h = 0; h < H; h++) dW[h * I + id] += dout[db + h];
  }
}

function addBias(out: FloatArray, bias: FloatArray, N: number, C: number): void {
  for (let r = 0; r < N; r++) {
    const o = r * C;
    for (let c = 0; c < C; c++) out[o + c] += bias[c];
  }
}

function biasGradAdd(dbias: FloatArray, dout: FloatArray, N: number, C: number): void {
  for (let r = 0; r < N; r++) {
    const o = r * C;
    for (let c = 0; c < C; c++) dbias[c] += dout[o + c];
  }
}

function actForward(out: FloatArray, pre: FloatArray, n: number, act: Activation): void {
  if (act === 'tanh') {
    for (let i = 0; i < n; i++) out[i] = Math.tanh(pre[i]);
  } else {
    for (let i = 0; i < n; i++) out[i] = pre[i] > 0 ? pre[i] : 0;
  }
}

function actBackward(dpre: FloatArray, dh: FloatArray, h: FloatArray, n: number, act: Activation): void {
  if (act === 'tanh') {
    for (let i = 0; i < n; i++) dpre[i] = dh[i] * (1 - h[i] * h[i]);
  } else {
    for (let i = 0; i < n; i++) dpre[i] = h[i] > 0 ? dh[i] : 0;
  }
}

function actBackwardAdd(dpre: FloatArray, dhA: FloatArray, dhB: FloatArray, h: FloatArray, n: number, act: Activation): number {
  // dh is rounded to the buffer's precision first, exactly as if it had been stored
  const round = dpre instanceof Float64Array ? (x: number) => x : Math.fround;
  let sq = 0;
  if (act === 'tanh') {
    for (let i = 0; i < n; i++) {
      const d = round(dhA[i] + dhB[i]);
      sq += d * d;
      dpre[i] = d * (1 - h[i] * h[i]);
    }
  } else {
    for (let i = 0; i < n; i++) {
      const d = round(dhA[i] + dhB[i]);
      sq += d * d;
      dpre[i] = h[i] > 0 ? d : 0;
    }
  }
  return sq;
}

function countSaturated(h: FloatArray, n: number, act: Activation): number {
  let count = 0;
  if (act === 'tanh') {
    for (let i = 0; i < n; i++) if (h[i] > 0.99 || h[i] < -0.99) count++;
  } else {
    for (let i = 0; i < n; i++) if (h[i] === 0) count++;
  }
  return count;
}

function softmaxCrossEntropyForward(
  probs: FloatArray, losses: FloatArray, logits: FloatArray, targets: Int32Array, N: number, C: number,
): void {
  for (let r = 0; r < N; r++) {
    const o = r * C;
    let max = -Infinity;
    for (let c = 0; c < C; c++) if (logits[o + c] > max) max = logits[o + c];
    let sum = 0;
    for (let c = 0; c < C; c++) {
      const e = Math.exp(logits[o + c] - max);
      probs[o + c] = e;
      sum += e;
    }
    const inv = 1 / sum;
    for (let c = 0; c < C; c++) probs[o + c] *= inv;
    const t = targets[r];
    if (t < 0) {
      losses[r] = 0;
      continue;
    }
    if (t >= C) throw new RangeError(`target class ${t} out of range [0, ${C})`);
    // log-sum-exp form: exact even when probs[t] underflows
    losses[r] = Math.log(sum) - (logits[o + t] - max);
  }
}

function softmaxCrossEntropyBackward(
  dlogits: FloatArray, probs: FloatArray, targets: Int32Array, scale: number, N: number, C: number,
): void {
  for (let r = 0; r < N; r++) {
    const t = targets[r];
    if (t < 0) continue;
    const o = r * C;
    for (let c = 0; c < C; c++) dlogits[o + c] += scale * probs[o + c];
    dlogits[o + t] -= scale;
  }
}

function squaredErrorForward(
  losses: FloatArray, preds: FloatArray, targets: FloatArray, mask: Uint8Array | null, N: number, C: number,
): void {
  for (let r = 0; r < N; r++) {
    if (mask !== null && mask[r] === 0) {
      losses[r] = 0;
      continue;
    }
    const o = r * C;
    let sum = 0;
    for (let c = 0; c < C; c++) {
      const d = preds[o + c] - targets[o + c];
      sum += d * d;
    }
    losses[r] = sum;
  }
}

function squaredErrorBackward(
  dpreds: FloatArray, preds: FloatArray, targets: FloatArray, mask: Uint8Array | null, scale: number, N: number, C: number,
): void {
  const s2 = 2 * scale;
  for (let r = 0; r < N; r++) {
    if (mask !== null && mask[r] === 0) continue;
    const o = r * C;
    for (let c = 0; c < C; c++) dpreds[o + c] += s2 * (preds[o + c] - targets[o + c]);
  }
}

function sumSquares(x: FloatArray, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += x[i] * x[i];
  return sum;
}

function scaleInPlace(x: FloatArray, n: number, factor: number): void {
  for (let i = 0; i < n; i++) x[i] *= factor;
}

export const jsKernels: Kernels = {
  name: 'js',
  id: 'js',
  alloc,
  matmulNT,
  matmulNN,
  matmulTN,
  gatherColumnsAdd,
  scatterColumnsAdd,
  addBias,
  biasGradAdd,
  actForward,
  actBackward,
  actBackwardAdd,
  countSaturated,
  softmaxCrossEntropyForward,
  softmaxCrossEntropyBackward,
  squaredErrorForward,
  squaredErrorBackward,
  sumSquares,
  scaleInPlace,
};
