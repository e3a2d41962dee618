// Checks a predict request against the model and sizes its answer BEFORE any computation: a
// request whose output would exceed PREDICT_MAX_OUTPUT_VALUES is refused at once with the limit
// and the computed size, instead of computing and then failing to serialize hundreds of MB.
import { PREDICT_MAX_OUTPUT_VALUES, type PredictRequest } from '@unroll/protocol';
import { ApiError } from '../errors.ts';
import type { RnnModel } from '../engine.ts';
import type { PredictTask } from '../compute/tasks.ts';

export const DEFAULT_TOP_K = 5;

export type PredictPlan = Omit<PredictTask, 'type' | 'model'> & { size: number };

export function planPrediction(model: RnnModel, body: PredictRequest): PredictPlan {
  const { inputKind, inputSize: I, outputSize: O } = model.spec;
  if ((body.inputs === undefined) === (body.text === undefined)) {
    throw new ApiError(400, 'invalid_request', 'give exactly one of inputs (token ids or vectors) and text', { param: body.inputs === undefined ? 'inputs' : 'text' });
  }
  const output = body.output ?? (model.task === 'regression' ? 'values' : 'probs');
  if (model.task === 'regression' && output !== 'values' && output !== 'logits') {
    throw new ApiError(400, 'invalid_request', `output ${output} needs class probabilities; a regression model answers its values (output logits or omitted)`, { param: 'output' });
  }
  if (body.k !== undefined && output !== 'top_k') throw new ApiError(400, 'invalid_request', 'k applies to output top_k only', { param: 'k' });
  const k = body.k ?? Math.min(DEFAULT_TOP_K, O);
  if (k > O) throw new ApiError(400, 'invalid_request', `k is ${k}, the model has ${O} outputs`, { param: 'k' });

  const sequences = body.text !== undefined ? encodeTexts(model, body.text) : decodeInputs(model, body.inputs!, inputKind, I);

  const steps = body.positions === 'last' ? sequences.length : sequences.reduce((n, x) => n + (inputKind === 'tokens' ? x.length : x.length / I), 0);
  const perStep = output === 'top_k' ? k * (model.task === 'lm' && model.vocab ? 3 : 2) : O;
  const size = steps * perStep;
  if (size > PREDICT_MAX_OUTPUT_VALUES) {
    throw new ApiError(
      400,
      'output_too_large',
      `the answer would hold ${size} values (${steps} steps × ${perStep}), more than the limit of ${PREDICT_MAX_OUTPUT_VALUES}; ` +
        "ask for positions: 'last', output: 'top_k' with a small k, or fewer / shorter sequences",
      { param: 'output', limit: PREDICT_MAX_OUTPUT_VALUES, size },
    );
  }
  return { sequences, output, k, positions: body.positions, size };
}

function decodeInputs(model: RnnModel, inputs: NonNullable<PredictRequest['inputs']>, inputKind: 'tokens' | 'vectors', I: number): (Int32Array | Float32Array)[] {
  return inputs.map((sequence, s) => {
    let x: Int32Array | Float32Array;
    if (inputKind === 'tokens') {
      if (!sequence.every((v) => typeof v === 'number')) throw new ApiError(400, 'invalid_request', 'this model takes token ids', { param: `inputs.${s}` });
      x = Int32Array.from(sequence as number[]);
      const bad = x.findIndex((id) => id >= I);
      if (bad >= 0) throw new ApiError(400, 'invalid_request', `token id ${x[bad]} outside [0, ${I})`, { param: `inputs.${s}.${bad}` });
    } else {
      const rows = sequence as unknown[];
      if (!rows.every((row) => Array.isArray(row) && row.length === I)) {
        throw new ApiError(400, 'invalid_request', `this model takes vectors of ${I} features per step`, { param: `inputs.${s}` });
      }
      x = Float32Array.from((rows as number[][]).flat());
    }
    if (x.length === 0) throw new ApiError(400, 'invalid_request', 'a sequence needs at least one step', { param: `inputs.${s}` });
    return x;
  });
}

/** Text → token ids with the model's vocabulary (one id per code point), as sample encodes its prime. */
function encodeTexts(model: RnnModel, text: string | string[]): Int32Array[] {
  if (model.task !== 'lm' || !model.vocab) {
    throw new ApiError(400, 'invalid_request', `text needs a character language model; this job's task is ${model.task}`, { param: 'text' });
  }
  const index = new Map(model.vocab.map((ch, id) => [ch, id]));
  const texts = Array.isArray(text) ? text : [text];
  return texts.map((t, s) => {
    const ids = new Int32Array(t.length);
    let n = 0;
    for (const ch of t) {
      const id = index.get(ch);
      if (id === undefined) {
        const code = `U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
        throw new ApiError(400, 'invalid_request', `character ${JSON.stringify(ch)} (${code}) at position ${n} is not in the dataset's vocabulary`, {
          param: Array.isArray(text) ? `text.${s}` : 'text',
          position: n,
        });
      }
      ids[n++] = id;
    }
    return n === ids.length ? ids : ids.slice(0, n);
  });
}
