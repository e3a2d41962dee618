// Sampling the next token from output logits (character language models).

import type { FloatArray } from './layout.ts';
import type { Prng } from './prng.ts';

/**
 * out = softmax(logits / temperature), numerically stable (max subtracted first), in doubles.
 * temperature must be > 0 (use argmax for temperature 0).
 */
export function softmaxInto(out: Float64Array, logits: FloatArray, temperature: number): void {
  if (out.length !== logits.length) throw new RangeError(`softmaxInto: out has ${out.length} slots, logits ${logits.length}`);
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`softmaxInto: temperature must be a finite number > 0, got ${temperature}`);
  }
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) {
    const e = Math.exp((logits[i] - max) / temperature);
    out[i] = e;
    sum += e;
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
}

/** Index of the largest logit; ties go to the lower index. */
export function argmax(logits: FloatArray): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

/**
 * Indices of the K largest logits (ties broken by lower index), in descending logit order.
 * O(V·K), fine for character vocabularies.
 */
export function topKIndices(logits: FloatArray, k: number): number[] {
  const chosen: number[] = [];
  const taken = new Uint8Array(logits.length);
  for (let n = 0; n < k; n++) {
    let best = -1;
    for (let i = 0; i < logits.length; i++) {
      if (!taken[i] && (best < 0 || logits[i] > logits[best])) best = i;
    }
    taken[best] = 1;
    chosen.push(best);
  }
  return chosen;
}

/**
 * Draws one index from softmax(logits / temperature), restricted to the topK largest logits
 * when topK is given (topK ≥ vocabulary size means no restriction). temperature 0 = argmax
 * (deterministic, consumes no random numbers). Otherwise consumes exactly one rng.nextFloat().
 */
export function sampleFromLogits(logits: FloatArray, options: { temperature: number; topK?: number }, rng: Prng): number {
  const { temperature, topK } = options;
  const V = logits.length;
  if (V === 0) throw new RangeError('sampleFromLogits: empty logits');
  for (let i = 0; i < V; i++) {
    if (Number.isNaN(logits[i])) throw new RangeError(`sampleFromLogits: logits[${i}] is NaN`);
  }
  if (!Number.isFinite(temperature) || temperature < 0) {
    throw new RangeError(`sampleFromLogits: temperature must be a finite number >= 0, got ${temperature}`);
  }
  if (topK !== undefined && (!Number.isSafeInteger(topK) || topK < 1)) {
    throw new RangeError(`sampleFromLogits: topK must be a positive integer, got ${topK}`);
  }
  if (temperature === 0) return argmax(logits);

  const candidates = topK !== undefined && topK < V ? topKIndices(logits, topK) : null;
  const sub = candidates ? Float64Array.from(candidates, (i) => logits[i]) : logits;
  const probs = new Float64Array(sub.length);
  softmaxInto(probs, sub, temperature);
  const u = rng.nextFloat();
  let cumulative = 0;
  let pick = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] > 0) pick = i; // if rounding leaves the total a hair below u: last possible index
  }
  for (let i = 0; i < probs.length; i++) {
    cumulative += probs[i];
    if (u < cumulative) {
      pick = i;
      break;
    }
  }
  return candidates ? candidates[pick] : pick;
}
