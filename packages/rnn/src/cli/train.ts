// `unroll-rnn train`: train from a text corpus, JSON sequence file or CSV series; write
// safetensors weights and a checkpoint; optionally start from weights or resume a checkpoint.

import { mkdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parseCsvSeries } from '../data/csv.ts';
import { type Dataset, splitForValidation } from '../data/dataset.ts';
import { parseJsonSequences } from '../data/json.ts';
import { parseTextCorpus } from '../data/text.ts';
import { checkpointBackend } from '../checkpoint.ts';
import type { EpochMetrics, StepMetrics } from '../diagnostics.ts';
import { type BackendRequest, createDefaultKernels, isBackendRequest } from '../kernels/select.ts';
import { RnnModel } from '../model.ts';
import type { InitSpec, OptimizerSpec, ScheduleSpec, Task, TrainSpec } from '../spec.ts';
import type { FloatArray } from '../layout.ts';
import { Trainer } from '../trainer.ts';
import { choice, type Flags, num, required, str, UsageError, writeFileAtomic } from './args.ts';

export const TRAIN_OPTIONS = {
  data: { type: 'string' },
  format: { type: 'string' },
  'target-columns': { type: 'string' },
  horizon: { type: 'string' },
  normalize: { type: 'boolean' },
  hidden: { type: 'string' },
  activation: { type: 'string' },
  init: { type: 'string' },
  'init-gain': { type: 'string' },
  'init-std': { type: 'string' },
  optimizer: { type: 'string' },
  lr: { type: 'string' },
  momentum: { type: 'string' },
  dampening: { type: 'string' },
  nesterov: { type: 'boolean' },
  beta1: { type: 'string' },
  beta2: { type: 'string' },
  eps: { type: 'string' },
  'weight-decay': { type: 'string' },
  amsgrad: { type: 'boolean' },
  alpha: { type: 'string' },
  centered: { type: 'boolean' },
  'lr-decay': { type: 'string' },
  schedule: { type: 'string' },
  'step-size': { type: 'string' },
  gamma: { type: 'string' },
  't-max': { type: 'string' },
  'eta-min': { type: 'string' },
  'clip-norm': { type: 'string' },
  'clip-value': { type: 'string' },
  bptt: { type: 'string' },
  k1: { type: 'string' },
  k2: { type: 'string' },
  batch: { type: 'string' },
  epochs: { type: 'string' },
  seed: { type: 'string' },
  reduction: { type: 'string' },
  'val-split': { type: 'string' },
  'log-every': { type: 'string' },
  out: { type: 'string' },
  'init-weights': { type: 'string' },
  resume: { type: 'string' },
  json: { type: 'boolean' },
  backend: { type: 'string' },
  threads: { type: 'string' },
} as const;

export const TRAIN_USAGE = `usage: unroll-rnn train --data FILE [options]
  data:      --data FILE  --format text|json|csv (default: by extension)
             csv: --target-columns a,b  --horizon N  --normalize
  model:     --hidden H (100)  --activation tanh|relu (tanh)
             --init pytorch|xavier|orthogonal|identity|normal (pytorch)  --init-gain G  --init-std S
  optimizer: --optimizer sgd|adam|adamw|adagrad|rmsprop (adam)  --lr LR  --momentum M  --dampening D
             --nesterov  --beta1 B1  --beta2 B2  --eps E  --weight-decay WD  --amsgrad
             --alpha A  --centered  --lr-decay D
  schedule:  --schedule constant|step|cosine (constant)  --step-size N  --gamma G  --t-max N  --eta-min LR
  clipping:  --clip-norm N | --clip-value V (default: none)
  BPTT:      --k1 K1 --k2 K2 (25, 25) | --bptt full
  run:       --batch B (16)  --epochs N (10)  --seed S (0)  --reduction mean|sum (mean)
             --backend wasm|js (wasm: WASM SIMD kernels; --resume: the checkpoint's own backend)
             --threads T|auto (auto: 2 when a window's recurrence is big enough to split, else 1; wasm only)
             --val-split F (0)  --log-every STEPS (0: per epoch only)  --json (JSON lines)
  output:    --out DIR (.) → DIR/model.safetensors, DIR/trainer.ckpt (written every epoch)
  start:     --init-weights FILE.safetensors | --resume FILE.ckpt (same --data and --val-split;
             --epochs N then extends the run, every other spec flag comes from the checkpoint)`;

