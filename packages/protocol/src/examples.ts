// Realistic examples for the OpenAPI document (GET /openapi.json, /docs). Attached to the zod
// schemas with `.meta({ example })` so the schemas stay the single source of truth; ids, stream
// ids and timestamps follow the real formats (ids: base36 creation time + random suffix).

export const EXAMPLE_DATASET_ID = 'ds_0mwwikgitakq1iqel28';
export const EXAMPLE_JOB_ID = 'job_0mwwikgmk9saf24i30n';
export const EXAMPLE_STREAM_ID = '1795634750733-0';
export const EXAMPLE_CURSOR = 'MTc5NTYzNDgwMTkwMjpkc18wbXd3aWwzcTJ4N2QwazVtejFi';

const T_DATASET = '2026-11-25T19:25:50.117Z';
const T_CREATED = '2026-11-25T19:25:50.252Z';
const T_RUNNING = '2026-11-25T19:25:50.733Z';
const T_UPDATED = '2026-11-25T19:27:12.418Z';

export const EXAMPLE_ERROR = {
  error: { code: 'invalid_request', message: 'training.epochs: Too big: expected number to be <=1000', param: 'training.epochs' },
};

export const EXAMPLE_DATASET_STATS = { length: 1115394, sequences: 1, vocabularySize: 65, outputSize: 65 };

export const EXAMPLE_DATASET = {
  id: EXAMPLE_DATASET_ID,
  kind: 'text',
  name: 'tinyshakespeare',
  bytes: 1115394,
  sha256: '86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed',
  stats: EXAMPLE_DATASET_STATS,
  csv: null,
  createdAt: T_DATASET,
};

export const EXAMPLE_CSV_DATASET = {
  id: 'ds_0mwwil3q2x7d0k5mz1b',
  kind: 'csv',
  name: 'airline-passengers',
  bytes: 2180,
  sha256: 'f4c5d3b0e0a2b8d4a2f1c9e7d6b5a4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7',
  stats: { length: 144, sequences: 1, featureCount: 2, outputSize: 1, columns: ['temperature', 'passengers'], targetColumns: ['passengers'] },
  csv: { targetColumns: ['passengers'], horizon: 1, normalize: true },
  createdAt: '2026-11-25T19:26:41.902Z',
};

/** Bodies of POST /v1/datasets, one per accepted content type. */
export const EXAMPLE_UPLOADS = {
  'text/plain': 'First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n',
  'application/json': {
    task: 'classification',
    targetMode: 'many-to-one',
    numClasses: 2,
    sequences: [
      { inputs: [[0.1, 0.5], [0.3, 0.2], [0.9, 0.4]], targets: 1 },
      { inputs: [[0.7, 0.1], [0.2, 0.8]], targets: 0 },
    ],
  },
  'text/csv': 'temperature,passengers\n2.1,112\n3.4,118\n6.8,132\n10.2,129\n',
} as const;

export const EXAMPLE_JOB_SPEC = {
  datasetId: EXAMPLE_DATASET_ID,
  task: 'lm',
  model: { hiddenSize: 128, activation: 'tanh', init: { scheme: 'pytorch' } },
  training: {
    epochs: 20,
    batchSize: 32,
    bptt: { mode: 'truncated', k1: 25, k2: 25 },
    optimizer: { name: 'adam', lr: 0.002, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: false },
    schedule: { kind: 'constant' },
    clip: { mode: 'norm', maxNorm: 5 },
    reduction: 'mean',
    validationSplit: 0.1,
    earlyStopping: null,
    checkpoints: { keep: 3 },
    seed: 0,
  },
};

export const EXAMPLE_PROGRESS = { epoch: 3, step: 812, stepsInEpoch: 1240, loss: 1.6342, tokensPerSec: 48210 };

export const EXAMPLE_EPOCH_METRICS = {
  type: 'epoch',
  epoch: 2,
  trainLoss: 1.7315,
  valLoss: 1.7702,
  bpc: 2.5539,
  perplexity: 5.8721,
  gradNormPreClip: 3.914,
  gradNormPostClip: 3.914,
  clipRate: 0.021,
  paramGradNorms: { 'rnn.weight_ih_l0': 0.812, 'rnn.weight_hh_l0': 2.967, 'rnn.bias_ih_l0': 0.233, 'rnn.bias_hh_l0': 0.233, 'fc.weight': 2.341, 'fc.bias': 0.118 },
  paramNorms: { 'rnn.weight_ih_l0': 9.41, 'rnn.weight_hh_l0': 11.02, 'rnn.bias_ih_l0': 0.97, 'rnn.bias_hh_l0': 0.96, 'fc.weight': 14.3, 'fc.bias': 1.12 },
  timeProfile: [0.412, 0.298, 0.207, 0.141, 0.094],
  whhSpectralNorm: 1.083,
  saturation: 0.037,
  tokensPerSec: 48210,
  lr: 0.002,
  etaSeconds: 1412,
  best: true,
};

