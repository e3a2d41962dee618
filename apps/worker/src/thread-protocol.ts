// Messages between a job attempt (main thread) and its training thread. Everything crosses
// `postMessage` as structured clones; byte payloads are transferred, not copied.
import type { CsvOptions, DatasetFormat, EarlyStopping, JobSpec } from '@unroll/protocol';

/** Values of the shared stop flag, checked by the thread between batches. */
export const StopReason = { none: 0, cancel: 1, shutdown: 2 } as const;
export type StopReasonName = Exclude<keyof typeof StopReason, 'none'>;

export interface CheckpointCandidate {
  key: string;
  /** Completed epochs recorded in the checkpoint (from its blob key). */
  epoch: number;
  bytes: Uint8Array;
}

/** Validation loss of an epoch that already ran (from the job's event stream), for early stopping after a resume. */
export interface PastEpoch {
  epoch: number;
  valLoss: number | null;
}

export interface TrainingThreadInput {
  jobId: string;
  spec: JobSpec;
  dataset: { kind: DatasetFormat; bytes: Uint8Array; csv: CsvOptions | null };
  /** Newest first; the thread resumes from the first one whose checksum verifies. */
  checkpoints: CheckpointCandidate[];
  pastEpochs: PastEpoch[];
  progressIntervalMs: number;
  /** Cores this job's kernels may use: the machine's, shared among the jobs the worker runs at once. */
  cores: number;
  /**
   * Memory this job may take (WORKER_MEMORY_BUDGET_BYTES): the thread estimates its run from the
   * parsed data before training and refuses with job_too_large (not retryable) past it.
   */
  memoryBudgetBytes: number;
  /** Int32Array(1) over this buffer holds a StopReason. */
  stopFlag: SharedArrayBuffer;
}

export type ThreadMessage =
  | {
      type: 'started';
      /** Epochs already done when training (re)started: 0 for a fresh start. */
      resumedFromEpoch: number;
      resumedFromKey: string | null;
      /** Checkpoints that failed verification, newest first. */
      rejectedCheckpoints: { key: string; reason: string }[];
      stepsPerEpoch: number | null;
    }
  | { type: 'progress'; epoch: number; step: number; stepsInEpoch: number; loss: number; tokensPerSec: number }
  | {
      type: 'epoch';
      epoch: number;
      /** The `epoch` event body (without `type`). */
      metrics: EpochMetricsMessage;
      /**
       * Full trainer state after this epoch (Trainer.serialize). Null when the epoch is re-published
       * from the checkpoint the thread resumed from (already durable: a previous attempt died
       * between writing it and publishing the epoch).
       */
      state: Uint8Array | null;
      /** Set when this epoch has the best validation loss so far: its weights as safetensors. */
      bestWeights: Uint8Array | null;
      /** Early stopping: no improvement for `patience` epochs; training ends after this epoch. */
      stopEarly: boolean;
    }
  | {
      type: 'stopped';
      reason: StopReasonName;
      /** Completed epochs, and steps taken in the interrupted one. */
      epoch: number;
      step: number;
      /** Shutdown: the trainer state at this batch boundary (resumes mid-epoch). Null for cancel. */
      state: Uint8Array | null;
    }
  | { type: 'done'; epoch: number; finalWeights: Uint8Array; bestEpoch: number | null; finalLoss: number | null }
  | { type: 'error'; error: ThreadError };

export interface EpochMetricsMessage {
  epoch: number;
  trainLoss: number;
  valLoss?: number | null;
  best?: boolean;
  [metric: string]: unknown;
}

/** An error from the thread, flattened so it survives structured cloning. */
export interface ThreadError {
  /** `non_finite_loss`, `non_finite_gradient`, `invalid_dataset`, `incompatible_dataset`, `job_too_large`, or `training_failed`. */
  code: string;
  message: string;
  /** Whether retrying the attempt can help (false for bad data, NaN losses, bad specs). */
  retryable: boolean;
  epoch?: number;
  step?: number;
  param?: string;
  line?: number;
  column?: number;
  stack?: string;
}

export type { EarlyStopping };
