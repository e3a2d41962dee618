// The training loop: one optimizer step per BPTT window, diagnostics, full-state checkpoints.
//
// A step: fill the window from the data → forward/backward (grads zeroed first) → non-finite
// checks (loss, then gradients; throw before touching anything) → clipping → learning rate from
// the per-epoch schedule → optimizer step → advance the data position and carry the (detached)
// hidden state into the next window. Same seed + spec ⇒ bitwise identical weights, and a run
// restored from any checkpoint continues bitwise identically.

import { datasetFingerprint, fingerprintMatches } from './data/fingerprint.ts';
import { checkTaskMatchesDataset, datasetSizes, WindowSource } from './batches.ts';
import { decodeCheckpoint, encodeCheckpoint, type TrainerState } from './checkpoint.ts';
import { clipGradValue, clipToNorm, findNonFinite, globalNorm, paramNorms, sumSquaresByParam } from './clip.ts';
import type { Dataset } from './data/dataset.ts';
import {
  emptyAccumulators,
  type EpochAccumulators,
  type EpochMetrics,
  type EvalMetrics,
  largestSingularValue,
  lmMetrics,
  powerIterationStart,
  saturationMeasure,
  type StepMetrics,
} from './diagnostics.ts';
import { CheckpointError, NonFiniteError, SpecError } from './errors.ts';
import { initParams } from './init.ts';
import { jsKernels } from './kernels/js.ts';
import type { Kernels } from './kernels/kernels.ts';
import { arrayCtor, type Dtype, type FloatArray, type ParamLayout, paramLayout, viewsOf } from './layout.ts';
import { lossKindOf } from './loss.ts';
import { RnnModel } from './model.ts';
import { createOptimizer, type Optimizer, OptimizerSpecError } from './optim.ts';
import { Prng } from './prng.ts';
import { learningRateAt } from './schedule.ts';
import type { TrainSpec } from './spec.ts';
import {
  BpttWorkspace,
  maxWindowLength,
  type ParamViews,
  validateBptt,
  windowAfter,
  windowCount,
  windowForwardBackward,
} from './window.ts';

export interface TrainerOptions {
  /** Evaluated at the end of every epoch (EpochMetrics.validation). */
  validation?: Dataset | null;
  /**
   * Compute backend (default: the JS reference kernels; services use createDefaultKernels, the
   * WASM SIMD backend). The trainer allocates every buffer through it; the caller owns it
   * (Trainer.dispose gives the buffers back, kernels.close() stops it).
   */
  kernels?: Kernels;
  /** 'float32' (default) for training, 'float64' for gradient checks. */
  dtype?: Dtype;
  /** Start from these weights (flat layout) instead of initialising; e.g. RnnModel.params of an import. */
  initialParams?: FloatArray;
}

export interface RestoreOptions {
  validation?: Dataset | null;
  kernels?: Kernels;
  /** Train to this many epochs instead of the checkpoint's spec.epochs (e.g. to continue a finished run). */
  epochs?: number;
}

export interface RunEpochHooks {
  onStep?(m: StepMetrics): void;
  /** Checked before every step; true stops the epoch early (metrics marked complete: false). */
  shouldStop?(): boolean;
}

