import { z } from 'zod';
import { EXAMPLE_MEMORY_ESTIMATE } from './examples.ts';

const bytes = z.int().min(0);

/**
 * What a training job will allocate, estimated from its spec and the dataset's statistics at
 * creation (packages/rnn estimateTrainingMemory). `bytes` is the engine's WebAssembly linear
 * memory at its peak and must fit `limit`; `totalBytes` adds the JS heap and must fit `budget`.
 */
export const MemoryEstimate = z
  .object({
    bytes: bytes.meta({ description: 'WebAssembly memory the engine allocates at its peak' }),
    limit: bytes.meta({ description: 'The lower of the engine memory maximum (1 GiB) and the worker budget (WORKER_MEMORY_BUDGET_BYTES)' }),
    totalBytes: bytes.meta({ description: 'bytes plus the JS heap (parsed dataset, window ids, checkpoint copies)' }),
    budget: bytes.meta({ description: "The worker's memory budget per job (WORKER_MEMORY_BUDGET_BYTES); totalBytes must fit it" }),
    window: z.object({ steps: z.int().min(1), batch: z.int().min(1) }).meta({ description: 'BPTT window steps K and streams B the buffers are sized for' }),
    breakdown: z
      .object({
        params: bytes,
        gradients: bytes,
        optimizer: bytes,
        activations: bytes.meta({ description: 'hidden states and their gradients, O(K·B·H)' }),
        outputs: bytes.meta({ description: 'logits, probabilities and their gradients, O(K·B·O)' }),
        scratch: bytes.meta({ description: 'the kernels scratch blocks' }),
        dataset: bytes.meta({ description: 'the parsed dataset (JS heap)' }),
        host: bytes.meta({ description: 'window ids, epoch order, checkpoint copies (JS heap)' }),
      })
      .meta({ description: 'Bytes per part' }),
  })
  .meta({ id: 'MemoryEstimate', example: EXAMPLE_MEMORY_ESTIMATE });
export type MemoryEstimate = z.infer<typeof MemoryEstimate>;

/** Whether a job of this estimate can run: its engine memory within `limit` and its total within `budget`. */
export function fitsMemory(estimate: Pick<MemoryEstimate, 'bytes' | 'limit' | 'totalBytes' | 'budget'>): boolean {
  return estimate.bytes <= estimate.limit && estimate.totalBytes <= estimate.budget;
}
