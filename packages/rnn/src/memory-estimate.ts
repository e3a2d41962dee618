// How much memory a training run will take, from its spec and the dataset's statistics alone
// (no data parsed, nothing allocated): the API refuses a job that cannot fit before queueing
// it, and the training thread checks again before it allocates.
//
// It mirrors what Trainer and the WASM backend allocate in the kernels' linear memory (each
// block rounded to the arena's 64 bytes): parameters, gradients, optimizer moments, the BPTT
// workspace (hidden states and their gradients for the window × batch, logits, softmax
// probabilities and their gradients, inputs and targets), the carried hidden state, and the
// backend's scratch blocks (packing buffers, transposed operands, per-row statistics). Beside it,
// what lives on the JS heap: the parsed dataset, the window's ids / targets, and the copies a
// checkpoint makes. It is an estimate: the arena's high-water mark is checked against it by tests
// (estimate ≥ actual ≤ 2× actual), the JS side is not measured.

import { type Dataset, datasetStats } from './data/dataset.ts';
import { PACK_BUFFER_BYTES, SCRATCH_INITIAL } from './kernels/wasm/backend.ts';
import { ARENA_ALIGN, ARENA_START } from './kernels/wasm/arena.ts';
import { MAX_PAGES } from './kernels/wasm/wat/module.ts';
import { paramLayout } from './layout.ts';
import { lossKindOf } from './loss.ts';
import { optimizerBufferNames } from './optim.ts';
import type { TrainSpec } from './spec.ts';
import { maxWindowLength } from './window.ts';

/** The WASM kernels' memory maximum: MAX_PAGES 64 KiB pages (the module declares it; 1 GiB). */
export const WASM_MAX_BYTES = MAX_PAGES * 65536;

/** What the estimate needs to know about the dataset (the API's stored statistics give it). */
export interface MemoryDataShape {
  kind: 'token-stream' | 'vector-stream' | 'sequences';
  /** Tokens (token stream), rows (vector stream) or steps over all sequences. */
  length: number;
  /** Sequences in the set (sequences only; 1 for streams). */
  sequences: number;
  /** Longest sequence (sequences only; default: length). */
  maxLength?: number;
  /** Fraction held out for validation (default 0): the training part is what the trainer batches. */
  validationSplit?: number;
}

/** Bytes per part. The first group lives in the WASM linear memory, the last two on the JS heap. */
export interface MemoryBreakdown {
  params: number;
  gradients: number;
  optimizer: number;
  /** Hidden states and their gradients: (K + 1)·B·H and K·B·H, plus B·H carried states. */
  activations: number;
  /** Logits, probabilities and their gradients, row losses, inputs and targets: O(K·B·O). */
  outputs: number;
  /** The backend's reused blocks (GEMM packing, transposes, per-row statistics) and the arena's reserved start. */
  scratch: number;
  /** The parsed dataset (JS heap). */
  dataset: number;
  /** Window ids / targets, epoch order, checkpoint and weight copies (JS heap). */
  host: number;
}

export interface TrainingMemoryEstimate {
  /** WASM linear memory the engine allocates at its peak (must fit WASM_MAX_BYTES). */
  wasmBytes: number;
  /** JS-heap bytes beside it. */
  hostBytes: number;
  /** wasmBytes + hostBytes. */
  totalBytes: number;
  breakdown: MemoryBreakdown;
  /** The window K and streams B the workspace is sized for. */
  window: { steps: number; batch: number };
  /** Spec field most responsible for the size (the one to lower). */
  dominantParam: string;
}

export interface EstimateOptions {
  /** Threads of the kernels (each has a packing buffer). Default 2, the most `threads: 'auto'` takes. */
  threads?: number;
}

type EstimateSpec = Pick<TrainSpec, 'task' | 'model' | 'bptt' | 'batchSize' | 'optimizer'>;

