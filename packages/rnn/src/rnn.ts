// Elman RNN forward and hand-written backward through time over one window (llm.c style).
//
//   pre_t = W_xh x_t + b_ih + W_hh h_{t-1} + b_hh      h_t = act(pre_t)      (B, H)
//   y_t   = W_hy h_t + b_y                                                   (B, O)
//
// Token inputs gather columns of W_xh (never a one-hot product); vector inputs use a matmul.
// Hidden states are stored as hs (K + 1, B, H) with hs[0] = h0, so the output layer can run as
// one (N = steps·B) product over any contiguous range of steps.

import type { Kernels } from './kernels/kernels.ts';
import type { FloatArray } from './layout.ts';
import type { Activation } from './spec.ts';

/** Inputs for K steps of B streams: token ids (K, B) (id < 0 = padding) or vectors (K, B, I). */
export type StepInputs = { kind: 'tokens'; ids: Int32Array } | { kind: 'vectors'; x: FloatArray };

export interface RecurrentWeights {
  Wxh: FloatArray; // (H, I)
  Whh: FloatArray; // (H, H)
  bih: FloatArray; // (H)
  bhh: FloatArray; // (H)
}

export interface RnnSizes {
  K: number; // steps in the window
  B: number;
  I: number;
  H: number;
}

/**
 * Fills hs[1..K] from hs[0] = h0. hs: ((K + 1), B, H). The input projection (+ b_ih) of all K
 * steps is one call over K·B rows; only the recurrence runs step by step, inside the backend
 * when it has a fused loop (`Kernels.recurrenceForward`). Per element the arithmetic order is
 * ((W_xh x_t + b_ih) + W_hh h_{t−1}) + b_hh either way.
 */
export function rnnForward(
  k: Kernels, hs: FloatArray, inputs: StepInputs, w: RecurrentWeights, act: Activation, s: RnnSizes,
): void {
  const { K, B, I, H } = s;
  const BH = B * H;
  const N = K * B;
  const pre = hs.subarray(BH, (K + 1) * BH); // (K·B, H): steps 1..K
  if (inputs.kind === 'tokens') {
    pre.fill(0);
    k.gatherColumnsAdd(pre, inputs.ids.subarray(0, N), w.Wxh, N, H, I);
  } else {
    k.matmulNT(pre, inputs.x.subarray(0, N * I), w.Wxh, N, H, I, false);
  }
  k.addBias(pre, w.bih, N, H);
  if (k.recurrenceForward?.(hs, w.Whh, w.bhh, K, B, H, act) === true) return;
  for (let t = 0; t < K; t++) {
    const hPrev = hs.subarray(t * BH, (t + 1) * BH); // (B, H)
    const h = hs.subarray((t + 1) * BH, (t + 2) * BH); // (B, H)
    k.matmulNT(h, hPrev, w.Whh, B, H, H, true);
    k.addBias(h, w.bhh, B, H);
    k.actForward(h, h, BH, act);
  }
}

export interface RnnBackwardScratch {
  dhNext: FloatArray; // (B, H) ∂L/∂h_{t-1} through the recurrence
  dbias: FloatArray; // (H) Σ rows of ∂L/∂pre: b_ih and b_hh get the same gradient
  sumSq: Float64Array; // (≥ K) Σ (∂L/∂h_t)² per step, for the profile
}

/**
 * Backward from the last step to the first. dhs (K, B, H) holds ∂L/∂h_t from the output layer
 * (zero where a step carries no loss); it is consumed: each step's slot is overwritten with
 * ∂L/∂pre_t, so the weight gradients are then three big products over all K·B rows instead of
 * K small ones. Accumulates (+=) into dW; writes ∂L/∂h0 into dh0 when given (overwrites).
 * profile (length ≥ K), when given, gets ‖∂L/∂h_t‖ added at index t (0 = oldest).
 */
export function rnnBackward(
  k: Kernels,
  dh0: FloatArray | null,
  dW: RecurrentWeights,
  dhs: FloatArray,
  hs: FloatArray,
  inputs: StepInputs,
  w: RecurrentWeights,
  act: Activation,
  s: RnnSizes,
  scratch: RnnBackwardScratch,
  profile: Float64Array | null,
): void {
  const { K, B, I, H } = s;
  const BH = B * H;
  const dhNext = scratch.dhNext.subarray(0, BH);
  dhNext.fill(0);
  const sumSq = scratch.sumSq;
  if (k.recurrenceBackward?.(dhs, dhNext, sumSq, hs, w.Whh, K, B, H, act) !== true) {
    for (let t = K - 1; t >= 0; t--) {
      const h = hs.subarray((t + 1) * BH, (t + 2) * BH); // (B, H)
      const dSlot = dhs.subarray(t * BH, (t + 1) * BH); // (B, H): ∂L/∂h_t from outputs in, ∂L/∂pre_t out
      // dpre = (∂L/∂h_t from the outputs + from step t+1) ⊙ act'(h_t), one pass
      sumSq[t] = k.actBackwardAdd(dSlot, dSlot, dhNext, h, BH, act);
      k.matmulNN(dhNext, dSlot, w.Whh, B, H, H, false); // (B, H) = dpre (B, H) · Whh (H, H)
    }
  }
  if (profile !== null) for (let t = 0; t < K; t++) profile[t] += Math.sqrt(sumSq[t]);
  const N = K * B;
  const dpre = dhs.subarray(0, N * H); // (K·B, H)
  k.matmulTN(dW.Whh, dpre, hs.subarray(0, N * H), H, H, N, true); // (H, H) += dpreᵀ · h_{t−1}
  if (inputs.kind === 'tokens') {
    k.scatterColumnsAdd(dW.Wxh, inputs.ids.subarray(0, N), dpre, N, H, I);
  } else {
    k.matmulTN(dW.Wxh, dpre, inputs.x.subarray(0, N * I), H, I, N, true); // (H, I) += dpreᵀ · x
  }
  // ∂L/∂b_ih = ∂L/∂b_hh = Σ rows of dpre: one pass over (K·B, H), added to both
  const dbias = scratch.dbias.subarray(0, H);
  dbias.fill(0);
  k.biasGradAdd(dbias, dpre, N, H);
  k.addBias(dW.bih, dbias, 1, H);
  k.addBias(dW.bhh, dbias, 1, H);
  if (dh0 !== null) dh0.set(dhNext);
}

/** logits (N, O) = hs (N, H) · W_hyᵀ + b_y. */
export function outputForward(
  k: Kernels, logits: FloatArray, hs: FloatArray, Why: FloatArray, by: FloatArray, N: number, H: number, O: number,
): void {
  k.matmulNT(logits, hs, Why, N, O, H, false);
  k.addBias(logits, by, N, O);
}

/** dhs (N, H) = dlogits · W_hy (overwrites); dWhy (O, H) += dlogitsᵀ · hs; dby += Σ dlogits. */
export function outputBackward(
  k: Kernels,
  dhs: FloatArray,
  dWhy: FloatArray,
  dby: FloatArray,
  dlogits: FloatArray,
  hs: FloatArray,
  Why: FloatArray,
  N: number,
  H: number,
  O: number,
): void {
  k.matmulTN(dWhy, dlogits, hs, O, H, N, true);
  k.biasGradAdd(dby, dlogits, N, O);
  k.matmulNN(dhs, dlogits, Why, N, H, O, false);
}