/** Throws SpecError when `spec` cannot train on `train`. */
export function validateTrainSpec(spec: TrainSpec, train: Dataset): void {
  const posInt = (v: number, field: string, min = 1) => {
    if (!Number.isSafeInteger(v) || v < min) throw new SpecError(field, `must be an integer >= ${min}, got ${v}`);
  };
  if (!['lm', 'regression', 'classification'].includes(spec.task)) throw new SpecError('task', `unknown task '${spec.task}'`);
  checkTaskMatchesDataset(spec.task, train);
  const sizes = datasetSizes(train);
  const m = spec.model;
  if (m.inputKind !== sizes.inputKind) throw new SpecError('model.inputKind', `dataset has ${sizes.inputKind} inputs, spec says ${m.inputKind}`);
  if (m.inputSize !== sizes.inputSize) throw new SpecError('model.inputSize', `dataset needs ${sizes.inputSize}, spec says ${m.inputSize}`);
  if (m.outputSize !== sizes.outputSize) throw new SpecError('model.outputSize', `dataset needs ${sizes.outputSize}, spec says ${m.outputSize}`);
  posInt(m.hiddenSize, 'model.hiddenSize');
  if (m.activation !== 'tanh' && m.activation !== 'relu') throw new SpecError('model.activation', `must be 'tanh' or 'relu', got '${m.activation}'`);
  posInt(spec.batchSize, 'batchSize');
  posInt(spec.epochs, 'epochs', 0);
  if (!Number.isSafeInteger(spec.seed)) throw new SpecError('seed', `must be a safe integer, got ${spec.seed}`);
  if (spec.reduction !== 'mean' && spec.reduction !== 'sum') throw new SpecError('reduction', `must be 'mean' or 'sum', got '${spec.reduction}'`);
  if (spec.bptt.mode !== 'full' && spec.bptt.mode !== 'truncated') throw new SpecError('bptt.mode', `must be 'full' or 'truncated'`);
  try {
    validateBptt(spec.bptt);
  } catch (e) {
    throw new SpecError('bptt', (e as Error).message);
  }
  const clip = spec.clip;
  if (clip.mode === 'norm' && !(clip.maxNorm > 0)) throw new SpecError('clip.maxNorm', `must be > 0, got ${clip.maxNorm}`);
  if (clip.mode === 'value' && !(clip.value > 0)) throw new SpecError('clip.value', `must be > 0, got ${clip.value}`);
  if (!['none', 'norm', 'value'].includes(clip.mode)) throw new SpecError('clip.mode', `unknown clip mode '${clip.mode}'`);
  try {
    learningRateAt(spec.schedule, 1, 0);
  } catch (e) {
    throw new SpecError('schedule', (e as Error).message);
  }
}

export class Trainer {
  readonly layout: ParamLayout;
  readonly params: FloatArray;
  private readonly grads: FloatArray;
  private readonly paramViews: ParamViews;
  private readonly gradViews: ParamViews;
  private readonly optimizer: Optimizer;
  private readonly baseLr: number;
  private readonly source: WindowSource;
  private readonly ws: BpttWorkspace;
  private readonly maxK: number;
  /** Hidden state (B, H) at the start of the next window, carried as a constant. */
  private readonly carried: FloatArray;
  private readonly powerVector: Float64Array;
  private rng: Prng;
  private order: Int32Array | null = null;
  private epochIndex = 0;
  private stepIndex = 0;
  private stepsTotal = 0;
  private batchIndex = 0;
  /** Steps of the current batch already processed. */
  private batchDone = 0;
  private acc: EpochAccumulators;
  private lastEpoch: EpochMetrics | null = null;
  private modelCache: RnnModel | null = null;
  /** Σ g² per parameter tensor of the current step (layout order). */
  private readonly gradSumSq: Float64Array;
  private disposed = false;

  private constructor(
    readonly spec: TrainSpec,
    private readonly train: Dataset,
    readonly dtype: Dtype,
    readonly kernels: Kernels,
    private readonly validation: Dataset | null,
  ) {
    validateTrainSpec(spec, train);
    const { inputSize: I, hiddenSize: H, outputSize: O } = spec.model;
    this.layout = paramLayout(I, H, O);
    this.params = kernels.alloc(this.layout.total, dtype);
    this.grads = kernels.alloc(this.layout.total, dtype);
    this.paramViews = viewsOf(this.params, this.layout);
    this.gradViews = viewsOf(this.grads, this.layout);
    try {
      // moments through the backend too: everything the step touches lives in its memory
      this.optimizer = createOptimizer(spec.optimizer, this.layout.total, arrayCtor(dtype), kernels);
    } catch (e) {
      if (e instanceof OptimizerSpecError) throw new SpecError(`optimizer.${e.field}`, e.message);
      throw e;
    }
    this.baseLr = this.optimizer.spec.lr;
    this.source = new WindowSource(train, spec.batchSize);
    const maxB = Math.min(spec.batchSize, this.source.isStream ? spec.batchSize : this.source.sequenceCount);
    this.maxK = maxWindowLength(spec.bptt, this.source.maxLength());
    this.ws = new BpttWorkspace(kernels, dtype, spec.model, lossKindOf(spec.task), this.maxK, maxB);
    this.carried = kernels.alloc(maxB * H, dtype);
    this.powerVector = powerIterationStart(H);
    this.rng = new Prng(spec.seed);
    this.acc = emptyAccumulators(this.layout, this.maxK);
    this.gradSumSq = new Float64Array(this.layout.views.length);
  }