const block = (bytes: number) => Math.max(ARENA_ALIGN, Math.ceil(bytes / ARENA_ALIGN) * ARENA_ALIGN);
const floats = (n: number) => block(4 * n);

/** The training part after splitForValidation, as the trainer's WindowSource sees it. */
function trainingPart(data: MemoryDataShape): { length: number; sequences: number; maxLength: number } {
  const f = data.validationSplit ?? 0;
  const maxLength = data.maxLength ?? data.length;
  switch (data.kind) {
    case 'token-stream': {
      const held = Math.floor(data.length * f);
      return { length: held < 2 ? data.length : data.length - held, sequences: 1, maxLength };
    }
    case 'vector-stream': {
      const held = Math.floor(data.length * f);
      return { length: held < 1 ? data.length : data.length - held, sequences: 1, maxLength };
    }
    case 'sequences': {
      const held = Math.floor(data.sequences * f);
      return { length: data.length, sequences: held < 1 ? data.sequences : data.sequences - held, maxLength };
    }
  }
}

/** Window steps K and streams B the trainer's workspace is sized for. */
function windowOf(spec: EstimateSpec, data: MemoryDataShape): { K: number; B: number } {
  const part = trainingPart(data);
  const B = spec.batchSize;
  if (data.kind === 'sequences') {
    return { K: Math.max(1, maxWindowLength(spec.bptt, part.maxLength)), B: Math.max(1, Math.min(B, part.sequences)) };
  }
  // token streams predict tokens[1..N−1] from tokens[0..N−2]: N − 1 positions split in B rows
  const positions = data.kind === 'token-stream' ? part.length - 1 : part.length;
  const L = Math.max(1, Math.floor(positions / B));
  return { K: Math.max(1, maxWindowLength(spec.bptt, L)), B };
}

/** Bytes the engine will allocate to train `spec` on a dataset of this shape. Pure: nothing is allocated. */
export function estimateTrainingMemory(spec: EstimateSpec, data: MemoryDataShape, options: EstimateOptions = {}): TrainingMemoryEstimate {
  const { inputSize: I, hiddenSize: H, outputSize: O, inputKind } = spec.model;
  const P = paramLayout(I, H, O).total;
  const crossEntropy = lossKindOf(spec.task) === 'cross-entropy';
  const { K, B } = windowOf(spec, data);
  const KB = K * B;
  const threads = Math.max(1, options.threads ?? 2);

  const params = floats(P);
  const gradients = floats(P);
  const optimizer = optimizerBufferNames(spec.optimizer).length * floats(P);
  // hs, dhs, dhNext, dh0, carried, dbias (evaluation reuses the same workspace)
  const activations = floats((K + 1) * B * H) + floats(KB * H) + 3 * floats(B * H) + floats(H);
  // logits, probs (cross-entropy only), dlogits, row losses, vector inputs, regression targets
  const outputs =
    floats(KB * O) + floats(crossEntropy ? KB * O : 0) + floats(KB * O) + floats(KB) +
    floats(inputKind === 'vectors' ? KB * I : 0) + floats(crossEntropy ? 0 : KB * O);

  // Scratch blocks grow to max(need, 2 × their size): at most twice the largest need, and the
  // block they replace may stay behind as a hole. Counted: the initial blocks, then each
  // block's final size bounded by twice its need, plus the need once for the replaced block.
  const grown = (initial: number, need: number) => (need <= initial ? floats(initial) : floats(initial) + floats(need) + floats(2 * need));
  const transposeNeed = Math.max(O * H, I * H, H * H);
  const scratch =
    ARENA_START +
    threads * block(PACK_BUFFER_BYTES) +
    grown(SCRATCH_INITIAL.ids, KB) + // token ids and class targets copied in (one block, Int32)
    grown(SCRATCH_INITIAL.stats, 2 * KB) +
    grown(SCRATCH_INITIAL.transpose, transposeNeed) +
    grown(SCRATCH_INITIAL.prepack, H * H) +
    floats(SCRATCH_INITIAL.scalars);

  const dataset = datasetBytes(data, I, O);
  // window ids / targets / mask, ‖∂h‖ profile, epoch order; a checkpoint copies params and
  // moments (and encodes them), exported weights copy params again
  const sequences = data.kind === 'sequences' ? data.sequences : 0;
  const host = 3 * 4 * KB + 16 * K + 8 * sequences + 2 * 4 * P * (1 + optimizerBufferNames(spec.optimizer).length) + 2 * 4 * P;

  const breakdown: MemoryBreakdown = { params, gradients, optimizer, activations, outputs, scratch, dataset, host };
  const wasmBytes = params + gradients + optimizer + activations + outputs + scratch;
  const hostBytes = dataset + host;
  return {
    wasmBytes,
    hostBytes,
    totalBytes: wasmBytes + hostBytes,
    breakdown,
    window: { steps: K, batch: B },
    dominantParam: dominantParam(spec, breakdown, K, B),
  };
}

