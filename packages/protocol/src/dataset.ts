import { z } from 'zod';
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
  .meta({ id: 'DatasetStats', example: { length: 1115394, sequences: 1, vocabularySize: 65 } });
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
  .meta({ id: 'Dataset' });
export type Dataset = z.infer<typeof Dataset>;

const boolish = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

/** Query string of POST /v1/datasets. CSV options only apply to text/csv uploads. */
export const UploadDatasetQuery = z
  .strictObject({
    name: z.string().min(1).max(200).optional(),
    targetColumns: z
      .string()
      .min(1)
      .max(10_000)
      .optional()
      .meta({ description: 'Comma-separated CSV column names to predict (default: all numeric columns)' }),
    horizon: z.coerce.number().int().min(1).max(10_000).optional().meta({ description: 'CSV: steps ahead to predict (default 1)' }),
    normalize: boolish.optional().meta({ description: 'CSV: z-score each column (default true)' }),
  })
  .meta({ description: 'Query string of POST /v1/datasets' });
export type UploadDatasetQuery = z.infer<typeof UploadDatasetQuery>;
