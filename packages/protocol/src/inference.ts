import { z } from 'zod';
import { EXAMPLE_CHECKPOINT, EXAMPLE_SAFETENSORS_HEADER, EXAMPLE_WEIGHTS_JSON } from './examples.ts';

export const WeightsQuery = z.strictObject({
  format: z.enum(['safetensors', 'json']).default('safetensors').meta({ description: 'safetensors (binary, default) or json', example: 'safetensors' }),
  checkpoint: z
    .union([z.literal('best'), z.string().regex(/^\d{1,6}$/, 'expected best or an epoch number')])
    .optional()
    .meta({ description: 'best, or an epoch number; omitted: the final weights', example: 'best' }),
});
export type WeightsQuery = z.infer<typeof WeightsQuery>;

export const Checkpoint = z
  .object({ epoch: z.int().min(1), bytes: z.int().min(0), sha256: z.string(), createdAt: z.iso.datetime() })
  .meta({ id: 'Checkpoint', example: EXAMPLE_CHECKPOINT });
export type Checkpoint = z.infer<typeof Checkpoint>;

const whichWeights = z.enum(['final', 'best']).default('final');

/** Most values (numbers, and tokens of top_k) one predict answer may hold; checked before any work. */
export const PREDICT_MAX_OUTPUT_VALUES = 1_000_000;

export const PredictOutput = z.enum(['logits', 'log_probs', 'probs', 'top_k']).meta({
  description:
    'What each step answers. Default: probs (lm, classification) or the predicted values (regression, whose only other choice is logits, the same values). ' +
    'logits: raw outputs; log_probs: log-softmax; probs: softmax; top_k: the k most likely ids with their probabilities (and characters, for a language model).',
});
export type PredictOutput = z.infer<typeof PredictOutput>;

const MAX_STEPS = 10_000;
const MAX_TOKEN_ID = 2 ** 31 - 1;

/**
 * One sequence of token ids, checked by one loop: a maximal request holds 640 000 ids, and a zod
 * check per element took 120–155 ms of the API's event loop (the JSON Schema comes from meta).
 */
const TokenSequence = z
  .custom<number[]>((v) => Array.isArray(v) && v.length <= MAX_STEPS && v.every((id) => Number.isInteger(id) && id >= 0 && id <= MAX_TOKEN_ID), {
    error: `expected at most ${MAX_STEPS} token ids (integers >= 0)`,
  })
  .meta({ type: 'array', maxItems: MAX_STEPS, items: { type: 'integer', minimum: 0, maximum: MAX_TOKEN_ID }, description: 'token ids' });

/** One sequence of feature vectors (T rows of I numbers), checked the same way. */
const VectorSequence = z
  .custom<number[][]>(
    (v) => Array.isArray(v) && v.length <= MAX_STEPS && v.every((row) => Array.isArray(row) && row.length <= MAX_STEPS && row.every((x) => typeof x === 'number' && Number.isFinite(x))),
    { error: `expected at most ${MAX_STEPS} vectors of at most ${MAX_STEPS} finite numbers` },
  )
  .meta({ type: 'array', maxItems: MAX_STEPS, items: { type: 'array', maxItems: MAX_STEPS, items: { type: 'number' } }, description: 'feature vectors, one per step' });

/** Inputs are sequences: token ids (lm) or vectors (regression / classification), or text for a character language model. */
export const PredictRequest = z
  .strictObject({
    inputs: z
      .array(z.union([TokenSequence, VectorSequence]))
      .min(1)
      .max(64)
      .optional()
      .meta({ description: 'Token-id sequences or sequences of feature vectors; exactly one of inputs and text' }),
    text: z
      .union([z.string().min(1).max(10_000), z.array(z.string().min(1).max(10_000)).min(1).max(64)])
      .optional()
      .meta({ description: 'Language models: one text or up to 64, encoded with the dataset vocabulary (an unknown character is a 400 with its position)' }),
    weights: whichWeights,
    output: PredictOutput.optional(),
    k: z.int().min(1).max(1000).optional().meta({ description: 'top_k only: how many ids per step (default 5, at most the output size)' }),
    positions: z.enum(['all', 'last']).default('all').meta({ description: 'all: every step (default); last: only the last step of each sequence' }),
  })
  .meta({ id: 'PredictRequest', example: { inputs: [[[0.1, 0.5], [0.3, 0.2], [0.9, 0.4]]], weights: 'final' } });
