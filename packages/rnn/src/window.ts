// One BPTT window: forward over K steps from a given (detached) h0, loss on the newest steps
// [lossFrom, K), and the hand-written backward from step K−1 to 0 accumulating into the
// gradient buffer. Plus the truncated-BPTT arithmetic (Williams & Peng) that decides which
// windows a sequence of length T is cut into.
//
// Memory: the workspace is sized for the window only — O(K·B·H) hidden states and O(K·B·O)
// logits — never for the whole sequence or corpus.

import type { Kernels } from './kernels/kernels.ts';
import type { Dtype, FloatArray, ParamName } from './layout.ts';
import { lossBackward, lossForward, type LossKind, type LossTargets, reductionScale } from './loss.ts';
import { outputBackward, outputForward, rnnBackward, rnnForward, type StepInputs } from './rnn.ts';
import type { BpttSpec, ModelSpec, Reduction } from './spec.ts';

export type ParamViews = Record<ParamName, FloatArray>;

/** Buffers for windows of up to maxK steps and maxB streams, allocated through the backend. */
export class BpttWorkspace {
  readonly hs: FloatArray; // ((maxK + 1), maxB, H); hs[0] = h0
  readonly dhs: FloatArray; // (maxK, maxB, H) ∂L/∂h_t from the outputs, then ∂L/∂pre_t
  readonly logits: FloatArray; // (maxK·maxB, O)
  readonly probs: FloatArray; // (maxK·maxB, O)
  readonly dlogits: FloatArray; // (maxK·maxB, O)
  readonly rowLosses: FloatArray; // (maxK·maxB)
  readonly dhNext: FloatArray; // (maxB, H)
  readonly dh0: FloatArray; // (maxB, H) ∂L/∂h0 after a backward
  readonly dbias: FloatArray; // (H) recurrent bias gradient of one window
  readonly ids: Int32Array; // (maxK, maxB) token inputs, −1 = padding
  readonly x: FloatArray; // (maxK, maxB, I) vector inputs
  readonly targetIds: Int32Array; // (maxK, maxB) class targets, −1 = no loss
  readonly targetValues: FloatArray; // (maxK, maxB, O) regression targets
  readonly mask: Uint8Array; // (maxK, maxB) regression mask, 1 = counts
  readonly profile: Float64Array; // (maxK) ‖∂L/∂h_t‖ of the last backward
  readonly sumSq: Float64Array; // (maxK) Σ (∂L/∂h_t)² per step of the last backward

  constructor(
    readonly kernels: Kernels,
    readonly dtype: Dtype,
    readonly model: ModelSpec,
    readonly lossKind: LossKind,
    readonly maxK: number,
    readonly maxB: number,
  ) {
    const { hiddenSize: H, inputSize: I, outputSize: O } = model;
    const KB = maxK * maxB;
    const a = (n: number) => kernels.alloc(n, dtype);
    this.hs = a((maxK + 1) * maxB * H);
    this.dhs = a(KB * H);
    this.logits = a(KB * O);
    this.probs = lossKind === 'cross-entropy' ? a(KB * O) : a(0);
    this.dlogits = a(KB * O);
    this.rowLosses = a(KB);
    this.dhNext = a(maxB * H);
    this.dh0 = a(maxB * H);
    this.dbias = a(H);
    this.ids = new Int32Array(model.inputKind === 'tokens' ? KB : 0);
    this.x = a(model.inputKind === 'vectors' ? KB * I : 0);
    this.targetIds = new Int32Array(lossKind === 'cross-entropy' ? KB : 0);
    this.targetValues = a(lossKind === 'squared-error' ? KB * O : 0);
    this.mask = new Uint8Array(lossKind === 'squared-error' ? KB : 0);
    this.profile = new Float64Array(maxK);
    this.sumSq = new Float64Array(maxK);
  }

  /** Gives the float buffers back to the backend (kernels.free); the workspace is dead afterwards. */
  dispose(): void {
    const free = this.kernels.free?.bind(this.kernels);
    if (free === undefined) return;
    for (const buf of [this.hs, this.dhs, this.logits, this.probs, this.dlogits, this.rowLosses, this.dhNext, this.dh0, this.dbias, this.x, this.targetValues]) {
      free(buf);
    }
  }

  /** h0 view (B, H) — write the window's starting hidden state here. */
  h0(B: number): FloatArray {
    return this.hs.subarray(0, B * this.model.hiddenSize);
  }

  /** Hidden state after step t of the last forward (t = 0 is h0): (B, H). */
  hiddenAt(t: number, B: number): FloatArray {
    const BH = B * this.model.hiddenSize;
    return this.hs.subarray(t * BH, (t + 1) * BH);
  }

  /** Logits / predictions of step t of the last forward (only for t ≥ lossFrom): (B, O). */
  outputsAt(t: number, lossFrom: number, B: number): FloatArray {
    const BO = B * this.model.outputSize;
    return this.logits.subarray((t - lossFrom) * BO, (t - lossFrom + 1) * BO);
  }
}

export interface WindowShape {
  /** Steps in the window. */
  K: number;
  /** Streams / sequences. */
  B: number;
  /** First step carrying loss; steps [lossFrom, K) do. */
  lossFrom: number;
}

