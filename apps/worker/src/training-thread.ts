// The training thread: parses the dataset, resumes from the newest checkpoint that verifies (or
// starts fresh), and runs @unroll/rnn's Trainer epoch by epoch. It never touches Redis or the
// blob store; it posts messages (thread-protocol.ts) and the job attempt on the main thread
// publishes them. Off the main event loop, so BullMQ's lock renewal never starves.
import { parentPort, workerData } from 'node:worker_threads';
import type { JobSpec } from '@unroll/protocol';
import {
  checkpointBackend,
  createDefaultKernels,
  DatasetError,
  estimateTrainingMemory,
  formatBytes,
  judgeMemory,
  memoryShapeOf,
  isBackendRequest,
  type Kernels,
  NonFiniteError,
  parseCsvSeries,
  parseJsonSequences,
  parseTextCorpusBytes,
  splitForValidation,
  Trainer,
  type Dataset,
  type TrainSpec,
} from '@unroll/rnn';
import { EarlyStopper } from './early-stopping.ts';
import { epochEventBody } from './epoch-event.ts';
import { StopReason, type ThreadError, type ThreadMessage, type TrainingThreadInput } from './thread-protocol.ts';
import { datasetShape, toTrainSpec } from './train-spec.ts';

// Messages are copied, not transferred: engine buffers may be views the trainer still uses.
function post(message: ThreadMessage): void {
  parentPort!.postMessage(message);
}

function parseDataset(input: TrainingThreadInput['dataset']): Dataset {
  // A text corpus is decoded straight from its bytes into its token array, which (the bytes being
  // in a textCorpusBuffer, see processor.ts) takes the place of the bytes: neither a decoded string
  // nor the bytes are held beside the tokens.
  if (input.kind === 'text') return parseTextCorpusBytes(input.bytes, { inPlace: true });
  const text = new TextDecoder('utf-8').decode(input.bytes);
  switch (input.kind) {
    case 'json':
      return parseJsonSequences(text);
    case 'csv':
      return parseCsvSeries(text, {
        ...(input.csv?.targetColumns ? { targetColumns: input.csv.targetColumns } : {}),
        ...(input.csv ? { horizon: input.csv.horizon, normalize: input.csv.normalize } : {}),
      });
  }
}

/** The run cannot fit the worker's memory budget (or the engine's maximum): deterministic, never retried. */
class JobTooLargeError extends Error {
  override name = 'JobTooLargeError';
  constructor(message: string, readonly param: string) {
    super(message);
  }
}

/**
 * The API estimated this job from the dataset's statistics when it was created; check again
 * here, on the parsed data and the real kernels, before the trainer allocates anything, so a job
 * that cannot fit (a budget lowered since, an older record) fails at once instead of after
 * training to Memory.grow's limit on every attempt.
 */
function checkMemory(spec: TrainSpec, full: Dataset, validationSplit: number, kernels: Kernels, budgetBytes: number): void {
  const threads = (kernels as { threads?: number }).threads ?? 1;
  const verdict = judgeMemory(estimateTrainingMemory(spec, memoryShapeOf(full, validationSplit), { threads }), budgetBytes);
  if (verdict.fits) return;
  const over =
    verdict.bytes > verdict.limit
      ? `needs an estimated ${formatBytes(verdict.bytes)} of engine memory, over the limit of ${formatBytes(verdict.limit)}`
      : `needs an estimated ${formatBytes(verdict.totalBytes)} in all, over the worker budget of ${formatBytes(verdict.budget)}`;
  const { steps, batch } = verdict.window;
  throw new JobTooLargeError(`the job ${over} (window ${steps} steps × batch ${batch}); lower ${verdict.dominantParam}`, verdict.dominantParam);
}