export type PredictRequest = z.infer<typeof PredictRequest>;

export const PredictResponse = z
  .object({ outputs: z.array(z.unknown()) })
  .meta({
    id: 'PredictResponse',
    description:
      'One entry per input sequence, each a list of steps (every step, or only the last with positions: last). A step is a list of O numbers ' +
      '(probabilities, log-probabilities, logits or predicted values), or for top_k an object {ids, probs, tokens?}, most likely first.',
    example: { outputs: [[[0.8112, 0.1888], [0.3307, 0.6693], [0.0954, 0.9046]]] },
  });

export const SampleRequest = z
  .strictObject({
    prime: z.string().max(10_000).default(''),
    length: z.int().min(1).max(10_000).default(200),
    temperature: z.number().gt(0).max(10).default(1),
    topK: z.int().min(1).max(100_000).optional(),
    seed: z.int().min(0).max(2 ** 31 - 1).default(0),
    weights: whichWeights,
  })
  .meta({ id: 'SampleRequest', example: { prime: 'ROMEO:', length: 200, temperature: 0.8, topK: 10, seed: 1 } });
export type SampleRequest = z.infer<typeof SampleRequest>;

export const SampleResponse = z
  .object({ text: z.string() })
  .meta({ id: 'SampleResponse', example: { text: 'ROMEO:\nWhat say you to my sister? I will not stay the king,\nAnd then the duke hath sent me to the world.\n' } });

/** GET /v1/jobs/:id/weights?format=json: every tensor in the PyTorch layout, with the model spec and metadata. */
export const WeightsJson = z
  .object({
    format: z.literal('unroll-rnn-json'),
    version: z.int(),
    task: z.enum(['lm', 'regression', 'classification']),
    spec: z.looseObject({ inputKind: z.enum(['tokens', 'vectors']), inputSize: z.int(), hiddenSize: z.int(), outputSize: z.int(), activation: z.enum(['tanh', 'relu']) }),
    vocab: z.array(z.string()).optional(),
    tensors: z.array(z.object({ name: z.string(), shape: z.array(z.int()), data: z.array(z.number()) })),
    metadata: z.record(z.string(), z.string()),
  })
  .meta({ id: 'WeightsJson', description: 'Tensors are row-major (data shortened in the example)', example: EXAMPLE_WEIGHTS_JSON });
export type WeightsJson = z.infer<typeof WeightsJson>;

/** GET /v1/jobs/:id/weights (default): a safetensors file. */
export const WeightsSafetensors = z.custom<Uint8Array>((v) => v instanceof Uint8Array).meta({
  type: 'string',
  format: 'binary',
  contentMediaType: 'application/octet-stream',
  description:
    'safetensors: an 8-byte little-endian header length N, an N-byte JSON header (tensor name → dtype F32, shape, data_offsets; ' +
    '`__metadata__` holds format, task, activation, inputKind, model spec, vocab), then the raw little-endian F32 data. ' +
    'Names and shapes are those of torch.nn.RNN + torch.nn.Linear: `model.load_state_dict(safetensors.torch.load_file(path))`. The example shows the decoded header.',
  example: EXAMPLE_SAFETENSORS_HEADER,
});

export const CheckpointList = z.object({ items: z.array(Checkpoint) }).meta({ examples: [{ items: [{ ...EXAMPLE_CHECKPOINT, epoch: 1, sha256: '9e2d4a7c1b0f3e6d5c8b7a9f0e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d', createdAt: '2026-11-25T19:26:31.880Z' }, EXAMPLE_CHECKPOINT] }] });