export function loadDataset(flags: Flags): Dataset {
  const path = required(flags, 'data');
  const byExt: Record<string, 'text' | 'json' | 'csv'> = { '.txt': 'text', '.json': 'json', '.csv': 'csv' };
  const format = choice(flags, 'format', ['text', 'json', 'csv'] as const) ?? byExt[extname(path).toLowerCase()] ?? 'text';
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError(`cannot read --data ${path}: ${(e as Error).message}`);
  }
  if (format === 'text') return parseTextCorpus(text);
  if (format === 'json') return parseJsonSequences(text);
  const options: Parameters<typeof parseCsvSeries>[1] = {};
  const cols = str(flags, 'target-columns');
  if (cols !== undefined) options.targetColumns = cols.split(',').map((c) => c.trim());
  const horizon = num(flags, 'horizon', { integer: true, min: 1 });
  if (horizon !== undefined) options.horizon = horizon;
  if (flags.normalize === true) options.normalize = true;
  return parseCsvSeries(text, options);
}

function taskOf(ds: Dataset): Task {
  return ds.kind === 'token-stream' ? 'lm' : ds.kind === 'vector-stream' ? 'regression' : ds.task;
}

function initSpec(flags: Flags): InitSpec {
  const scheme = choice(flags, 'init', ['pytorch', 'xavier', 'orthogonal', 'identity', 'normal'] as const) ?? 'pytorch';
  const gain = num(flags, 'init-gain', { min: 0, exclusiveMin: true });
  const std = num(flags, 'init-std', { min: 0, exclusiveMin: true });
  switch (scheme) {
    case 'pytorch':
      return { scheme };
    case 'normal':
      return std === undefined ? { scheme } : { scheme, std };
    default:
      return gain === undefined ? { scheme } : { scheme, gain };
  }
}

function optimizerSpec(flags: Flags): OptimizerSpec {
  const name = choice(flags, 'optimizer', ['sgd', 'adam', 'adamw', 'adagrad', 'rmsprop'] as const) ?? 'adam';
  const defaults = { sgd: 0.1, adam: 1e-3, adamw: 1e-3, adagrad: 1e-2, rmsprop: 1e-2 };
  const lr = num(flags, 'lr', { min: 0 }) ?? defaults[name];
  const put = (o: Record<string, unknown>, key: string, flag: string, opts = {}) => {
    const v = num(flags, flag, opts);
    if (v !== undefined) o[key] = v;
  };
  const o: Record<string, unknown> = { name, lr };
  put(o, 'weightDecay', 'weight-decay', { min: 0 });
  put(o, 'eps', 'eps', { min: 0 });
  if (name === 'sgd' || name === 'rmsprop') put(o, 'momentum', 'momentum', { min: 0 });
  if (name === 'sgd') {
    put(o, 'dampening', 'dampening');
    if (flags.nesterov === true) o.nesterov = true;
  }
  if (name === 'adam' || name === 'adamw') {
    put(o, 'beta1', 'beta1', { min: 0, max: 1 });
    put(o, 'beta2', 'beta2', { min: 0, max: 1 });
    if (flags.amsgrad === true) o.amsgrad = true;
  }
  if (name === 'rmsprop') {
    put(o, 'alpha', 'alpha', { min: 0 });
    if (flags.centered === true) o.centered = true;
  }
  if (name === 'adagrad') put(o, 'lrDecay', 'lr-decay', { min: 0 });
  if (name !== 'sgd' && name !== 'rmsprop' && flags.momentum !== undefined) throw new UsageError(`--momentum does not apply to ${name}`);
  if (name !== 'sgd' && flags.nesterov === true) throw new UsageError('--nesterov needs --optimizer sgd');
  return o as OptimizerSpec;
}

function scheduleSpec(flags: Flags): ScheduleSpec {
  const kind = choice(flags, 'schedule', ['constant', 'step', 'cosine'] as const) ?? 'constant';
  if (kind === 'constant') return { kind };
  if (kind === 'step') {
    const stepSize = num(flags, 'step-size', { integer: true, min: 1 });
    if (stepSize === undefined) throw new UsageError('--schedule step needs --step-size');
    return { kind, stepSize, gamma: num(flags, 'gamma', { min: 0 }) ?? 0.1 };
  }
  const tMax = num(flags, 't-max', { integer: true, min: 1 });
  if (tMax === undefined) throw new UsageError('--schedule cosine needs --t-max');
  const etaMin = num(flags, 'eta-min', { min: 0 });
  return etaMin === undefined ? { kind, tMax } : { kind, tMax, etaMin };
}