  /** Kernels id of this trainer's backend (recorded in checkpoints). */
  get backend(): string {
    return this.kernels.id ?? this.kernels.name;
  }

  /**
   * Gives every buffer back to the backend (kernels.free). The trainer, and models or views it
   * handed out (`model`, `params`), must not be used afterwards. Does not close the kernels.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const free = this.kernels.free?.bind(this.kernels);
    if (free === undefined) return;
    for (const buf of [this.params, this.grads, this.carried]) free(buf);
    for (const b of this.optimizer.state()) free(b.data);
    this.ws.dispose();
  }

  private checkLive(): void {
    if (this.disposed) throw new Error('trainer was disposed');
  }

  static create(spec: TrainSpec, train: Dataset, options: TrainerOptions = {}): Trainer {
    const t = new Trainer(spec, train, options.dtype ?? 'float32', options.kernels ?? jsKernels, options.validation ?? null);
    if (options.initialParams !== undefined) {
      if (options.initialParams.length !== t.layout.total) {
        throw new SpecError('initialParams', `has ${options.initialParams.length} values, the model needs ${t.layout.total}`);
      }
      t.params.set(options.initialParams);
    } else {
      try {
        initParams(t.params, t.layout, spec.init, t.rng);
      } catch (e) {
        throw new SpecError('init', (e as Error).message);
      }
    }
    t.startEpochOrder();
    return t;
  }

  /** Continues exactly where `serialize()` left off. `train` must be the same dataset. */
  static restore(bytes: Uint8Array, train: Dataset, options: RestoreOptions = {}): Trainer {
    const s = decodeCheckpoint(bytes);
    if (options.epochs !== undefined) s.spec = { ...s.spec, epochs: options.epochs };
    if (!fingerprintMatches(s.datasetFingerprint, train)) {
      throw new CheckpointError(
        'checkpoint_dataset_mismatch',
        `checkpoint was made on other data or other preprocessing: dataset ${s.datasetFingerprint}, got ${datasetFingerprint(train)}`,
      );
    }
    const t = new Trainer(s.spec, train, s.dtype, options.kernels ?? jsKernels, options.validation ?? null);
    const expect = (what: string, got: number, want: number) => {
      if (got !== want) throw new CheckpointError('checkpoint_corrupt', `checkpoint ${what} has ${got} values, expected ${want}`);
    };
    expect('params', s.params.length, t.layout.total);
    t.params.set(s.params);
    t.optimizer.loadState(s.optimizer);
    t.rng = Prng.fromState(s.prngState);
    expect('carried hidden state', s.carried.length, t.carried.length);
    t.carried.set(s.carried);
    expect('power-iteration vector', s.powerVector.length, t.powerVector.length);
    t.powerVector.set(s.powerVector);
    t.order = s.order;
    t.epochIndex = s.epoch;
    t.stepIndex = s.stepInEpoch;
    t.stepsTotal = s.globalStep;
    t.batchIndex = s.batchIndex;
    t.batchDone = s.batchDone;
    t.acc = s.accumulators;
    t.lastEpoch = s.lastEpochMetrics;
    return t;
  }

  /** The whole trainer state as a checksummed binary checkpoint. */
  serialize(): Uint8Array {
    this.checkLive();
    const state: TrainerState = {
      spec: this.spec,
      dtype: this.dtype,
      backend: this.backend,
      datasetFingerprint: datasetFingerprint(this.train),
      epoch: this.epochIndex,
      stepInEpoch: this.stepIndex,
      globalStep: this.stepsTotal,
      batchIndex: this.batchIndex,
      batchDone: this.batchDone,
      accumulators: this.acc,
      lastEpochMetrics: this.lastEpoch,
      params: this.params,
      optimizer: this.optimizer.saveState(),
      prngState: this.rng.getState(),
      carried: this.carried,
      powerVector: this.powerVector,
      order: this.order,
    };
    return encodeCheckpoint(state);
  }