/** Flattens anything thrown into a ThreadError; only unexpected errors are worth a retry. */
function toThreadError(err: unknown): ThreadError {
  if (err instanceof JobTooLargeError) return { code: 'job_too_large', message: err.message, retryable: false, param: err.param };
  if (err instanceof NonFiniteError) {
    const where = `epoch ${err.epoch + 1}, step ${err.step + 1}`;
    return {
      code: err.code,
      message: err.code === 'non_finite_loss'
        ? `loss became ${err.value} at ${where}; the last good checkpoint is kept (try a lower learning rate or gradient clipping)`
        : `gradient of ${err.param} became ${err.value} at ${where}; the last good checkpoint is kept (try a lower learning rate or gradient clipping)`,
      retryable: false,
      epoch: err.epoch + 1,
      step: err.step + 1,
      ...(err.param ? { param: err.param } : {}),
    };
  }
  if (err instanceof DatasetError) {
    return {
      code: 'invalid_dataset',
      message: err.message,
      retryable: false,
      ...(err.field !== undefined ? { param: err.field } : {}),
      ...(err.line !== undefined ? { line: err.line } : {}),
      ...(err.column !== undefined ? { column: err.column } : {}),
    };
  }
  const e = err as Error & { code?: unknown; field?: unknown };
  if (e?.name === 'SpecError') {
    return { code: 'incompatible_dataset', message: e.message, retryable: false, ...(typeof e.field === 'string' ? { param: e.field } : {}) };
  }
  return { code: 'training_failed', message: e?.message ?? String(err), retryable: true, ...(e?.stack ? { stack: e.stack } : {}) };
}

