import { z } from 'zod';
import { EXAMPLE_EVENT_MESSAGES, EXAMPLE_FAILED_EVENT_MESSAGE, EXAMPLE_STREAM_ID } from './examples.ts';
import { EventTime, JobStatus, Progress } from './job.ts';

// Events of a job, in its Redis stream `unroll:job:{id}:events` and on the WebSocket as
// `{id: <stream id>, event}`. A finished job's stream ends with a `status` event whose status is
// terminal; its `completed` / `failed` detail event comes right before it in the same atomic write.
// Every event carries `at`: writers may leave it out, the store stamps it (EventLog.append,
// JobStore.transition), and reads fill it from the stream id for events stored before it existed.

export const StatusEvent = z.strictObject({
  type: z.literal('status'),
  status: JobStatus,
  at: EventTime,
  attempt: z.int().min(0).optional(),
  /** Why the job went back to the queue (a retried attempt's error), or why it was settled. */
  reason: z.string().optional(),
}).meta({ example: EXAMPLE_EVENT_MESSAGES[0].event });

const finite = z.number();
/**
 * A metric of a training run, which may overflow (a diverging run's perplexity is exp(loss)):
 * null when not finite, its path then listed in the event's `nonFinite`.
 */
const metric = z.number().nullable();

export const EpochEvent = z
  .looseObject({
    type: z.literal('epoch'),
    epoch: z.int().min(1),
    trainLoss: metric,
    valLoss: metric.optional(),
    bpc: metric.optional(),
    perplexity: metric.optional(),
    gradNormPreClip: metric,
    gradNormPostClip: metric,
    clipRate: z.number().min(0).max(1).nullable(),
    paramGradNorms: z.record(z.string(), metric),
    paramNorms: z.record(z.string(), metric),
    /** Gradient norm reaching each step back in time (vanishing / exploding diagnostics). */
    timeProfile: z.array(metric),
    whhSpectralNorm: metric,
    /** Fraction of saturated hidden units (|h| > 0.99 for tanh, 0 for relu). */
    saturation: z.number().min(0).max(1).nullable(),
    tokensPerSec: z.number().min(0).nullable(),
    lr: metric,
    etaSeconds: z.number().min(0).nullable(),
    best: z.boolean().optional(),
    at: EventTime.optional(),
    /** Paths of the metrics that were not finite (Infinity / NaN) and are null here, e.g. `perplexity`, `timeProfile[5]`. */
    nonFinite: z.array(z.string()).optional(),
  })
  .meta({ description: 'Extra metric fields from the engine are kept as-is', example: EXAMPLE_EVENT_MESSAGES[2].event });

export const ProgressEvent = z.strictObject({ type: z.literal('progress'), ...Progress.shape }).meta({ example: EXAMPLE_EVENT_MESSAGES[1].event });

export const CheckpointEvent = z.strictObject({
  type: z.literal('checkpoint'),
  epoch: z.int().min(1),
  bytes: z.int().min(0).optional(),
  sha256: z.string().optional(),
  at: EventTime.optional(),
}).meta({ example: EXAMPLE_EVENT_MESSAGES[3].event });

export const CompletedEvent = z.strictObject({
  type: z.literal('completed'),
  weights: z.strictObject({ safetensors: z.string(), json: z.string() }),
  bestEpoch: z.int().min(1).nullable(),
  finalLoss: finite.nullable(),
  at: EventTime.optional(),
}).meta({ example: EXAMPLE_EVENT_MESSAGES[4].event });

export const FailedEvent = z.strictObject({
  type: z.literal('failed'),
  code: z.string(),
  message: z.string(),
  param: z.string().optional(),
  epoch: z.int().min(0).optional(),
  step: z.int().min(0).optional(),
  at: EventTime.optional(),
}).meta({ example: EXAMPLE_FAILED_EVENT_MESSAGE.event });

export const JobEvent = z
  .discriminatedUnion('type', [StatusEvent, EpochEvent, ProgressEvent, CheckpointEvent, CompletedEvent, FailedEvent])
  .meta({ id: 'JobEvent', example: EXAMPLE_EVENT_MESSAGES[2].event });
export type JobEvent = z.infer<typeof JobEvent>;
export type StatusEvent = z.infer<typeof StatusEvent>;
export type EpochEvent = z.infer<typeof EpochEvent>;
export type ProgressEvent = z.infer<typeof ProgressEvent>;
export type CheckpointEvent = z.infer<typeof CheckpointEvent>;
export type CompletedEvent = z.infer<typeof CompletedEvent>;
export type FailedEvent = z.infer<typeof FailedEvent>;

/** Redis stream id, e.g. `1795634750733-0`. */
export const StreamId = z.string().regex(/^\d+-\d+$/, 'expected a stream id like 1795634750733-0').meta({ example: EXAMPLE_STREAM_ID });

export const EventMessage = z.object({ id: StreamId, event: JobEvent }).meta({ id: 'EventMessage', example: EXAMPLE_EVENT_MESSAGES[2] });
export type EventMessage = z.infer<typeof EventMessage>;

export function isTerminalStatusEvent(event: JobEvent): boolean {
  return event.type === 'status' && (event.status === 'succeeded' || event.status === 'failed' || event.status === 'cancelled');
}
