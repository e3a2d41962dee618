import type { JobStatus } from '@unroll/protocol';

export class JobNotFoundError extends Error {
  override name = 'JobNotFoundError';
  constructor(readonly jobId: string) {
    super(`job ${jobId} not found`);
  }
}

export class DatasetNotFoundError extends Error {
  override name = 'DatasetNotFoundError';
  constructor(readonly datasetId: string) {
    super(`dataset ${datasetId} not found`);
  }
}

/** The lifecycle forbids this move (e.g. succeeded → running, or cancelled → running). */
export class IllegalTransitionError extends Error {
  override name = 'IllegalTransitionError';
  constructor(
    readonly jobId: string,
    readonly from: JobStatus,
    readonly to: JobStatus,
  ) {
    super(`job ${jobId}: illegal transition ${from} → ${to}`);
  }
}

/** A write carried a fence token older than the job's current attempt: a zombie attempt. */
export class StaleFenceError extends Error {
  override name = 'StaleFenceError';
  constructor(
    readonly jobId: string,
    readonly fence: number,
  ) {
    super(`job ${jobId}: fence ${fence} is stale (a newer attempt owns the job)`);
  }
}
