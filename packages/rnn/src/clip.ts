// Gradient clipping and buffer diagnostics over the flat parameter layout.
// Norms accumulate in JS doubles even when the buffer is Float32Array.

import type { FloatArray, ParamLayout, ParamName } from './layout.ts';

/** L2 norm of the whole buffer (all parameters together). */
export function globalNorm(grads: FloatArray): number {
  let sumSq = 0;
  for (let i = 0; i < grads.length; i++) sumSq += grads[i] * grads[i];
  return Math.sqrt(sumSq);
}

/**
 * torch.nn.utils.clip_grad_norm_(params, maxNorm) with norm_type 2: scale every gradient by
 * maxNorm / (totalNorm + 1e-6) when that factor is below 1. Returns the norm before clipping.
 * A non-finite norm is returned as is and nothing is scaled (the caller reports it).
 */
export function clipGradNorm(grads: FloatArray, maxNorm: number): { totalNorm: number; clipped: boolean } {
  const totalNorm = globalNorm(grads);
  if (!Number.isFinite(totalNorm)) return { totalNorm, clipped: false };
  const coef = maxNorm / (totalNorm + 1e-6);
  if (coef >= 1) return { totalNorm, clipped: false };
  for (let i = 0; i < grads.length; i++) grads[i] *= coef;
  return { totalNorm, clipped: true };
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