  /** 0-based current epoch. */
  get epoch(): number {
    return this.epochIndex;
  }

  /** Steps taken in the current epoch. */
  get stepInEpoch(): number {
    return this.stepIndex;
  }

  /** Optimizer steps taken in total. */
  get globalStep(): number {
    return this.stepsTotal;
  }

  /** True once spec.epochs epochs have completed (training may still continue). */
  get done(): boolean {
    return this.epochIndex >= this.spec.epochs;
  }

  /** Optimizer steps in one epoch of the current ordering. */
  get stepsPerEpoch(): number {
    let n = 0;
    for (let b = 0; b < this.source.batchCount(); b++) n += windowCount(this.spec.bptt, this.source.batchShape(this.order, b).T);
    return n;
  }

  /** Scalars the BPTT workspace holds: depends on k2, B, H, O — never on the data's length (truncated BPTT). */
  get workspaceScalars(): number {
    const ws = this.ws;
    return [ws.hs, ws.dhs, ws.logits, ws.probs, ws.dlogits, ws.rowLosses, ws.x, ws.targetValues].reduce((n, a) => n + a.length, 0) +
      ws.ids.length + ws.targetIds.length + ws.mask.length;
  }

  /** Metrics of the last completed epoch. */
  get lastEpochMetrics(): EpochMetrics | null {
    return this.lastEpoch;
  }

  /** Learning rate of the current epoch. */
  get learningRate(): number {
    return learningRateAt(this.spec.schedule, this.baseLr, this.epochIndex);
  }

  /** An RnnModel sharing this trainer's parameter buffer (it sees every update). */
  get model(): RnnModel {
    if (this.modelCache === null) {
      const ds = this.train;
      const vocab = ds.kind === 'token-stream' ? ds.vocab : ds.kind === 'sequences' ? ds.vocab : undefined;
      const metadata: Record<string, string> = {};
      if (ds.kind === 'vector-stream') {
        metadata.columns = JSON.stringify(ds.columns);
        metadata.targetColumns = JSON.stringify(ds.targetColumns);
        if (ds.normalization) metadata.normalization = JSON.stringify(ds.normalization);
      }
      if (ds.kind === 'sequences') metadata.targetMode = ds.targetMode;
      this.modelCache = new RnnModel({
        spec: this.spec.model,
        task: this.spec.task,
        params: this.params,
        vocab,
        metadata,
        hyperparameters: this.spec,
        // inference runs on the JS kernels: it reads the shared params wherever they live and
        // allocates nothing in the training backend's memory
      });
    }
    return this.modelCache;
  }

  private startEpochOrder(): void {
    this.order = this.source.isStream ? null : this.source.shuffledOrder(this.rng);
  }

