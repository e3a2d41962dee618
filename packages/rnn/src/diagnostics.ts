// Training diagnostics cheap enough to leave on. Per step the trainer adds into an
// EpochAccumulators (plain numbers, so a checkpoint stores them exactly as JSON); at the end of
// an epoch they become EpochMetrics.

import type { FloatArray, ParamLayout } from './layout.ts';
import type { Activation } from './spec.ts';

export interface EpochAccumulators {
  steps: number;
  /** Σ unreduced loss and Σ loss terms: the epoch loss is their ratio (per-term mean). */
  lossSum: number;
  lossCount: number;
  /** Σ of each step's reduced loss (what the optimizer saw). */
  stepLossSum: number;
  gradNormSum: number;
  gradNormMax: number;
  clippedGradNormSum: number;
  clippedSteps: number;
  /** Σ per-parameter gradient norms (before clipping), in layout order. */
  paramGradNormSums: number[];
  /** Σ ‖∂L/∂h_t‖ by position in the window (0 = oldest step) and how many windows had that step. */
  hiddenGradSums: number[];
  hiddenGradCounts: number[];
  /** Hidden units counted saturated (tanh |h| > 0.99) or dead (relu h = 0), and units seen. */
  saturatedUnits: number;
  hiddenUnits: number;
  /** (b, t) positions carrying loss, including padding of sequence batches. */
  positions: number;
  /** Wall time spent inside step(), for tokens/sec. */
  elapsedMs: number;
}

export function emptyAccumulators(layout: ParamLayout, maxK: number): EpochAccumulators {
  return {
    steps: 0, lossSum: 0, lossCount: 0, stepLossSum: 0, gradNormSum: 0, gradNormMax: 0, clippedGradNormSum: 0,
    clippedSteps: 0, paramGradNormSums: layout.views.map(() => 0), hiddenGradSums: new Array<number>(maxK).fill(0),
    hiddenGradCounts: new Array<number>(maxK).fill(0), saturatedUnits: 0, hiddenUnits: 0, positions: 0, elapsedMs: 0,
  };
}

export type SaturationMeasure = 'tanh_saturated' | 'relu_dead';

export function saturationMeasure(act: Activation): SaturationMeasure {
  return act === 'tanh' ? 'tanh_saturated' : 'relu_dead';
}

/** Deterministic power-iteration start: the normalised all-ones vector. */
export function powerIterationStart(H: number): Float64Array {
  return new Float64Array(H).fill(1 / Math.sqrt(H));
}

/**
 * Largest singular value of W (H, H) by power iteration on WᵀW, warm-started from v (unit
 * vector, updated in place so the next call continues where this one stopped).
 */
export function largestSingularValue(W: FloatArray, H: number, v: Float64Array, iterations = 8): number {
  const u = new Float64Array(H);
  let sigma = 0;
  for (let it = 0; it < iterations; it++) {
    // u = W v
    for (let i = 0; i < H; i++) {
      let s = 0;
      for (let j = 0; j < H; j++) s += W[i * H + j] * v[j];
      u[i] = s;
    }
    // v = Wᵀ u / ‖Wᵀ u‖;  σ = ‖W v‖ ≈ sqrt(‖Wᵀ u‖) at convergence
    v.fill(0);
    for (let i = 0; i < H; i++) {
      const ui = u[i];
      for (let j = 0; j < H; j++) v[j] += W[i * H + j] * ui;
    }
    let norm = 0;
    for (let j = 0; j < H; j++) norm += v[j] * v[j];
    norm = Math.sqrt(norm);
    if (norm === 0 || !Number.isFinite(norm)) {
      v.set(powerIterationStart(H));
      return norm === 0 ? 0 : norm;
    }
    for (let j = 0; j < H; j++) v[j] /= norm;
    sigma = Math.sqrt(norm);
  }
  return sigma;
}

export interface EvalMetrics {
  /** Per-term mean loss: cross-entropy in nats per prediction, or mean squared error per element. */
  loss: number;
  lossSum: number;
  lossCount: number;
  /** Language models: loss / ln 2 and exp(loss). */
  bitsPerChar?: number;
  perplexity?: number;
}

export interface StepMetrics {
  epoch: number;
  /** 0-based step within the epoch. */
  step: number;
  /** 1-based count of optimizer steps taken so far (this one included). */
  globalStep: number;
  /** The reduced loss that was differentiated. */
  loss: number;
  lossSum: number;
  lossCount: number;
  gradNorm: number;
  clippedGradNorm: number;
  clipped: boolean;
  learningRate: number;
  /** (b, t) positions carrying loss in this step. */
  tokens: number;
}

export interface EpochMetrics {
  epoch: number;
  /** false when runEpoch stopped early (shouldStop) — the epoch continues on the next call. */
  complete: boolean;
  steps: number;
  /** Per-term mean training loss over the epoch (Σ loss / Σ terms), independent of the reduction. */
  loss: number;
  /** Mean of the per-step reduced losses. */
  meanStepLoss: number;
  bitsPerChar?: number;
  perplexity?: number;
  gradNorm: { mean: number; max: number };
  clippedGradNorm: { mean: number };
  /** Fraction of steps whose gradients were clipped. */
  clipRate: number;
  /** Mean gradient norm per parameter (PyTorch names), before clipping. */
  paramGradNorms: Record<string, number>;
  /** Weight norm per parameter at the end of the epoch. */
  paramNorms: Record<string, number>;
  /** Mean ‖∂L/∂h_t‖ by position in the window; index 0 = oldest step. */
  hiddenGradProfile: number[];
  /** Largest singular value of W_hh (power iteration). */
  whhSpectralNorm: number;
  saturation: { measure: SaturationMeasure; fraction: number };
  tokens: number;
  tokensPerSec: number;
  durationMs: number;
  learningRate: number;
  validation: EvalMetrics | null;
}

export function lmMetrics(loss: number): { bitsPerChar: number; perplexity: number } {
  return { bitsPerChar: loss / Math.LN2, perplexity: Math.exp(loss) };
}
