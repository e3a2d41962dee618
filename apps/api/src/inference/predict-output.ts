// Runs a planned prediction (in a compute thread) and writes the answer straight to JSON bytes:
// only what was asked for (output kind, positions) is ever formatted.
import type { RnnModel } from '../engine.ts';
import type { PredictTask } from '../compute/tasks.ts';

/** Values (B·T·O) one forward pass may hold: sequences of one length run as a batch up to this. */
const BATCH_VALUES = 4_000_000;

export function runPrediction(model: RnnModel, task: PredictTask): Uint8Array {
  const { inputKind, inputSize: I, outputSize: O } = model.spec;
  const vocab = model.task === 'lm' ? model.vocab : undefined;
  const stepsOf = (x: Int32Array | Float32Array) => (inputKind === 'tokens' ? x.length : x.length / I);
  const formatted: string[] = new Array(task.sequences.length);
  // Sequences of equal length share a forward pass (a batch is several times faster per step than
  // one sequence at a time), in batches small enough to bound the thread's memory.
  const byLength = new Map<number, number[]>();
  task.sequences.forEach((x, s) => byLength.set(stepsOf(x), [...(byLength.get(stepsOf(x)) ?? []), s]));
  for (const [T, members] of byLength) {
    const batchSize = Math.max(1, Math.min(members.length, Math.floor(BATCH_VALUES / (T * O))));
    for (let from = 0; from < members.length; from += batchSize) {
      const batch = members.slice(from, from + batchSize);
      const result = model.predict(batch.map((s) => task.sequences[s]));
      batch.forEach((s, b) => {
        const steps: string[] = [];
        for (let t = task.positions === 'last' ? T - 1 : 0; t < T; t++) {
          const at = (b * T + t) * O;
          steps.push(formatStep(task, result.logits.subarray(at, at + O), result.outputs.subarray(at, at + O), vocab));
        }
        formatted[s] = `[${steps.join(',')}]`;
      });
    }
  }
  return new TextEncoder().encode(`{"outputs":[${formatted.join(',')}]}`);
}

function formatStep(task: PredictTask, logits: Float64Array, outputs: Float64Array, vocab: string[] | undefined): string {
  switch (task.output) {
    case 'values':
    case 'probs':
      return numbers(outputs);
    case 'logits':
      return numbers(logits);
    case 'log_probs':
      return numbers(logSoftmax(logits));
    case 'top_k': {
      const ids = topK(outputs, task.k);
      const probs = ids.map((id) => outputs[id]);
      const tokens = vocab ? `,"tokens":${JSON.stringify(ids.map((id) => vocab[id]))}` : '';
      return `{"ids":[${ids.join(',')}],"probs":${numbers(probs)}${tokens}}`;
    }
  }
}

function numbers(values: ArrayLike<number>): string {
  let out = '[';
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    out += (i > 0 ? ',' : '') + (Number.isFinite(v) ? String(v) : 'null');
  }
  return `${out}]`;
}

/** log-softmax from the logits (not log of the probabilities, which underflow to -Infinity). */
function logSoftmax(logits: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) if (v > max) max = v;
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const shift = max + Math.log(sum);
  return logits.map((v) => v - shift);
}

/** The k largest entries' indexes, largest first (ties: the smaller index). */
function topK(values: Float64Array, k: number): number[] {
  if (k <= 16) {
    const best: number[] = [];
    for (let i = 0; i < values.length; i++) {
      if (best.length === k && values[i] <= values[best[k - 1]]) continue;
      let j = best.length < k ? best.length : k - 1;
      while (j > 0 && values[best[j - 1]] < values[i]) {
        best[j] = best[j - 1];
        j--;
      }
      best[j] = i;
    }
    return best;
  }
  return Array.from(values.keys()).sort((a, b) => values[b] - values[a] || a - b).slice(0, k);
}