/** The parsed dataset's typed arrays (plus a rough per-entry cost for vocabularies and sequences). */
function datasetBytes(data: MemoryDataShape, I: number, O: number): number {
  switch (data.kind) {
    case 'token-stream':
      return 4 * data.length + 64 * I;
    case 'vector-stream':
      return 4 * data.length * (I + O);
    case 'sequences':
      // upper bound: vector inputs and per-step targets; ~200 bytes of objects per sequence
      return 4 * data.length * (I + O) + 200 * data.sequences;
  }
}

/** The field to lower: the model's size for the weights, the window or batch for the per-step buffers, the data for the dataset. */
function dominantParam(spec: EstimateSpec, b: MemoryBreakdown, K: number, B: number): string {
  const weights = b.params + b.gradients + b.optimizer;
  const perWindow = b.activations + b.outputs;
  const largest = Math.max(weights, perWindow, b.dataset);
  if (largest === b.dataset) return 'datasetId';
  if (largest === weights) return 'model.hiddenSize';
  if (spec.bptt.mode === 'full') return 'training.bptt';
  return B >= K ? 'training.batchSize' : 'training.bptt.k2';
}

/** An estimate against the limits a worker enforces (the shape of the protocol's MemoryEstimate). */
export interface MemoryVerdict {
  bytes: number;
  limit: number;
  totalBytes: number;
  budget: number;
  window: { steps: number; batch: number };
  breakdown: MemoryBreakdown;
  fits: boolean;
  dominantParam: string;
}

/**
 * The engine memory must fit the lower of WASM_MAX_BYTES and the budget; everything (engine and
 * JS heap) must fit the budget.
 */
export function judgeMemory(estimate: TrainingMemoryEstimate, budgetBytes: number): MemoryVerdict {
  const limit = Math.min(WASM_MAX_BYTES, budgetBytes);
  return {
    bytes: estimate.wasmBytes,
    limit,
    totalBytes: estimate.totalBytes,
    budget: budgetBytes,
    window: estimate.window,
    breakdown: estimate.breakdown,
    fits: estimate.wasmBytes <= limit && estimate.totalBytes <= budgetBytes,
    dominantParam: estimate.dominantParam,
  };
}

/** "1.23 GiB": for messages. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} B` : `${v.toFixed(2)} ${units[u]}`;
}

/** The shape of a parsed dataset (what the API's stored statistics say about it). */
export function memoryShapeOf(ds: Dataset, validationSplit = 0): MemoryDataShape {
  const s = datasetStats(ds);
  switch (s.kind) {
    case 'token-stream':
      return { kind: s.kind, length: s.tokens, sequences: 1, validationSplit };
    case 'vector-stream':
      return { kind: s.kind, length: s.rows, sequences: 1, validationSplit };
    case 'sequences':
      return { kind: s.kind, length: s.steps, sequences: s.sequences, maxLength: s.maxLength, validationSplit };
  }
}
