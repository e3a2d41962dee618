// The compute-kernel interface the BPTT code is written against (llm.c style).
// Every kernel is generic over FloatArray (float32 for training, float64 for gradient checks),
// row-major, with arguments ordered: outputs, inputs, weights, sizes. Backward kernels and
// `accumulate = true` products add (+=) into their outputs.
//
// `js.ts` is the plain TypeScript reference backend. A WASM SIMD backend implements the same
// interface and allocates its buffers inside its own memory through `alloc`, so the BPTT code
// never changes when the backend does.

import type { Activation } from '../spec.ts';
import type { Dtype, FloatArray } from '../layout.ts';

export interface Kernels {
  /** Human-readable backend name, e.g. 'js'. */
  readonly name: string;

  /** A zeroed buffer of n scalars; backends may place it in their own memory. */
  alloc(n: number, dtype: Dtype): FloatArray;

  /** out(M, N) (+)= a(M, K) · b(N, K)ᵀ — forward products x·Wᵀ. */
  matmulNT(out: FloatArray, a: FloatArray, b: FloatArray, M: number, N: number, K: number, accumulate: boolean): void;
  /** out(M, N) (+)= a(M, K) · b(K, N) — e.g. dh_prev = dpre · W_hh. */
  matmulNN(out: FloatArray, a: FloatArray, b: FloatArray, M: number, N: number, K: number, accumulate: boolean): void;
  /** out(M, N) (+)= a(K, M)ᵀ · b(K, N) — weight gradients dW += dpreᵀ · x. */
  matmulTN(out: FloatArray, a: FloatArray, b: FloatArray, M: number, N: number, K: number, accumulate: boolean): void;

  /**
   * Token inputs: out(B, H) += W(H, I)[:, ids[b]] — a column gather, never a one-hot product.
   * ids < 0 (padding) contribute nothing.
   */
  gatherColumnsAdd(out: FloatArray, ids: Int32Array, W: FloatArray, B: number, H: number, I: number): void;
  /** Backward of gatherColumnsAdd: dW(H, I)[:, ids[b]] += dout(B, H)[b, :]. ids < 0 skipped. */
  scatterColumnsAdd(dW: FloatArray, ids: Int32Array, dout: FloatArray, B: number, H: number, I: number): void;

  /** out(N, C) += bias(C) on every row. */
  addBias(out: FloatArray, bias: FloatArray, N: number, C: number): void;
  /** dbias(C) += Σ_rows dout(N, C). */
  biasGradAdd(dbias: FloatArray, dout: FloatArray, N: number, C: number): void;

  /** out(n) = act(pre(n)); out and pre may be the same buffer. */
  actForward(out: FloatArray, pre: FloatArray, n: number, act: Activation): void;
  /**
   * dpre(n) = dh ⊙ act'(pre), computed from the activation's OUTPUT h:
   * tanh: dh ⊙ (1 − h²); relu: dh ⊙ [h > 0]. Overwrites dpre.
   */
  actBackward(dpre: FloatArray, dh: FloatArray, h: FloatArray, n: number, act: Activation): void;

  /**
   * Numerically stable softmax + cross-entropy per row: probs(N, C) = softmax(logits),
   * losses(N) = −log probs[target]. Rows with target < 0 are ignored: loss 0 (probs still computed).
   */
  softmaxCrossEntropyForward(
    probs: FloatArray, losses: FloatArray, logits: FloatArray, targets: Int32Array, N: number, C: number,
  ): void;
  /** dlogits(N, C) += scale · (probs − onehot(target)); rows with target < 0 skipped. */
  softmaxCrossEntropyBackward(
    dlogits: FloatArray, probs: FloatArray, targets: Int32Array, scale: number, N: number, C: number,
  ): void;

  /** losses(N) = Σ_c (preds − targets)² per row; rows with mask[r] = 0 get 0. mask null = all rows. */
  squaredErrorForward(
    losses: FloatArray, preds: FloatArray, targets: FloatArray, mask: Uint8Array | null, N: number, C: number,
  ): void;
  /** dpreds(N, C) += scale · 2 (preds − targets) on unmasked rows. */
  squaredErrorBackward(
    dpreds: FloatArray, preds: FloatArray, targets: FloatArray, mask: Uint8Array | null, scale: number, N: number, C: number,
  ): void;
}
