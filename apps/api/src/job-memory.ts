// The memory check at job creation: estimates what the worker's engine will allocate from the
// spec and the dataset's stored statistics (no data parsed), and refuses a job that cannot fit
// with 400 job_too_large, instead of accepting it and failing every attempt in the worker.
import type { DatasetStats, JobSpec, MemoryEstimate } from '@unroll/protocol';
import type { DatasetRecord } from '@unroll/store';
import { ApiError } from './errors.ts';
import { estimateTrainingMemory, formatBytes, judgeMemory, threadsFor, type MemoryDataShape } from './engine.ts';

/** The engine's view of a stored dataset: its kind, sizes and lengths. */
function shapeOf(dataset: Pick<DatasetRecord, 'kind' | 'stats'>, validationSplit: number): {
  shape: MemoryDataShape;
  inputKind: 'tokens' | 'vectors';
  inputSize: number;
  outputSize: number;
} {
  const s: DatasetStats = dataset.stats;
  const maxLength = typeof s.maxLength === 'number' ? s.maxLength : s.length;
  switch (dataset.kind) {
    case 'text':
      return {
        shape: { kind: 'token-stream', length: s.length, sequences: 1, validationSplit },
        inputKind: 'tokens',
        inputSize: s.vocabularySize ?? 0,
        outputSize: s.outputSize ?? s.vocabularySize ?? 0,
      };
    case 'csv':
      return {
        shape: { kind: 'vector-stream', length: s.length, sequences: 1, validationSplit },
        inputKind: 'vectors',
        inputSize: s.featureCount ?? 0,
        outputSize: s.outputSize ?? 0,
      };
    case 'json': {
      const tokens = s.inputKind === 'tokens' || (s.inputKind === undefined && s.vocabularySize !== undefined);
      return {
        shape: { kind: 'sequences', length: s.length, sequences: s.sequences, maxLength, validationSplit },
        inputKind: tokens ? 'tokens' : 'vectors',
        inputSize: (tokens ? s.vocabularySize : s.featureCount) ?? 0,
        outputSize: s.outputSize ?? 0,
      };
    }
  }
}

/** The estimate of a job on a dataset, judged against the worker budget. */
export function estimateJobMemory(spec: JobSpec, dataset: Pick<DatasetRecord, 'kind' | 'stats'>, budgetBytes: number): MemoryEstimate & { fits: boolean; dominantParam: string } {
  const { shape, inputKind, inputSize, outputSize } = shapeOf(dataset, spec.training.validationSplit);
  const { model, training } = spec;
  // the worker's kernels pick their threads the same way (each thread has a packing buffer);
  // two cores is what threads: 'auto' ever takes
  const threads = threadsFor({
    hidden: model.hiddenSize,
    batch: training.batchSize,
    ...(training.bptt.mode === 'truncated' ? { window: training.bptt.k2 } : {}),
    cores: 2,
  });
  const estimate = estimateTrainingMemory(
    {
      task: spec.task,
      model: { inputKind, inputSize, hiddenSize: model.hiddenSize, outputSize, activation: model.activation },
      bptt: training.bptt,
      batchSize: training.batchSize,
      optimizer: training.optimizer,
    },
    shape,
    { threads },
  );
  const v = judgeMemory(estimate, budgetBytes);
  return { bytes: v.bytes, limit: v.limit, totalBytes: v.totalBytes, budget: v.budget, window: v.window, breakdown: v.breakdown, fits: v.fits, dominantParam: v.dominantParam };
}

/** The job's memory estimate, or ApiError 400 job_too_large (with the estimate, the limit and the field to lower). */
export function checkJobFits(spec: JobSpec, dataset: Pick<DatasetRecord, 'kind' | 'stats'>, budgetBytes: number): MemoryEstimate {
  const { fits, dominantParam, ...estimate } = estimateJobMemory(spec, dataset, budgetBytes);
  if (!fits) {
    const { steps, batch } = estimate.window;
    const over =
      estimate.bytes > estimate.limit
        ? `needs an estimated ${formatBytes(estimate.bytes)} of engine memory, over the limit of ${formatBytes(estimate.limit)}`
        : `needs an estimated ${formatBytes(estimate.totalBytes)} in all, over the worker budget of ${formatBytes(estimate.budget)}`;
    throw new ApiError(400, 'job_too_large', `the job ${over} (window ${steps} steps × batch ${batch}); lower ${dominantParam}`, {
      param: dominantParam,
      memoryEstimate: estimate,
    });
  }
  return estimate;
}