export interface WindowResult {
  /** Summed (unreduced) loss over the window's loss terms. */
  lossSum: number;
  /** Number of loss terms (the 'mean' denominator). */
  lossCount: number;
  /** The reduced loss that was differentiated. */
  loss: number;
}

export interface WindowOptions {
  reduction: Reduction;
  /** Accumulate ‖∂L/∂h_t‖ into ws.profile (zeroed first). */
  profile?: boolean;
  /** Write ∂L/∂h0 into ws.dh0. */
  wantDh0?: boolean;
}

/**
 * Forward (and, when grads is given, backward) over one window whose inputs and targets are
 * already in the workspace and whose h0 is in ws.h0(B). Gradients are ADDED into grads.
 */
export function windowForwardBackward(
  ws: BpttWorkspace, params: ParamViews, grads: ParamViews | null, shape: WindowShape, options: WindowOptions,
): WindowResult {
  const k = ws.kernels;
  const { K, B, lossFrom } = shape;
  const { inputSize: I, hiddenSize: H, outputSize: O, activation } = ws.model;
  if (K < 1 || K > ws.maxK || B < 1 || B > ws.maxB || lossFrom < 0 || lossFrom > K) {
    throw new RangeError(`window K=${K} B=${B} lossFrom=${lossFrom} does not fit workspace (${ws.maxK}, ${ws.maxB})`);
  }
  const BH = B * H;
  const sizes = { K, B, I, H };
  const inputs: StepInputs =
    ws.model.inputKind === 'tokens' ? { kind: 'tokens', ids: ws.ids } : { kind: 'vectors', x: ws.x };
  rnnForward(k, ws.hs, inputs, params, activation, sizes);

  const N = (K - lossFrom) * B; // rows carrying loss
  const hsLoss = ws.hs.subarray((lossFrom + 1) * BH, (K + 1) * BH); // (N, H)
  const logits = ws.logits.subarray(0, N * O);
  outputForward(k, logits, hsLoss, params.Why, params.by, N, H, O);
  const targets: LossTargets =
    ws.lossKind === 'cross-entropy'
      ? { kind: 'classes', ids: ws.targetIds.subarray(lossFrom * B, K * B) }
      : {
          kind: 'values',
          values: ws.targetValues.subarray(lossFrom * B * O, K * B * O),
          mask: ws.mask.subarray(lossFrom * B, K * B),
        };
  const { sum, count } = lossForward(k, ws.probs, ws.rowLosses, logits, targets, N, O);
  const scale = reductionScale(options.reduction, count);
  const result = { lossSum: sum, lossCount: count, loss: sum * scale };
  if (grads === null) return result;

  const dlogits = ws.dlogits.subarray(0, N * O);
  dlogits.fill(0);
  lossBackward(k, dlogits, ws.probs, logits, targets, scale, N, O);
  ws.dhs.fill(0, 0, lossFrom * BH); // steps without loss get gradient only through the recurrence
  outputBackward(k, ws.dhs.subarray(lossFrom * BH, K * BH), grads.Why, grads.by, dlogits, hsLoss, params.Why, N, H, O);
  const profile = options.profile ? ws.profile : null;
  if (profile !== null) profile.fill(0);
  rnnBackward(
    k, options.wantDh0 ? ws.dh0.subarray(0, BH) : null, grads, ws.dhs, ws.hs, inputs, params, activation, sizes,
    ws, profile,
  );
  return result;
}

/** A window over steps [start, end) of a sequence; steps [start + lossFrom, end) carry loss. */
export interface WindowSpan {
  start: number;
  end: number;
  lossFrom: number;
}

export function validateBptt(bptt: BpttSpec): void {
  if (bptt.mode === 'full') return;
  const { k1, k2 } = bptt;
  if (!Number.isInteger(k1) || k1 < 1) throw new RangeError(`bptt.k1 must be an integer >= 1, got ${k1}`);
  if (!Number.isInteger(k2) || k2 < 1) throw new RangeError(`bptt.k2 must be an integer >= 1, got ${k2}`);
  if (k1 > k2) throw new RangeError(`bptt.k1 (${k1}) must be <= bptt.k2 (${k2})`);
}

/**
 * The window that follows `done` processed steps of a length-T sequence.
 * Truncated BPTT(k1, k2): the next k1 steps (fewer at the end) carry loss, and the forward /
 * backward reaches back k2 steps (fewer at the start). Full: one window over everything.
 */
export function windowAfter(bptt: BpttSpec, T: number, done: number): WindowSpan {
  if (bptt.mode === 'full') return { start: 0, end: T, lossFrom: 0 };
  const end = Math.min(done + bptt.k1, T);
  const start = Math.max(0, end - bptt.k2);
  return { start, end, lossFrom: done - start };
}

/** Windows needed for a length-T sequence. */
export function windowCount(bptt: BpttSpec, T: number): number {
  return bptt.mode === 'full' ? 1 : Math.ceil(T / bptt.k1);
}

/** Longest window for sequences up to maxT steps. */
export function maxWindowLength(bptt: BpttSpec, maxT: number): number {
  return bptt.mode === 'full' ? maxT : Math.min(bptt.k2, maxT);
}
