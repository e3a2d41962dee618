import { z } from 'zod';
import { EXAMPLE_DATASET, EXAMPLE_DATASET_STATS, EXAMPLE_UPLOADS } from './examples.ts';
import { CsvOptions, DatasetFormat, DatasetId } from './job-spec.ts';

/** Content types POST /v1/datasets accepts, and the dataset kind each becomes. */
export const DATASET_CONTENT_TYPES: Record<string, DatasetFormat> = {
  'text/plain': 'text',
  'application/json': 'json',
  'text/csv': 'csv',
};

export const DatasetStats = z
  .looseObject({
    /** Tokens (text), time steps (CSV) or total steps over all sequences (JSON). */
    length: z.int().min(0),
    sequences: z.int().min(0),
    vocabularySize: z.int().min(0).optional(),
    featureCount: z.int().min(0).optional(),
    outputSize: z.int().min(0).optional(),
  })
  .meta({ id: 'DatasetStats', example: EXAMPLE_DATASET_STATS });
export type DatasetStats = z.infer<typeof DatasetStats>;

export const Dataset = z
  .object({
    id: DatasetId,
    kind: DatasetFormat,
    name: z.string().nullable(),
    bytes: z.int().min(0),
    sha256: z.string(),
    stats: DatasetStats,
    csv: CsvOptions.nullable(),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: 'Dataset', example: EXAMPLE_DATASET });
export type Dataset = z.infer<typeof Dataset>;

const boolish = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** Query string of POST /v1/datasets. CSV options only apply to text/csv uploads. */
export const UploadDatasetQuery = z
  .strictObject({
    name: z.string().min(1).max(200).optional().meta({ description: 'A name to remember the dataset by', example: 'tinyshakespeare' }),
    targetColumns: z
      .string()
      .min(1)
      .max(10_000)
      .optional()
      .meta({ description: 'Comma-separated CSV column names to predict (default: all numeric columns)', example: 'passengers' }),
    horizon: z.coerce.number().int().min(1).max(10_000).optional().meta({ description: 'CSV: steps ahead to predict (default 1)', example: 1 }),
    normalize: boolish.optional().meta({ description: 'CSV: z-score each column (default true)', example: 'true' }),
  })
  .meta({ description: 'Query string of POST /v1/datasets' });
export type UploadDatasetQuery = z.infer<typeof UploadDatasetQuery>;

/**
 * Documentation-only schemas of the POST /v1/datasets bodies, one per content type (the route
 * streams the raw body, the engine's parsers validate it).
 */
export const DatasetUploadBodies = {
  'text/plain': z.string().meta({ description: 'Character LM corpus (UTF-8 text); task lm', examples: [EXAMPLE_UPLOADS['text/plain']] }),
  'application/json': z
    .looseObject({
      task: z.enum(['regression', 'classification']),
      targetMode: z.enum(['many-to-many', 'many-to-one']).optional(),
      inputKind: z.enum(['vectors', 'tokens']).optional(),
      vocabSize: z.int().min(1).optional(),
      vocab: z.array(z.string()).optional(),
      numClasses: z.int().min(1).optional(),
      sequences: z.array(z.looseObject({ inputs: z.array(z.unknown()), targets: z.unknown(), mask: z.array(z.int().min(0).max(1)).optional() })),
    })
    .meta({
      description: 'Independent sequences for regression / classification: inputs are T rows of I numbers (or T token ids); targets per step (many-to-many) or one per sequence (many-to-one)',
      examples: [EXAMPLE_UPLOADS['application/json']],
    }),
  'text/csv': z.string().meta({
    description: 'Time series with a header row, one time step per line; predict targetColumns horizon steps ahead (regression)',
    examples: [EXAMPLE_UPLOADS['text/csv']],
  }),
} as const;
