// The engine's per-epoch metrics as the body of the API's `epoch` event (1-based epoch numbers).
import type { EpochMetrics } from '@unroll/rnn';
import type { EpochMetricsMessage } from './thread-protocol.ts';

/** The `epoch` event body of a completed epoch (1-based epoch numbers, like the API). */
export function epochEventBody(m: EpochMetrics, etaSeconds: number, best: boolean): EpochMetricsMessage {
  const v = m.validation;
  return {
    epoch: m.epoch + 1,
    trainLoss: m.loss,
    valLoss: v ? v.loss : null,
    bpc: v?.bitsPerChar ?? m.bitsPerChar ?? null,
    perplexity: v?.perplexity ?? m.perplexity ?? null,
    trainBpc: m.bitsPerChar ?? null,
    gradNormPreClip: m.gradNorm.mean,
    gradNormPostClip: m.clippedGradNorm.mean,
    gradNormMax: m.gradNorm.max,
    clipRate: m.clipRate,
    paramGradNorms: m.paramGradNorms,
    paramNorms: m.paramNorms,
    timeProfile: m.hiddenGradProfile,
    whhSpectralNorm: m.whhSpectralNorm,
    saturation: m.saturation.fraction,
    tokensPerSec: m.tokensPerSec,
    lr: m.learningRate,
    etaSeconds,
    steps: m.steps,
    durationMs: m.durationMs,
    best,
  };
}

