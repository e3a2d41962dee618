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

/** Inputs are sequences: token ids (lm) or vectors (regression / classification). */
export const PredictRequest = z
  .strictObject({
    inputs: z
      .array(z.union([z.array(z.int().min(0)).max(10_000), z.array(z.array(z.number()).max(10_000)).max(10_000)]))
      .min(1)
      .max(64),
    weights: whichWeights,
  })
  .meta({ id: 'PredictRequest', example: { inputs: [[[0.1, 0.5], [0.3, 0.2], [0.9, 0.4]]], weights: 'final' } });
export type PredictRequest = z.infer<typeof PredictRequest>;

export const PredictResponse = z
  .object({ outputs: z.array(z.unknown()) })
  .meta({
    id: 'PredictResponse',
    description: 'One entry per input sequence: per step, class probabilities (lm, classification) or predicted values (regression)',
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
