// The engine's per-epoch metrics as the body of the API's `epoch` event (1-based epoch numbers).
import type { EpochMetrics } from '@unroll/rnn';
import type { EpochMetricsMessage } from './thread-protocol.ts';

/** The `epoch` event body of a completed epoch (1-based epoch numbers, like the API). */
export function epochEventBody(m: EpochMetrics, etaSeconds: number, best: boolean): EpochMetricsMessage {
  const v = m.validation;
  return withFiniteMetrics({
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
  });
}

/**
 * JSON has no Infinity or NaN (and the event schema refuses them), yet a diverging run's metrics
 * overflow legitimately (perplexity = exp(loss)). Each non-finite number becomes null and its path
 * is listed in `nonFinite`, so the epoch is still published and the reader knows why it is empty.
 */
export function withFiniteMetrics(body: EpochMetricsMessage): EpochMetricsMessage {
  const nonFinite: string[] = [];
  const clean = (value: unknown, path: string): unknown => {
    if (typeof value === 'number') {
      if (Number.isFinite(value)) return value;
      nonFinite.push(path);
      return null;
    }
    if (ArrayBuffer.isView(value) && !(value instanceof DataView)) value = Array.from(value as unknown as ArrayLike<number>);
    if (Array.isArray(value)) return value.map((item, i) => clean(item, `${path}[${i}]`));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, item]) => [k, clean(item, `${path}.${k}`)]));
    }
    return value;
  };
  const out: EpochMetricsMessage = { ...body };
  for (const [key, value] of Object.entries(body)) if (key !== 'nonFinite') out[key] = clean(value, key);
  if (nonFinite.length > 0) out.nonFinite = nonFinite;
  return out;
}