/** The TrainSpec the flags describe for dataset `ds`. */
export function trainSpecFromFlags(flags: Flags, ds: Dataset): TrainSpec {
  const task = taskOf(ds);
  const sizes =
    ds.kind === 'token-stream'
      ? { inputKind: 'tokens' as const, inputSize: ds.vocab.length, outputSize: ds.vocab.length }
      : { inputKind: ds.kind === 'vector-stream' ? ('vectors' as const) : ds.inputKind, inputSize: ds.inputSize, outputSize: ds.outputSize };
  if (flags['clip-norm'] !== undefined && flags['clip-value'] !== undefined) throw new UsageError('give --clip-norm or --clip-value, not both');
  const clipNorm = num(flags, 'clip-norm', { min: 0, exclusiveMin: true });
  const clipValue = num(flags, 'clip-value', { min: 0, exclusiveMin: true });
  const bpttMode = choice(flags, 'bptt', ['full', 'truncated'] as const) ?? 'truncated';
  if (bpttMode === 'full' && (flags.k1 !== undefined || flags.k2 !== undefined)) throw new UsageError('--bptt full takes no --k1/--k2');
  const k1 = num(flags, 'k1', { integer: true, min: 1 });
  const k2 = num(flags, 'k2', { integer: true, min: 1 });
  const K1 = k1 ?? k2 ?? 25;
  const K2 = k2 ?? Math.max(K1, 25);
  if (K1 > K2) throw new UsageError(`--k1 (${K1}) must be <= --k2 (${K2})`);
  return {
    task,
    model: { ...sizes, hiddenSize: num(flags, 'hidden', { integer: true, min: 1 }) ?? 100, activation: choice(flags, 'activation', ['tanh', 'relu'] as const) ?? 'tanh' },
    init: initSpec(flags),
    optimizer: optimizerSpec(flags),
    schedule: scheduleSpec(flags),
    clip: clipNorm !== undefined ? { mode: 'norm', maxNorm: clipNorm } : clipValue !== undefined ? { mode: 'value', value: clipValue } : { mode: 'none' },
    bptt: bpttMode === 'full' ? { mode: 'full' } : { mode: 'truncated', k1: K1, k2: K2 },
    reduction: choice(flags, 'reduction', ['mean', 'sum'] as const) ?? 'mean',
    batchSize: num(flags, 'batch', { integer: true, min: 1 }) ?? 16,
    epochs: num(flags, 'epochs', { integer: true, min: 0 }) ?? 10,
    seed: num(flags, 'seed', { integer: true }) ?? 0,
  };
}

const f = (v: number | undefined, digits = 4) => (v === undefined ? '-' : v.toFixed(digits));

function epochLine(m: EpochMetrics, epochs: number): string {
  const parts = [`epoch ${m.epoch + 1}/${epochs}`, `loss ${f(m.loss)}`];
  if (m.bitsPerChar !== undefined) parts.push(`bpc ${f(m.bitsPerChar, 3)}`);
  if (m.validation) parts.push(`val_loss ${f(m.validation.loss)}`, ...(m.validation.bitsPerChar !== undefined ? [`val_bpc ${f(m.validation.bitsPerChar, 3)}`] : []));
  parts.push(
    `grad_norm ${f(m.gradNorm.mean, 3)}`,
    `clip_rate ${f(m.clipRate, 2)}`,
    `sigma_whh ${f(m.whhSpectralNorm, 3)}`,
    `${m.saturation.measure} ${f(m.saturation.fraction, 3)}`,
    `lr ${m.learningRate.toPrecision(3)}`,
    `tok/s ${Math.round(m.tokensPerSec)}`,
  );
  return parts.join('  ');
}

function stepLine(m: StepMetrics): string {
  return `  step ${m.globalStep} (epoch ${m.epoch + 1}, step ${m.step + 1})  loss ${f(m.loss)}  grad_norm ${f(m.gradNorm, 3)}${m.clipped ? ' (clipped)' : ''}`;
}

/**
 * --backend, or for --resume the backend the checkpoint was written with (bitwise-exact
 * continuation), else the default (WASM SIMD).
 */
function backendRequest(flags: Flags, checkpoint: Uint8Array | null): BackendRequest | undefined {
  const chosen = choice(flags, 'backend', ['wasm', 'js'] as const);
  if (chosen !== undefined) return chosen;
  const recorded = checkpoint !== null ? checkpointBackend(checkpoint) : null;
  return isBackendRequest(recorded) ? recorded : undefined;
}

