import { z } from 'zod';
import { EXAMPLE_JOB, EXAMPLE_PROGRESS } from './examples.ts';
import { JobId, JobSpec } from './job-spec.ts';
import { MemoryEstimate } from './memory.ts';

export const JobStatus = z.enum(['queued', 'running', 'succeeded', 'failed', 'cancelled']);
export type JobStatus = z.infer<typeof JobStatus>;

export const TERMINAL_STATUSES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];
export function isTerminal(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** Allowed lifecycle moves: queued → running → succeeded | failed | cancelled; running → queued on retry/stall. */
export const TRANSITIONS: Record<JobStatus, readonly JobStatus[]> = {
  queued: ['running', 'cancelled', 'failed'],
  running: ['succeeded', 'failed', 'cancelled', 'queued'],
  succeeded: [],
  failed: [],
  cancelled: [],
};

export const JobError = z
  .object({ code: z.string(), message: z.string(), param: z.string().optional() })
  .meta({ id: 'JobError', example: { code: 'non_finite_loss', message: 'loss became NaN at epoch 3 step 17' } });
export type JobError = z.infer<typeof JobError>;

/** When an event was written (ISO 8601, the writer's clock). Set by the store on every event it writes. */
export const EventTime = z.iso.datetime().meta({ description: 'When the event was written (ISO 8601); present on every event the API sends', example: '2026-11-25T19:25:51.733Z' });

export const Progress = z
  .object({
    epoch: z.int().min(0),
    step: z.int().min(0),
    stepsInEpoch: z.int().min(0),
    loss: z.number(),
    tokensPerSec: z.number().min(0),
    at: EventTime.optional(),
  })
  .meta({ id: 'Progress', example: EXAMPLE_PROGRESS });
export type Progress = z.infer<typeof Progress>;

export const Transition = z.object({
  status: JobStatus,
  at: z.iso.datetime(),
  attempt: z.int().optional(),
  /** Why the job went back to the queue (a retried attempt's error), or why it was settled. */
  reason: z.string().optional(),
});
export type Transition = z.infer<typeof Transition>;

/** Where a queued job stands: so a user whose job does not start sees why (no worker, a long queue, a retry's backoff). */
export const QueuePlace = z
  .object({
    state: z.enum(['waiting', 'delayed', 'active', 'unknown']).meta({ description: 'waiting: in line; delayed: a retry waiting out its backoff; active: a worker is taking it' }),
    position: z.int().min(1).nullable().meta({ description: '1 = next to be taken; null unless waiting' }),
    liveWorkers: z.int().min(0).meta({ description: 'Worker processes connected to the queue now' }),
  })
  .meta({ id: 'QueuePlace', example: { state: 'waiting', position: 3, liveWorkers: 0 } });
export type QueuePlace = z.infer<typeof QueuePlace>;

/** The public view of a job, as GET /v1/jobs/:id answers. */
export const Job = z
  .object({
    id: JobId,
    status: JobStatus,
    task: JobSpec.shape.task,
    datasetId: z.string(),
    spec: JobSpec,
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    /** Latest time the job entered each status. */
    timestamps: z.partialRecord(JobStatus, z.iso.datetime()),
    /** Every transition in order (a retried job runs more than once). */
    history: z.array(Transition),
    attempt: z.int().min(0),
    cancelRequested: z.boolean(),
    progress: Progress.nullable(),
    /** Latest epoch metrics (the last `epoch` event). */
    metrics: z.record(z.string(), z.unknown()).nullable(),
    error: JobError.nullable(),
    /** GET /v1/jobs/:id of a queued job only. */
    queue: QueuePlace.optional(),
    /** What the job will allocate, estimated at creation (null for jobs created before estimates). */
    memoryEstimate: MemoryEstimate.nullable(),
  })
  .meta({ id: 'Job', example: EXAMPLE_JOB });
export type Job = z.infer<typeof Job>;
