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

/** The per-step scalars of one Adam / AdamW update (torch.optim names; t = step number). */
export interface AdamStepScalars {
  /** lr / (1 − β1ᵗ) */
  stepSize: number;
  /** √(1 − β2ᵗ) */
  bc2Sqrt: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** Adam: L2 term added to the gradient; AdamW: decoupled, p ← p·(1 − lr·weightDecay). */
  weightDecay: number;
  decoupled: boolean;
  lr: number;
}

export interface Kernels {
  /** Human-readable backend name, e.g. 'js'. */
  readonly name: string;
  /**
   * Names the arithmetic, e.g. 'js', 'wasm-simd', 'wasm-simd-fma' (default: `name`). Two backends
   * with the same id give bitwise identical results; checkpoints record it (see trainer.ts).
   */
  readonly id?: string;

  /** A zeroed buffer of n scalars; backends may place it in their own memory. */
  alloc(n: number, dtype: Dtype): FloatArray;
  /** Gives a buffer from `alloc` back (backends whose memory the GC does not manage). */
  free?(buf: FloatArray): void;
  /** Stops whatever the backend started (helper threads); it must not be used afterwards. */
  close?(): Promise<void>;

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
   * The BPTT step's fused backward: dh = dhA + dhB (gradient from the outputs + through the
   * recurrence), dpre(n) = dh ⊙ act'(h) as in actBackward. dpre may alias dhA. Returns Σ dh²
   * (the ‖∂L/∂h_t‖ profile; float32 backends may sum in float32).
   */
  actBackwardAdd(dpre: FloatArray, dhA: FloatArray, dhB: FloatArray, h: FloatArray, n: number, act: Activation): number;
  /** Saturation diagnostics: tanh counts |h| > 0.99, relu counts h == 0. */
  countSaturated(h: FloatArray, n: number, act: Activation): number;

  /**
   * Σ x² over x(n) in double (clip_grad_norm_ and the gradient-norm diagnostics). The order of
   * the additions is the backend's own (JS: sequential; WASM: four double lanes).
   */
  sumSquares(x: FloatArray, n: number): number;
  /** x(n) ← x · factor, each product formed in double and rounded to x's type (clipping). */
  scaleInPlace(x: FloatArray, n: number, factor: number): void;

  /**
   * Optional fused recurrence over a window (the loop of rnnForward): for t in [0, K),
   * hs[t+1] = act(hs[t+1] + hs[t] · Whhᵀ + bhh), where hs (K + 1, B, H) holds h0 and, on entry,
   * each step's input projection + b_ih. Per step: a product accumulated into hs[t+1] (the
   * backend's own product arithmetic, e.g. WASM runs h·(Whhᵀ) from 4 streams up), then addBias
   * and actForward. Returns false when it does not apply (the caller loops with matmulNT).
   */
  recurrenceForward?(hs: FloatArray, Whh: FloatArray, bhh: FloatArray, K: number, B: number, H: number, act: Activation): boolean;
  /**
   * Optional fused backward loop of rnnBackward: for t from K−1 to 0, dhs[t] ← (dhs[t] + dhNext) ⊙
   * act'(hs[t+1]) with sumSq[t] = Σ (dhs[t] + dhNext)², then dhNext ← dhs[t] · Whh. dhs (K, B, H)
   * holds ∂L/∂h_t from the outputs on entry and ∂L/∂pre_t on return; dhNext (B, H) ends as ∂L/∂h0.
   * Same arithmetic as actBackwardAdd + matmulNN per step; false when it does not apply.
   */
  recurrenceBackward?(
    dhs: FloatArray, dhNext: FloatArray, sumSq: Float64Array, hs: FloatArray, Whh: FloatArray,
    K: number, B: number, H: number, act: Activation,
  ): boolean;

  /**
   * Optional fused optimizer step: Adam / AdamW (no amsgrad) over p, g, m = exp_avg, v =
   * exp_avg_sq (n each), in the backend's own arithmetic (the WASM backend: float32, torch's
   * operation order). Returns false when it does not apply (float64 or foreign buffers): the
   * optimizer then runs its reference loop.
   */
  adamStep?(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, n: number, s: AdamStepScalars): boolean;

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