/** Real numbers, estimated for the job of EXAMPLE_JOB_SPEC on EXAMPLE_DATASET_STATS (apps/api/test/job-memory.test.ts recomputes them). */
export const EXAMPLE_MEMORY_ESTIMATE = {
  bytes: 4681280,
  limit: 1073741824,
  totalBytes: 10224056,
  budget: 2147483648,
  window: { steps: 25, batch: 32 },
  breakdown: { params: 133440, gradients: 133440, optimizer: 266880, activations: 885248, outputs: 627328, scratch: 2634944, dataset: 4465736, host: 1077040 },
};

/** 400 job_too_large: a 100 000-character vocabulary with batch 64 (hidden 64, window 25) on a 1 000 000-character corpus; real numbers, recomputed by the test. */
export const EXAMPLE_JOB_TOO_LARGE_ERROR = {
  error: {
    code: 'job_too_large',
    message: 'the job needs an estimated 2.05 GiB of engine memory, over the limit of 1.00 GiB (window 25 steps × batch 64); lower training.batchSize',
    param: 'training.batchSize',
    memoryEstimate: {
      bytes: 2206507584,
      limit: 1073741824,
      totalBytes: 2629862352,
      budget: 2147483648,
      window: { steps: 25, batch: 64 },
      breakdown: { params: 51616896, gradients: 51616896, optimizer: 103233792, activations: 884992, outputs: 1920006528, scratch: 79148480, dataset: 10400000, host: 412954768 },
    },
  },
};

/** A running job (GET /v1/jobs/:id). */
export const EXAMPLE_JOB = {
  id: EXAMPLE_JOB_ID,
  status: 'running',
  task: 'lm',
  datasetId: EXAMPLE_DATASET_ID,
  spec: EXAMPLE_JOB_SPEC,
  createdAt: T_CREATED,
  updatedAt: T_UPDATED,
  timestamps: { queued: T_CREATED, running: T_RUNNING },
  history: [
    { status: 'queued', at: T_CREATED },
    { status: 'running', at: T_RUNNING, attempt: 1 },
  ],
  attempt: 1,
  cancelRequested: false,
  progress: EXAMPLE_PROGRESS,
  metrics: EXAMPLE_EPOCH_METRICS,
  error: null,
  memoryEstimate: EXAMPLE_MEMORY_ESTIMATE,
};

/** The 202 of POST /v1/jobs: queued, defaults filled in `spec`. */
export const EXAMPLE_QUEUED_JOB = {
  ...EXAMPLE_JOB,
  status: 'queued',
  updatedAt: T_CREATED,
  timestamps: { queued: T_CREATED },
  history: [{ status: 'queued', at: T_CREATED }],
  attempt: 0,
  progress: null,
  metrics: null,
};

/** The 202 of POST /v1/jobs/:id/cancel on a running job. */
export const EXAMPLE_CANCEL_REQUESTED_JOB = { ...EXAMPLE_JOB, cancelRequested: true, updatedAt: '2026-11-25T19:27:30.006Z' };

/** The 200 of POST /v1/jobs/:id/cancel on a queued job. */
export const EXAMPLE_CANCELLED_JOB = {
  ...EXAMPLE_QUEUED_JOB,
  status: 'cancelled',
  cancelRequested: true,
  updatedAt: '2026-11-25T19:25:51.377Z',
  timestamps: { queued: T_CREATED, cancelled: '2026-11-25T19:25:51.377Z' },
  history: [{ status: 'queued', at: T_CREATED }, { status: 'cancelled', at: '2026-11-25T19:25:51.377Z' }],
};

/** One message of each event type, as sent on the WebSocket and in `items` over HTTP. */
/** The writer's time of an example event: its stream id's milliseconds, as the store stamps it. */
const atOf = (streamId: string): string => new Date(Number(streamId.slice(0, streamId.indexOf('-')))).toISOString();

