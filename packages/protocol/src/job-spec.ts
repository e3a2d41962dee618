import { z } from 'zod';
import { EXAMPLE_DATASET_ID, EXAMPLE_JOB_ID, EXAMPLE_JOB_SPEC } from './examples.ts';

// The training request a client sends. Strict objects reject unknown fields (400 naming the
// field), every number is bounded, and defaults are filled in so the job echoes exactly what
// will run. Mirrors the engine's TrainSpec (packages/rnn/src/spec.ts) without depending on it.

export const Task = z.enum(['lm', 'regression', 'classification']).meta({
  description: 'lm: character language model on a text corpus; regression / classification: JSON sequences or CSV series',
});
export type Task = z.infer<typeof Task>;

export const Activation = z.enum(['tanh', 'relu']);
export type Activation = z.infer<typeof Activation>;

const gain = z.number().gt(0).max(10);

export const InitSpec = z
  .discriminatedUnion('scheme', [
    z.strictObject({ scheme: z.literal('pytorch') }),
    z.strictObject({ scheme: z.literal('xavier'), gain: gain.default(1) }),
    z.strictObject({ scheme: z.literal('orthogonal'), gain: gain.default(1) }),
    z.strictObject({ scheme: z.literal('identity'), gain: gain.default(1) }),
    z.strictObject({ scheme: z.literal('normal'), std: z.number().gt(0).max(1).default(0.01) }),
  ])
  .meta({ id: 'InitSpec' });
export type InitSpec = z.infer<typeof InitSpec>;

const lr = z.number().gt(0).max(10);
const weightDecay = z.number().min(0).max(1).default(0);
const eps = (d: number) => z.number().gt(0).max(1).default(d);
const beta = (d: number) => z.number().min(0).lt(1).default(d);

export const OptimizerSpec = z
  .discriminatedUnion('name', [
    z.strictObject({
      name: z.literal('sgd'),
      lr: lr.default(0.01),
      momentum: z.number().min(0).lt(1).default(0),
      dampening: z.number().min(0).max(1).default(0),
      nesterov: z.boolean().default(false),
      weightDecay,
    }),
    z.strictObject({
      name: z.literal('adam'),
      lr: lr.default(0.001),
      beta1: beta(0.9),
      beta2: beta(0.999),
      eps: eps(1e-8),
      weightDecay,
      amsgrad: z.boolean().default(false),
    }),
    z.strictObject({
      name: z.literal('adamw'),
      lr: lr.default(0.001),
      beta1: beta(0.9),
      beta2: beta(0.999),
      eps: eps(1e-8),
      weightDecay: z.number().min(0).max(1).default(0.01),
      amsgrad: z.boolean().default(false),
    }),
    z.strictObject({
      name: z.literal('adagrad'),
      lr: lr.default(0.01),
      lrDecay: z.number().min(0).max(1).default(0),
      weightDecay,
      initialAccumulatorValue: z.number().min(0).max(10).default(0),
      eps: eps(1e-10),
    }),
    z.strictObject({
      name: z.literal('rmsprop'),
      lr: lr.default(0.01),
      alpha: beta(0.99),
      eps: eps(1e-8),
      weightDecay,
      momentum: z.number().min(0).lt(1).default(0),
      centered: z.boolean().default(false),
    }),
  ])
  .meta({ id: 'OptimizerSpec' });
export type OptimizerSpec = z.infer<typeof OptimizerSpec>;

export const ScheduleSpec = z
  .discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('constant') }),
    z.strictObject({ kind: z.literal('step'), stepSize: z.int().min(1).max(10_000), gamma: z.number().gt(0).max(1).default(0.1) }),
    z.strictObject({ kind: z.literal('cosine'), tMax: z.int().min(1).max(10_000), etaMin: z.number().min(0).max(10).default(0) }),
  ])
  .meta({ id: 'ScheduleSpec', description: 'Stepped once per epoch, like a PyTorch scheduler' });
