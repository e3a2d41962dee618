import { z } from 'zod';
import { EXAMPLE_ERROR } from './examples.ts';
import { MemoryEstimate } from './memory.ts';

/** Every machine-readable error code the API and worker may answer with. */
export const ErrorCode = z.enum([
  'invalid_request',
  'uri_too_long',
  'headers_too_large',
  'request_timeout',
  'unauthorized',
  'not_found',
  'payload_too_large',
  'unsupported_media_type',
  'invalid_dataset',
  'incompatible_dataset',
  'dataset_in_use',
  'job_finished',
  'enqueue_failed',
  'not_ready',
  'checkpoint_not_found',
  'conflict',
  'redis_unavailable',
  'invalid_weights',
  'non_finite_loss',
  'non_finite_gradient',
  'training_failed',
  'worker_lost',
  /** The blob store refused a write (disk full, unwritable folder, I/O error) on every attempt. */
  'storage_failed',
  'insufficient_storage',
  'rate_limited',
  'too_many_active_jobs',
  'storage_quota_exceeded',
  'job_too_large',
  'output_too_large',
  'compute_busy',
  'compute_failed',
  'internal',
]);
export type ErrorCode = z.infer<typeof ErrorCode>;

export const ErrorDetail = z
  .object({
    code: z.string().meta({ example: 'invalid_request' }),
    message: z.string().meta({ example: 'training.epochs: Too big: expected number to be <=1000' }),
    param: z.string().optional().meta({ description: 'Offending field path, e.g. training.epochs', example: 'training.epochs' }),
    line: z.int().optional().meta({ description: '1-based line of a dataset error' }),
    column: z.int().optional().meta({ description: '1-based column of a dataset error' }),
    memoryEstimate: MemoryEstimate.optional().meta({ description: 'job_too_large: the estimate that did not fit' }),
    position: z.int().optional().meta({ description: '0-based character position of an unknown character in predict text' }),
    limit: z.int().optional().meta({ description: 'The limit that was exceeded (output_too_large: values)' }),
    size: z.int().optional().meta({ description: 'The size the request asked for, in the unit of limit' }),
  })
  .meta({ id: 'ErrorDetail' });
export type ErrorDetail = z.infer<typeof ErrorDetail>;

/** The body of every non-2xx answer: `{error: {code, message, param?, line?, column?}}`. */
export const ApiErrorBody = z.object({ error: ErrorDetail }).meta({ id: 'ApiError', example: EXAMPLE_ERROR });
export type ApiErrorBody = z.infer<typeof ApiErrorBody>;