export const EXAMPLE_EVENT_MESSAGES = [
  { id: '1795634750733-0', event: { type: 'status', status: 'running', at: T_RUNNING, attempt: 1 } },
  { id: '1795634762118-0', event: { type: 'progress', ...EXAMPLE_PROGRESS, epoch: 1, step: 100, loss: 2.9137, at: atOf('1795634762118-0') } },
  { id: '1795634832406-0', event: { ...EXAMPLE_EPOCH_METRICS, at: atOf('1795634832406-0') } },
  {
    id: '1795634832406-1',
    event: { type: 'checkpoint', epoch: 2, bytes: 135244, sha256: '3b7e1c0f9a52d6e84c1f0b2a7d93e6c5f8a1b4d7e0c3f6a9b2d5e8f1a4c7b0d3', at: atOf('1795634832406-1') },
  },
  {
    id: '1795636161952-0',
    event: {
      type: 'completed',
      weights: { safetensors: `/v1/jobs/${EXAMPLE_JOB_ID}/weights`, json: `/v1/jobs/${EXAMPLE_JOB_ID}/weights?format=json` },
      bestEpoch: 18,
      finalLoss: 1.4127,
      at: atOf('1795636161952-0'),
    },
  },
  { id: '1795636161952-1', event: { type: 'status', status: 'succeeded', at: '2026-11-25T19:49:21.952Z' } },
] as const;

/** A failed job ends with a `failed` detail event, then the terminal status event. */
export const EXAMPLE_FAILED_EVENT_MESSAGE = {
  id: '1795634901377-0',
  event: { type: 'failed', code: 'non_finite_loss', message: 'loss became NaN at epoch 3 step 17', epoch: 3, step: 17, at: atOf('1795634901377-0') },
} as const;

export const EXAMPLE_CHECKPOINT = { epoch: 2, bytes: 135244, sha256: '3b7e1c0f9a52d6e84c1f0b2a7d93e6c5f8a1b4d7e0c3f6a9b2d5e8f1a4c7b0d3', createdAt: '2026-11-25T19:27:12.406Z' };

/** GET /v1/jobs/:id/weights?format=json (tensors shortened: real ones hold every value). */
export const EXAMPLE_WEIGHTS_JSON = {
  format: 'unroll-rnn-json',
  version: 1,
  task: 'lm',
  spec: { inputKind: 'tokens', inputSize: 65, hiddenSize: 128, outputSize: 65, activation: 'tanh' },
  vocab: ['\n', ' ', '!', '&', "'"],
  tensors: [
    { name: 'rnn.weight_ih_l0', shape: [128, 65], data: [0.0412, -0.0873] },
    { name: 'rnn.weight_hh_l0', shape: [128, 128], data: [0.1127, 0.0035] },
    { name: 'rnn.bias_ih_l0', shape: [128], data: [-0.0211] },
    { name: 'rnn.bias_hh_l0', shape: [128], data: [0.0174] },
    { name: 'fc.weight', shape: [65, 128], data: [0.0531] },
    { name: 'fc.bias', shape: [65], data: [-0.4409] },
  ],
  metadata: {
    format: 'unroll-rnn',
    format_version: '1',
    task: 'lm',
    activation: 'tanh',
    inputKind: 'tokens',
    architecture: "torch.nn.RNN(65, 128, nonlinearity='tanh', batch_first=True) + torch.nn.Linear(128, 65)",
  },
};

/** What the safetensors download holds (the body itself is binary). */
export const EXAMPLE_SAFETENSORS_HEADER = {
  __metadata__: { format: 'unroll-rnn', format_version: '1', task: 'lm', activation: 'tanh', inputKind: 'tokens' },
  'fc.bias': { dtype: 'F32', shape: [65], data_offsets: [0, 260] },
  'fc.weight': { dtype: 'F32', shape: [65, 128], data_offsets: [260, 33540] },
  'rnn.bias_hh_l0': { dtype: 'F32', shape: [128], data_offsets: [33540, 34052] },
  'rnn.bias_ih_l0': { dtype: 'F32', shape: [128], data_offsets: [34052, 34564] },
  'rnn.weight_hh_l0': { dtype: 'F32', shape: [128, 128], data_offsets: [34564, 100100] },
  'rnn.weight_ih_l0': { dtype: 'F32', shape: [128, 65], data_offsets: [100100, 133380] },
};

/** POST /v1/jobs/:id/predict: a language model given text, answering the 3 most likely next characters after the last one. */
export const EXAMPLE_PREDICT_TEXT_REQUEST = { text: 'ROMEO:', output: 'top_k', k: 3, positions: 'last' } as const;
export const EXAMPLE_PREDICT_TOP_K_RESPONSE = { outputs: [[{ ids: [1, 0, 43], probs: [0.6412, 0.2203, 0.0417], tokens: ['\n', ' ', 'e'] }]] };

/** A predict whose answer would be too big: refused before any work. */
export const EXAMPLE_OUTPUT_TOO_LARGE_ERROR = {
  error: {
    code: 'output_too_large',
    message:
      "the answer would hold 41600000 values (640000 steps × 65), more than the limit of 1000000; ask for positions: 'last', output: 'top_k' with a small k, or fewer / shorter sequences",
    param: 'output',
    limit: 1_000_000,
    size: 41_600_000,
  },
};