export type ScheduleSpec = z.infer<typeof ScheduleSpec>;

export const ClipSpec = z
  .discriminatedUnion('mode', [
    z.strictObject({ mode: z.literal('none') }),
    z.strictObject({ mode: z.literal('norm'), maxNorm: z.number().gt(0).max(1e6) }),
    z.strictObject({ mode: z.literal('value'), value: z.number().gt(0).max(1e6) }),
  ])
  .meta({ id: 'ClipSpec' });
export type ClipSpec = z.infer<typeof ClipSpec>;

export const MAX_WINDOW = 1000;

export const BpttSpec = z
  .discriminatedUnion('mode', [
    z.strictObject({ mode: z.literal('full') }),
    z
      .strictObject({ mode: z.literal('truncated'), k1: z.int().min(1).max(MAX_WINDOW), k2: z.int().min(1).max(MAX_WINDOW) })
      .refine((b) => b.k1 <= b.k2, { message: 'k1 must be <= k2 (Williams & Peng truncated BPTT)', path: ['k1'] }),
  ])
  .meta({ id: 'BpttSpec' });
export type BpttSpec = z.infer<typeof BpttSpec>;

export const EarlyStopping = z
  .strictObject({
    patience: z.int().min(1).max(1000).default(5),
    minDelta: z.number().min(0).max(1e6).default(0),
  })
  .meta({ id: 'EarlyStopping', description: 'Stop when validation loss has not improved by minDelta for patience epochs' });
export type EarlyStopping = z.infer<typeof EarlyStopping>;

export const ModelRequest = z
  .strictObject({
    hiddenSize: z.int().min(1).max(1024).default(64),
    activation: Activation.default('tanh'),
    init: InitSpec.prefault({ scheme: 'pytorch' }),
  })
  .meta({ id: 'ModelRequest' });
export type ModelRequest = z.infer<typeof ModelRequest>;

/** Epoch checkpoints kept per job when `training.checkpoints` is not given. */
export const DEFAULT_CHECKPOINTS_KEPT = 3;

export const CheckpointPolicy = z
  .strictObject({
    keep: z
      .union([z.int().min(1).max(1000), z.literal('all')])
      .default(DEFAULT_CHECKPOINTS_KEPT)
      .meta({ description: `Epoch checkpoints kept: the newest n (older ones are deleted as new ones land), or 'all' (one per epoch; counts against the storage quota). Default ${DEFAULT_CHECKPOINTS_KEPT}.`, example: 'all' }),
  })
  .meta({ id: 'CheckpointPolicy' });
export type CheckpointPolicy = z.infer<typeof CheckpointPolicy>;

export const TrainingRequest = z
  .strictObject({
    epochs: z.int().min(1).max(1000).default(10),
    batchSize: z.int().min(1).max(1024).default(16),
    bptt: BpttSpec.prefault({ mode: 'truncated', k1: 25, k2: 25 }),
    optimizer: OptimizerSpec.prefault({ name: 'adam' }),
    schedule: ScheduleSpec.prefault({ kind: 'constant' }),
    clip: ClipSpec.prefault({ mode: 'norm', maxNorm: 5 }),
    reduction: z.enum(['mean', 'sum']).default('mean'),
    validationSplit: z.number().min(0).max(0.5).default(0.1),
    earlyStopping: EarlyStopping.nullable().default(null),
    checkpoints: CheckpointPolicy.prefault({}),
    seed: z.int().min(0).max(2 ** 31 - 1).default(0),
  })
  .superRefine((t, ctx) => {
    // Early stopping watches the validation loss; with no validation data it would never act.
    if (t.earlyStopping && t.validationSplit === 0) {
      ctx.addIssue({ code: 'custom', path: ['earlyStopping'], message: 'early stopping watches the validation loss: set validationSplit > 0 or earlyStopping null' });
    }
  })
  .meta({ id: 'TrainingRequest' });