  /**
   * One optimizer step over the next window. Returns null (taking no step) when the epoch's
   * data is exhausted: the epoch's metrics are finalised (lastEpochMetrics) and the next epoch
   * begins.
   */
  step(): StepMetrics | null {
    this.checkLive();
    if (this.batchIndex >= this.source.batchCount()) {
      this.finishEpoch();
      return null;
    }
    const started = performance.now();
    const { spec, ws, layout } = this;
    const H = spec.model.hiddenSize;
    const { B, T } = this.source.batchShape(this.order, this.batchIndex);
    const span = windowAfter(spec.bptt, T, this.batchDone);
    const K = span.end - span.start;
    this.source.fill(ws, this.order, this.batchIndex, span);
    ws.h0(B).set(this.carried.subarray(0, B * H));
    this.grads.fill(0);
    const r = windowForwardBackward(ws, this.paramViews, this.gradViews, { K, B, lossFrom: span.lossFrom }, {
      reduction: spec.reduction,
      profile: true,
    });
    if (!Number.isFinite(r.loss)) {
      throw new NonFiniteError('non_finite_loss', this.epochIndex, this.stepIndex, null, null, r.loss);
    }
    // one pass over the gradients: per-parameter Σ g² (diagnostics), the global norm, and the
    // non-finite check (the sum is non-finite exactly when an element is)
    const sumSq = sumSquaresByParam(this.grads, layout, this.gradSumSq, this.kernels);
    if (!Number.isFinite(sumSq)) {
      const bad = findNonFinite(this.grads, layout);
      if (bad !== null) {
        const v = layout.byName[bad.param];
        throw new NonFiniteError(
          'non_finite_gradient', this.epochIndex, this.stepIndex, v.torchName, bad.index, this.grads[v.offset + bad.index],
        );
      }
    }

    // diagnostics before clipping
    const acc = this.acc;
    for (let i = 0; i < this.gradSumSq.length; i++) acc.paramGradNormSums[i] += Math.sqrt(this.gradSumSq[i]);
    const gradNorm = Math.sqrt(sumSq);
    let clipped = false;
    if (spec.clip.mode === 'norm') clipped = clipToNorm(this.grads, spec.clip.maxNorm, gradNorm, this.kernels);
    else if (spec.clip.mode === 'value') clipped = clipGradValue(this.grads, spec.clip.value).clippedCount > 0;
    const clippedGradNorm = clipped ? globalNorm(this.grads, this.kernels) : gradNorm;
    const lr = this.learningRate;
    this.optimizer.step(this.params, this.grads, lr);

    // hidden-state diagnostics over the steps that carried loss (each step counted once)
    const BH = B * H;
    const newest = ws.hs.subarray((span.lossFrom + 1) * BH, (K + 1) * BH);
    acc.saturatedUnits += this.kernels.countSaturated(newest, newest.length, spec.model.activation);
    acc.hiddenUnits += newest.length;
    for (let t = 0; t < K; t++) {
      acc.hiddenGradSums[t] += ws.profile[t];
      acc.hiddenGradCounts[t] += 1;
    }

    // advance the data position; carry the hidden state the next window starts from
    if (span.end < T) {
      const next = windowAfter(spec.bptt, T, span.end);
      this.carried.set(ws.hiddenAt(next.start - span.start, B));
      this.batchDone = span.end;
    } else {
      this.carried.fill(0);
      this.batchIndex++;
      this.batchDone = 0;
    }

    const tokens = (K - span.lossFrom) * B;
    const metrics: StepMetrics = {
      epoch: this.epochIndex,
      step: this.stepIndex,
      globalStep: this.stepsTotal + 1,
      loss: r.loss,
      lossSum: r.lossSum,
      lossCount: r.lossCount,
      gradNorm,
      clippedGradNorm,
      clipped,
      learningRate: lr,
      tokens,
    };
    acc.steps++;
    acc.lossSum += r.lossSum;
    acc.lossCount += r.lossCount;
    acc.stepLossSum += r.loss;
    acc.gradNormSum += gradNorm;
    acc.gradNormMax = Math.max(acc.gradNormMax, gradNorm);
    acc.clippedGradNormSum += clippedGradNorm;
    if (clipped) acc.clippedSteps++;
    acc.positions += tokens;
    this.stepIndex++;
    this.stepsTotal++;
    acc.elapsedMs += performance.now() - started;
    return metrics;
  }

  /** Steps until the epoch ends (or shouldStop says so) and returns its metrics. */
  runEpoch(hooks: RunEpochHooks = {}): EpochMetrics {
    for (;;) {
      if (hooks.shouldStop?.()) return this.epochMetrics(false, this.powerVector.slice());
      const m = this.step();
      if (m === null) return this.lastEpoch as EpochMetrics;
      hooks.onStep?.(m);
    }
  }

  private finishEpoch(): void {
    this.lastEpoch = this.epochMetrics(true, this.powerVector);
    this.epochIndex++;
    this.stepIndex = 0;
    this.batchIndex = 0;
    this.batchDone = 0;
    this.carried.fill(0);
    this.acc = emptyAccumulators(this.layout, this.maxK);
    this.startEpochOrder();
  }

