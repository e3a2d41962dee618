// Gradient clipping and buffer diagnostics over the flat parameter layout.
// Norms accumulate in doubles even when the buffer is Float32Array. The passes the trainer runs
// every step take the backend's kernels (the WASM ones run in SIMD over its memory); the
// default is the sequential JS reference.

import { jsKernels } from './kernels/js.ts';
import type { Kernels } from './kernels/kernels.ts';
import type { FloatArray, ParamLayout, ParamName } from './layout.ts';

type NormKernels = Pick<Kernels, 'sumSquares' | 'scaleInPlace'>;

/** L2 norm of the whole buffer (all parameters together). */
export function globalNorm(grads: FloatArray, k: NormKernels = jsKernels): number {
  return Math.sqrt(k.sumSquares(grads, grads.length));
}

/**
 * torch.nn.utils.clip_grad_norm_(params, maxNorm) with norm_type 2: scale every gradient by
 * maxNorm / (totalNorm + 1e-6) when that factor is below 1. Returns the norm before clipping.
 * A non-finite norm is returned as is and nothing is scaled (the caller reports it).
 */
export function clipGradNorm(grads: FloatArray, maxNorm: number): { totalNorm: number; clipped: boolean } {
  const totalNorm = globalNorm(grads);
  return { totalNorm, clipped: clipToNorm(grads, maxNorm, totalNorm) };
}

/** clipGradNorm's scaling for a norm computed already (e.g. by sumSquaresByParam); true when scaled. */
export function clipToNorm(grads: FloatArray, maxNorm: number, totalNorm: number, k: NormKernels = jsKernels): boolean {
  if (!Number.isFinite(totalNorm)) return false;
  const coef = maxNorm / (totalNorm + 1e-6);
  if (coef >= 1) return false;
  k.scaleInPlace(grads, grads.length, coef);
  return true;
}

/**
 * Σ x² of every parameter tensor (into `out`, layout order; with the default kernels each equals
 * paramNorms(buf)² bit for bit) and returns their sum. The sum is non-finite exactly when some
 * element is: float32 squares (< 1.2e77) cannot overflow a double sum.
 */
export function sumSquaresByParam(buf: FloatArray, layout: ParamLayout, out: Float64Array, k: NormKernels = jsKernels): number {
  let total = 0;
  for (let p = 0; p < layout.views.length; p++) {
    const v = layout.views[p];
    const sumSq = k.sumSquares(buf.subarray(v.offset, v.offset + v.size), v.size);
    out[p] = sumSq;
    total += sumSq;
  }
  return total;
}

/** Element-wise clamp to [-value, value] (min-char-rnn's np.clip). Counts the elements changed. */
export function clipGradValue(grads: FloatArray, value: number): { clippedCount: number } {
  let clippedCount = 0;
  for (let i = 0; i < grads.length; i++) {
    const g = grads[i];
    if (g > value) {
      grads[i] = value;
      clippedCount++;
    } else if (g < -value) {
      grads[i] = -value;
      clippedCount++;
    }
  }
  return { clippedCount };
}

/** First NaN/±Infinity in layout order, as (parameter, index within that parameter), or null. */
export function findNonFinite(buf: FloatArray, layout: ParamLayout): { param: ParamName; index: number } | null {
  for (const v of layout.views) {
    for (let i = 0; i < v.size; i++) {
      if (!Number.isFinite(buf[v.offset + i])) return { param: v.name, index: i };
    }
  }
  return null;
}

/** L2 norm of each named parameter (or gradient) tensor. */
export function paramNorms(buf: FloatArray, layout: ParamLayout): Record<ParamName, number> {
  const out = {} as Record<ParamName, number>;
  for (const v of layout.views) out[v.name] = globalNorm(buf.subarray(v.offset, v.offset + v.size));
  return out;
}
