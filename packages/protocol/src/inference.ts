import { z } from 'zod';

export const WeightsQuery = z.strictObject({
  format: z.enum(['safetensors', 'json']).default('safetensors'),
  checkpoint: z
    .union([z.literal('best'), z.string().regex(/^\d{1,6}$/, 'expected best or an epoch number')])
    .optional()
    .meta({ description: 'best, or an epoch number; omitted: the final weights' }),
});
export type WeightsQuery = z.infer<typeof WeightsQuery>;

export const Checkpoint = z
  .object({ epoch: z.int().min(1), bytes: z.int().min(0), sha256: z.string(), createdAt: z.iso.datetime() })
  .meta({ id: 'Checkpoint' });
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
  .meta({ id: 'PredictRequest', example: { inputs: [[[0.1, 0.2], [0.3, 0.4]]] } });
export type PredictRequest = z.infer<typeof PredictRequest>;

export const PredictResponse = z.object({ outputs: z.array(z.unknown()) }).meta({ id: 'PredictResponse' });

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

export const SampleResponse = z.object({ text: z.string() }).meta({ id: 'SampleResponse' });