export type TrainingRequest = z.infer<typeof TrainingRequest>;

/** 1 MB: inline datasets are for small experiments; bigger data goes through POST /v1/datasets. */
export const MAX_INLINE_DATASET_BYTES = 1_000_000;

export const DatasetFormat = z.enum(['text', 'json', 'csv']);
export type DatasetFormat = z.infer<typeof DatasetFormat>;

export const CsvOptions = z
  .strictObject({
    targetColumns: z.array(z.string().min(1).max(200)).min(1).max(1000).optional(),
    horizon: z.int().min(1).max(10_000).default(1),
    normalize: z.boolean().default(true),
  })
  .meta({ id: 'CsvOptions' });
export type CsvOptions = z.infer<typeof CsvOptions>;

export const InlineDataset = z
  .strictObject({
    format: DatasetFormat,
    content: z
      .string()
      .min(1)
      .refine((s) => Buffer.byteLength(s, 'utf8') <= MAX_INLINE_DATASET_BYTES, { message: `inline content is limited to ${MAX_INLINE_DATASET_BYTES} bytes` }),
    csv: CsvOptions.optional(),
  })
  .meta({ id: 'InlineDataset' });
export type InlineDataset = z.infer<typeof InlineDataset>;

export const DatasetId = z.string().regex(/^ds_[0-9a-z]{8,40}$/, 'expected a dataset id like ds_...').meta({ example: EXAMPLE_DATASET_ID });
export const JobId = z.string().regex(/^job_[0-9a-z]{8,40}$/, 'expected a job id like job_...').meta({ example: EXAMPLE_JOB_ID });

export const CreateJobRequest = z
  .strictObject({
    datasetId: DatasetId.optional(),
    inline: InlineDataset.optional(),
    task: Task,
    model: ModelRequest.prefault({}),
    training: TrainingRequest.prefault({}),
  })
  .superRefine((req, ctx) => {
    const given = Number(req.datasetId !== undefined) + Number(req.inline !== undefined);
    if (given !== 1) {
      ctx.addIssue({ code: 'custom', path: ['datasetId'], message: 'give exactly one of datasetId or inline' });
    }
  })
  .meta({
    id: 'CreateJobRequest',
    example: {
      datasetId: EXAMPLE_DATASET_ID,
      task: 'lm',
      model: { hiddenSize: 128, activation: 'tanh', init: { scheme: 'pytorch' } },
      training: { epochs: 20, batchSize: 32, bptt: { mode: 'truncated', k1: 25, k2: 25 }, optimizer: { name: 'adam', lr: 0.002 }, clip: { mode: 'norm', maxNorm: 5 } },
    },
  });
export type CreateJobRequest = z.infer<typeof CreateJobRequest>;
export type CreateJobRequestInput = z.input<typeof CreateJobRequest>;

/** What a job runs: the request with defaults filled and the dataset resolved to an id. */
export const JobSpec = z
  .strictObject({
    datasetId: DatasetId,
    task: Task,
    model: ModelRequest,
    training: TrainingRequest,
  })
  .meta({ id: 'JobSpec', example: EXAMPLE_JOB_SPEC });
export type JobSpec = z.infer<typeof JobSpec>;

/** How many epoch checkpoints a job keeps (Infinity for 'all'); specs stored before the policy existed keep the default. */
export function checkpointsToKeep(spec: JobSpec): number {
  const keep = (spec.training as Partial<TrainingRequest>).checkpoints?.keep ?? DEFAULT_CHECKPOINTS_KEPT;
  return keep === 'all' ? Number.POSITIVE_INFINITY : keep;
}

/** Dataset kinds each task can train on. */
export const TASK_DATASET_KINDS: Record<Task, readonly DatasetFormat[]> = {
  lm: ['text'],
  regression: ['json', 'csv'],
  classification: ['json'],
};
