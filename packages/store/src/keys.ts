// Redis key layout (ARCHITECTURE.md). Everything the service writes starts with `unroll:`.

export const KEY_PREFIX = 'unroll:';
export const QUEUE_NAME = 'unroll-train';
/** BullMQ prefix: its keys become `unroll:bull:unroll-train:*`. */
export const QUEUE_PREFIX = 'unroll:bull';

export const keys = {
  dataset: (id: string) => `${KEY_PREFIX}dataset:${id}`,
  /** Set of queued/running job ids using the dataset (DELETE answers 409 while non-empty). */
  datasetActiveJobs: (id: string) => `${KEY_PREFIX}dataset:${id}:active-jobs`,
  tenantDatasets: (tenant: string) => `${KEY_PREFIX}tenant:${tenant}:datasets`,
  job: (id: string) => `${KEY_PREFIX}job:${id}`,
  jobEvents: (id: string) => `${KEY_PREFIX}job:${id}:events`,
  tenantJobs: (tenant: string) => `${KEY_PREFIX}tenant:${tenant}:jobs`,
  /** Set of the tenant's queued/running job ids (the concurrent-jobs cap counts it). */
  tenantActiveJobs: (tenant: string) => `${KEY_PREFIX}tenant:${tenant}:active-jobs`,
  /** Bytes of dataset blobs the tenant stores (the stored-bytes cap counts it). */
  tenantStoredBytes: (tenant: string) => `${KEY_PREFIX}tenant:${tenant}:stored-bytes`,
  /** @fastify/rate-limit counters (one per API key's tenant), shared by every API process. */
  rateLimitPrefix: `${KEY_PREFIX}rate-limit:`,
};

/** Blob store keys for datasets and job artifacts. */
export const blobKeys = {
  dataset: (id: string) => `datasets/${id}`,
  /**
   * Where an upload streams and is parsed; moved to `dataset(id)` only after its record is
   * committed, so a blob under datasets/ always had a record (the orphan sweep clears the rest).
   */
  stagedDataset: (id: string) => `uploads/${id}`,
  checkpoint: (jobId: string, epoch: number) => `jobs/${jobId}/checkpoints/epoch-${epoch}.ckpt`,
  checkpointsPrefix: (jobId: string) => `jobs/${jobId}/checkpoints/`,
  bestCheckpoint: (jobId: string) => `jobs/${jobId}/best.ckpt`,
  finalWeights: (jobId: string) => `jobs/${jobId}/final.safetensors`,
  /**
   * Final weights written by one attempt (fence token). Only the attempt whose fenced `succeeded`
   * transition lands gets its key recorded on the job (`weightsKey`), so a zombie attempt's
   * weights are never served.
   */
  attemptFinalWeights: (jobId: string, fence: number) => `jobs/${jobId}/attempts/${fence}/final.safetensors`,
  bestWeights: (jobId: string) => `jobs/${jobId}/best.safetensors`,
  jobPrefix: (jobId: string) => `jobs/${jobId}/`,
};

/** Parses `epoch-12.ckpt` out of a checkpoint blob key; null for anything else. */
export function checkpointEpoch(blobKey: string): number | null {
  const m = /\/checkpoints\/epoch-(\d+)\.ckpt$/.exec(blobKey);
  return m ? Number(m[1]) : null;
}

/** BullMQ job data: only the id. The record in Redis (no secrets) is the source of truth. */
export interface TrainJobData {
  jobId: string;
}
