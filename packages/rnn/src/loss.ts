// Losses over N = steps·B rows of outputs, and the reduction rule.
//
// reduction 'mean' divides the summed loss by the number of loss terms: cross-entropy counts
// unmasked (b, t) positions, squared error counts unmasked (b, t, o) elements (PyTorch MSELoss).
// 'sum' does not divide. The count is per window (per optimizer step).

import type { Kernels } from './kernels/kernels.ts';
import type { FloatArray } from './layout.ts';
import type { Reduction, Task } from './spec.ts';

export type LossKind = 'cross-entropy' | 'squared-error';

export function lossKindOf(task: Task): LossKind {
  return task === 'regression' ? 'squared-error' : 'cross-entropy';
}

/** Targets for N rows: class ids (N) with −1 = ignored, or values (N, O) with a row mask (1 = counts). */
export type LossTargets =
  | { kind: 'classes'; ids: Int32Array }
  | { kind: 'values'; values: FloatArray; mask: Uint8Array | null };

export interface LossSum {
  /** Σ of per-element losses (unreduced). */
  sum: number;
  /** Number of loss terms (the 'mean' denominator). */
  count: number;
}

/**
 * probs (N, O) is written for cross-entropy (softmax of logits); rowLosses (N) always.
 */
export function lossForward(
  k: Kernels, probs: FloatArray, rowLosses: FloatArray, logits: FloatArray, targets: LossTargets, N: number, O: number,
): LossSum {
  let sum = 0;
  let count = 0;
  if (targets.kind === 'classes') {
    k.softmaxCrossEntropyForward(probs, rowLosses, logits, targets.ids, N, O);
    for (let r = 0; r < N; r++) {
      if (targets.ids[r] < 0) continue;
      sum += rowLosses[r];
      count++;
    }
  } else {
    k.squaredErrorForward(rowLosses, logits, targets.values, targets.mask, N, O);
    for (let r = 0; r < N; r++) {
      if (targets.mask !== null && targets.mask[r] === 0) continue;
      sum += rowLosses[r];
      count += O;
    }
  }
  return { sum, count };
}

/** dlogits (N, O) += scale · ∂(Σ losses)/∂logits. */
export function lossBackward(
  k: Kernels, dlogits: FloatArray, probs: FloatArray, logits: FloatArray, targets: LossTargets, scale: number, N: number, O: number,
): void {
  if (targets.kind === 'classes') k.softmaxCrossEntropyBackward(dlogits, probs, targets.ids, scale, N, O);
  else k.squaredErrorBackward(dlogits, logits, targets.values, targets.mask, scale, N, O);
}

/** Multiplier turning the summed loss into the reduced loss. */
export function reductionScale(reduction: Reduction, count: number): number {
  if (count === 0) return 0;
  return reduction === 'mean' ? 1 / count : 1;
}