export async function runTrain(flags: Flags, log: (line: string) => void): Promise<void> {
  const full = loadDataset(flags);
  const valSplit = num(flags, 'val-split', { min: 0, max: 0.99 }) ?? 0;
  const { train, validation } = valSplit > 0 ? splitForValidation(full, valSplit) : { train: full, validation: null };
  const outDir = str(flags, 'out') ?? '.';
  const weightsPath = join(outDir, 'model.safetensors');
  const ckptPath = join(outDir, 'trainer.ckpt');
  mkdirSync(outDir, { recursive: true });
  const logEvery = num(flags, 'log-every', { integer: true, min: 0 }) ?? 0;
  const asJson = flags.json === true;
  const threads = flags.threads === 'auto' ? 'auto' : num(flags, 'threads', { integer: true, min: 1 });

  const resume = str(flags, 'resume');
  if (resume !== undefined && flags['init-weights'] !== undefined) throw new UsageError('give --resume or --init-weights, not both');
  let checkpoint: Uint8Array | null = null;
  if (resume !== undefined) {
    try {
      checkpoint = readFileSync(resume);
    } catch (e) {
      throw new UsageError(`cannot read --resume ${resume}: ${(e as Error).message}`);
    }
  }
  let spec: TrainSpec | null = null;
  let initialParams: FloatArray | undefined;
  if (checkpoint === null) {
    spec = trainSpecFromFlags(flags, train);
    const initWeights = str(flags, 'init-weights');
    if (initWeights !== undefined) {
      const vocab = train.kind === 'token-stream' ? train.vocab : undefined;
      const model = RnnModel.fromSafetensors(readFileSync(initWeights), { task: spec.task, inputKind: spec.model.inputKind, activation: spec.model.activation, ...(vocab ? { vocab } : {}) });
      if (model.spec.hiddenSize !== spec.model.hiddenSize) spec.model.hiddenSize = model.spec.hiddenSize; // the file decides H
      initialParams = model.params;
    }
  }
  const kernels = await createDefaultKernels({
    backend: backendRequest(flags, checkpoint),
    ...(spec !== null
      ? { hidden: spec.model.hiddenSize, batch: spec.batchSize, ...(spec.bptt.mode === 'truncated' ? { window: spec.bptt.k2 } : {}) }
      : {}),
    ...(threads !== undefined ? { threads } : {}),
    onFallback: (reason) => log(asJson ? JSON.stringify({ event: 'warning', message: `using the JS kernels: ${reason}` }) : `warning: using the JS kernels: ${reason}`),
  });
  let trainer: Trainer | null = null;
  try {
    if (checkpoint !== null) {
      const epochs = num(flags, 'epochs', { integer: true, min: 0 });
      trainer = Trainer.restore(checkpoint, train, { validation, kernels, ...(epochs !== undefined ? { epochs } : {}) });
      log(asJson ? JSON.stringify({ event: 'resumed', epoch: trainer.epoch, step: trainer.stepInEpoch, backend: trainer.backend }) : `resumed ${resume} at epoch ${trainer.epoch + 1}, step ${trainer.stepInEpoch} (${trainer.backend} kernels)`);
    } else {
      const fresh = spec as TrainSpec;
      trainer = Trainer.create(fresh, train, { validation, kernels, ...(initialParams ? { initialParams } : {}) });
      log(asJson ? JSON.stringify({ event: 'spec', spec: fresh, backend: trainer.backend }) : `training ${fresh.task} (${trainer.backend} kernels): ${JSON.stringify(fresh)}`);
    }
    const epochs = trainer.spec.epochs;
    while (!trainer.done) {
      const m = trainer.runEpoch({
        onStep: (s) => {
          if (logEvery > 0 && s.globalStep % logEvery === 0) log(asJson ? JSON.stringify({ event: 'step', ...s }) : stepLine(s));
        },
      });
      log(asJson ? JSON.stringify({ event: 'epoch', ...m }) : epochLine(m, epochs));
      writeFileAtomic(ckptPath, trainer.serialize());
      writeFileAtomic(weightsPath, trainer.model.toSafetensors());
    }
    writeFileAtomic(ckptPath, trainer.serialize());
    writeFileAtomic(weightsPath, trainer.model.toSafetensors());
    log(asJson ? JSON.stringify({ event: 'done', weights: weightsPath, checkpoint: ckptPath }) : `wrote ${weightsPath} and ${ckptPath}`);
  } finally {
    trainer?.dispose();
    await kernels.close?.();
  }
}