function train(input: TrainingThreadInput, kernels: Kernels): void {
  const stopFlag = new Int32Array(input.stopFlag);
  const stopRequested = () => Atomics.load(stopFlag, 0) !== StopReason.none;
  const spec: JobSpec = input.spec;

  const full = parseDataset(input.dataset);
  // The dataset's bytes are not needed again: let them be collected before training allocates.
  input.dataset.bytes = new Uint8Array(0);
  const { train: trainSet, validation } = splitForValidation(full, spec.training.validationSplit);
  const trainSpec = toTrainSpec(spec, datasetShape(full));
  checkMemory(trainSpec, full, spec.training.validationSplit, kernels, input.memoryBudgetBytes);

  let trainer: Trainer | null = null;
  let resumedFromKey: string | null = null;
  const rejectedCheckpoints: { key: string; reason: string }[] = [];
  for (const candidate of input.checkpoints) {
    try {
      trainer = Trainer.restore(candidate.bytes, trainSet, { validation, kernels });
      resumedFromKey = candidate.key;
      break;
    } catch (err) {
      rejectedCheckpoints.push({ key: candidate.key, reason: (err as Error).message });
    }
  }
  trainer ??= Trainer.create(trainSpec, trainSet, { validation, kernels });

  // Early stopping resumes where it was: replay the validation losses already published.
  const stopper = new EarlyStopper(spec.training.earlyStopping);
  let stoppedEarly = false;
  for (const past of [...input.pastEpochs].sort((a, b) => a.epoch - b.epoch)) {
    if (past.epoch <= trainer.epoch) stoppedEarly = stopper.observe(past.epoch, past.valLoss).stop;
  }

  post({ type: 'started', resumedFromEpoch: trainer.epoch, resumedFromKey, rejectedCheckpoints, stepsPerEpoch: trainer.stepsPerEpoch });

  // A previous attempt may have died after writing this checkpoint but before publishing its
  // epoch: publish it now from the metrics the checkpoint kept, so no epoch goes missing.
  const published = input.pastEpochs.reduce((max, p) => Math.max(max, p.epoch), 0);
  const restored = resumedFromKey !== null ? trainer.lastEpochMetrics : null;
  if (restored !== null && restored.epoch + 1 === trainer.epoch && trainer.epoch > published && !stoppedEarly) {
    const epoch = trainer.epoch;
    const verdict = stopper.observe(epoch, restored.validation?.loss ?? null);
    stoppedEarly = verdict.stop;
    const eta = stoppedEarly ? 0 : ((trainSpec.epochs - epoch) * restored.durationMs) / 1000;
    post({
      type: 'epoch',
      epoch,
      metrics: epochEventBody(restored, eta, verdict.best),
      state: null,
      bestWeights: verdict.best ? trainer.model.toSafetensors() : null,
      stopEarly: stoppedEarly,
    });
  }

  const totalEpochs = trainSpec.epochs;
  const startedAt = performance.now();
  const epochAtStart = trainer.epoch;
  while (!trainer.done && !stoppedEarly) {
    const stepsInEpoch = trainer.stepsPerEpoch;
    let windowStart = performance.now();
    let windowTokens = 0;
    const metrics = trainer.runEpoch({
      shouldStop: stopRequested,
      onStep: (m) => {
        windowTokens += m.tokens;
        const now = performance.now();
        if (now - windowStart < input.progressIntervalMs) return;
        post({ type: 'progress', epoch: m.epoch + 1, step: m.step + 1, stepsInEpoch, loss: m.loss, tokensPerSec: (windowTokens * 1000) / (now - windowStart) });
        windowStart = now;
        windowTokens = 0;
      },
    });
    if (!metrics.complete) {
      const reason = Atomics.load(stopFlag, 0) === StopReason.cancel ? 'cancel' : 'shutdown';
      const state = reason === 'shutdown' ? trainer.serialize() : null;
      post({ type: 'stopped', reason, epoch: trainer.epoch, step: trainer.stepInEpoch, state });
      return;
    }
    const epoch = metrics.epoch + 1;
    const verdict = stopper.observe(epoch, metrics.validation?.loss ?? null);
    stoppedEarly = verdict.stop;
    const perEpochMs = (performance.now() - startedAt) / (trainer.epoch - epochAtStart);
    const remaining = stoppedEarly ? 0 : totalEpochs - trainer.epoch;
    const state = trainer.serialize();
    const bestWeights = verdict.best ? trainer.model.toSafetensors() : null;
    post({ type: 'epoch', epoch, metrics: epochEventBody(metrics, (remaining * perEpochMs) / 1000, verdict.best), state, bestWeights, stopEarly: stoppedEarly });
  }

  const last = trainer.lastEpochMetrics;
  // With early stopping the delivered model is the best epoch's (the attempt swaps in best.safetensors).
  const restoresBest = spec.training.earlyStopping !== null && stopper.bestValLoss !== null;
  post({
    type: 'done',
    epoch: trainer.epoch,
    finalWeights: trainer.model.toSafetensors(),
    bestEpoch: stopper.bestEpoch,
    finalLoss: restoresBest ? stopper.bestValLoss : (last?.validation?.loss ?? last?.loss ?? null),
  });
}

/**
 * The job's compute backend: the WASM SIMD kernels (UNROLL_BACKEND=js selects the reference),
 * except that a resumed job keeps the backend its newest checkpoint recorded, so the
 * continuation is bitwise identical to an uninterrupted run.
 */
async function kernelsFor(input: TrainingThreadInput): Promise<Kernels> {
  const recorded = input.checkpoints.map((c) => checkpointBackend(c.bytes)).find((b) => b !== null) ?? null;
  const { model, training } = input.spec;
  return createDefaultKernels({
    ...(isBackendRequest(recorded) ? { backend: recorded } : {}),
    hidden: model.hiddenSize,
    batch: training.batchSize,
    ...(training.bptt.mode === 'truncated' ? { window: training.bptt.k2 } : {}),
    cores: input.cores,
    onFallback: (reason) => console.warn(`training thread: using the JS kernels: ${reason}`),
  });
}

const input = workerData as TrainingThreadInput;
let kernels: Kernels | null = null;
try {
  kernels = await kernelsFor(input);
  train(input, kernels);
} catch (err) {
  post({ type: 'error', error: toThreadError(err) });
} finally {
  await kernels?.close?.();
}