  private epochMetrics(complete: boolean, powerVector: Float64Array): EpochMetrics {
    const acc = this.acc;
    const { layout, spec } = this;
    const loss = acc.lossCount > 0 ? acc.lossSum / acc.lossCount : 0;
    const steps = Math.max(acc.steps, 1);
    const weights = paramNorms(this.params, layout);
    const paramGradNorms: Record<string, number> = {};
    const paramNormsOut: Record<string, number> = {};
    layout.views.forEach((v, i) => {
      paramGradNorms[v.torchName] = acc.paramGradNormSums[i] / steps;
      paramNormsOut[v.torchName] = weights[v.name];
    });
    const profile: number[] = [];
    for (let t = 0; t < acc.hiddenGradSums.length && acc.hiddenGradCounts[t] > 0; t++) {
      profile.push(acc.hiddenGradSums[t] / acc.hiddenGradCounts[t]);
    }
    const m: EpochMetrics = {
      epoch: this.epochIndex,
      complete,
      steps: acc.steps,
      loss,
      meanStepLoss: acc.stepLossSum / steps,
      gradNorm: { mean: acc.gradNormSum / steps, max: acc.gradNormMax },
      clippedGradNorm: { mean: acc.clippedGradNormSum / steps },
      clipRate: acc.clippedSteps / steps,
      paramGradNorms,
      paramNorms: paramNormsOut,
      hiddenGradProfile: profile,
      whhSpectralNorm: largestSingularValue(this.paramViews.Whh, spec.model.hiddenSize, powerVector),
      saturation: {
        measure: saturationMeasure(spec.model.activation),
        fraction: acc.hiddenUnits > 0 ? acc.saturatedUnits / acc.hiddenUnits : 0,
      },
      tokens: acc.positions,
      tokensPerSec: acc.elapsedMs > 0 ? (acc.positions * 1000) / acc.elapsedMs : 0,
      durationMs: acc.elapsedMs,
      learningRate: this.learningRate,
      validation: complete && this.validation !== null ? this.evaluate(this.validation) : null,
    };
    if (spec.task === 'lm') Object.assign(m, lmMetrics(loss));
    return m;
  }

  /** Forward-only loss over a dataset (sequences in order, streams split into ≤ batchSize rows). */
  evaluate(ds: Dataset): EvalMetrics {
    this.checkLive();
    checkTaskMatchesDataset(this.spec.task, ds);
    const sizes = datasetSizes(ds);
    const m = this.spec.model;
    if (sizes.inputSize !== m.inputSize || sizes.outputSize !== m.outputSize || sizes.inputKind !== m.inputKind) {
      throw new SpecError('dataset', `evaluation data (${sizes.inputKind}, I=${sizes.inputSize}, O=${sizes.outputSize}) does not fit the model`);
    }
    const rows =
      ds.kind === 'token-stream' ? ds.tokens.length - 1 : ds.kind === 'vector-stream' ? ds.inputs.length / ds.inputSize : ds.sequences.length;
    if (rows < 1) throw new SpecError('dataset', 'evaluation data has nothing to predict');
    // Evaluation runs in the training workspace (forward only, so any window length gives the
    // same loss): it never needs more memory than training. Sequences are batched by at most the
    // workspace's rows (their losses are independent); streams keep batchSize rows (≤ maxB).
    const ws = this.ws;
    const src = new WindowSource(ds, Math.min(this.spec.batchSize, ws.maxB, rows));
    const order = src.isStream ? null : src.identityOrder();
    const chunk = Math.min(ws.maxK, src.maxLength());
    const H = m.hiddenSize;
    let lossSum = 0;
    let lossCount = 0;
    for (let b = 0; b < src.batchCount(); b++) {
      const { B, T } = src.batchShape(order, b);
      ws.h0(B).fill(0);
      for (let start = 0; start < T; start += chunk) {
        const span = { start, end: Math.min(start + chunk, T), lossFrom: 0 };
        const K = span.end - span.start;
        src.fill(ws, order, b, span);
        const r = windowForwardBackward(ws, this.paramViews, null, { K, B, lossFrom: 0 }, { reduction: 'sum' });
        lossSum += r.lossSum;
        lossCount += r.lossCount;
        // the next chunk starts from this one's last hidden state (hs[K] → hs[0]; K ≥ 1, no overlap)
        ws.hs.copyWithin(0, K * B * H, (K + 1) * B * H);
      }
    }
    const loss = lossCount > 0 ? lossSum / lossCount : 0;
    const out: EvalMetrics = { loss, lossSum, lossCount };
    if (this.spec.task === 'lm') Object.assign(out, lmMetrics(loss));
    return out;
  }
}
