// Cuts a Dataset into batches of B rows and fills a window's inputs and targets into the
// workspace. Streams are index arithmetic over the ONE data array (stream b covers positions
// [b·L, (b+1)·L)) — nothing is copied but the K·B entries of the current window. Sequence sets
// are batched in a given order, padded to the batch's longest sequence with masked steps.

import type { Dataset, Sequence, SequenceSet } from './data/dataset.ts';
import { SpecError } from './errors.ts';
import type { Prng } from './prng.ts';
import type { Task } from './spec.ts';
import type { BpttWorkspace, WindowSpan } from './window.ts';

export interface BatchShape {
  /** Rows (streams or sequences) in this batch. */
  B: number;
  /** Steps: stream length L, or the batch's longest sequence. */
  T: number;
}

export class WindowSource {
  /** Stream length L per row (streams only). */
  readonly streamLength: number;
  /** Sequence lengths (sequence sets only). */
  readonly lengths: Int32Array;

  constructor(
    readonly dataset: Dataset,
    /** Requested rows per batch. */
    readonly batchSize: number,
  ) {
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new SpecError('batchSize', `must be an integer >= 1, got ${batchSize}`);
    this.lengths = new Int32Array(0);
    this.streamLength = 0;
    switch (dataset.kind) {
      case 'token-stream':
        // inputs are tokens[0 .. N−2], targets tokens[1 .. N−1]
        this.streamLength = Math.floor((dataset.tokens.length - 1) / batchSize);
        break;
      case 'vector-stream':
        this.streamLength = Math.floor(dataset.inputs.length / dataset.inputSize / batchSize);
        break;
      case 'sequences': {
        const ds = dataset;
        this.lengths = Int32Array.from(ds.sequences, (s) =>
          ds.inputKind === 'tokens' ? s.inputs.length : s.inputs.length / ds.inputSize,
        );
        if (ds.sequences.length === 0) throw new SpecError('dataset', 'the sequence set is empty');
        break;
      }
    }
    if (dataset.kind !== 'sequences' && this.streamLength < 1) {
      throw new SpecError('batchSize', `the stream is too short for ${batchSize} parallel streams of at least one step`);
    }
  }

  get isStream(): boolean {
    return this.dataset.kind !== 'sequences';
  }

  /** Sequences in the set (0 for streams). */
  get sequenceCount(): number {
    return this.dataset.kind === 'sequences' ? this.dataset.sequences.length : 0;
  }

  batchCount(): number {
    return this.isStream ? 1 : Math.ceil(this.sequenceCount / this.batchSize);
  }

  /** Sequence indices of batch `index` (order = the epoch's permutation). */
  members(order: Int32Array, index: number): Int32Array {
    return order.subarray(index * this.batchSize, Math.min((index + 1) * this.batchSize, order.length));
  }

  batchShape(order: Int32Array | null, index: number): BatchShape {
    if (this.isStream) return { B: this.batchSize, T: this.streamLength };
    const m = this.members(order as Int32Array, index);
    let T = 0;
    for (const i of m) T = Math.max(T, this.lengths[i]);
    return { B: m.length, T };
  }

  /** Longest T of any batch. */
  maxLength(): number {
    if (this.isStream) return this.streamLength;
    let T = 0;
    for (const l of this.lengths) T = Math.max(T, l);
    return T;
  }

  /** Sequences in dataset order (evaluation). */
  identityOrder(): Int32Array {
    return Int32Array.from({ length: this.sequenceCount }, (_, i) => i);
  }

  /** A fresh epoch permutation of the sequences (Fisher–Yates with the trainer's PRNG). */
  shuffledOrder(rng: Prng): Int32Array {
    const order = this.identityOrder();
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(rng.nextFloat() * (i + 1));
      const tmp = order[i];
      order[i] = order[j];
      order[j] = tmp;
    }
    return order;
  }

  /** Writes inputs (all K steps) and targets (steps ≥ lossFrom) of a window into ws. */
  fill(ws: BpttWorkspace, order: Int32Array | null, batchIndex: number, span: WindowSpan): void {
    const ds = this.dataset;
    const K = span.end - span.start;
    if (ds.kind === 'sequences') {
      this.fillSequences(ws, ds, this.members(order as Int32Array, batchIndex), span);
      return;
    }
    const B = this.batchSize;
    const L = this.streamLength;
    if (ds.kind === 'token-stream') {
      const { tokens } = ds;
      for (let t = 0; t < K; t++) {
        for (let b = 0; b < B; b++) {
          const at = b * L + span.start + t;
          ws.ids[t * B + b] = tokens[at];
          if (t >= span.lossFrom) ws.targetIds[t * B + b] = tokens[at + 1];
        }
      }
      return;
    }
    const { inputs, targets, inputSize: I, outputSize: O } = ds;
    for (let t = 0; t < K; t++) {
      for (let b = 0; b < B; b++) {
        const at = b * L + span.start + t;
        const row = t * B + b;
        for (let i = 0; i < I; i++) ws.x[row * I + i] = inputs[at * I + i];
        if (t < span.lossFrom) continue;
        for (let o = 0; o < O; o++) ws.targetValues[row * O + o] = targets[at * O + o];
        ws.mask[row] = 1;
      }
    }
  }

  private fillSequences(ws: BpttWorkspace, ds: SequenceSet, members: Int32Array, span: WindowSpan): void {
    const K = span.end - span.start;
    const B = members.length;
    const { inputSize: I, outputSize: O } = ds;
    const manyToOne = ds.targetMode === 'many-to-one';
    for (let b = 0; b < B; b++) {
      const seq: Sequence = ds.sequences[members[b]];
      const len = this.lengths[members[b]];
      for (let t = 0; t < K; t++) {
        const pos = span.start + t;
        const row = t * B + b;
        const real = pos < len;
        if (ds.inputKind === 'tokens') ws.ids[row] = real ? seq.inputs[pos] : -1;
        else for (let i = 0; i < I; i++) ws.x[row * I + i] = real ? seq.inputs[pos * I + i] : 0;
        if (t < span.lossFrom) continue;
        // which target (if any) this step is scored against
        const counts = manyToOne ? pos === len - 1 : real && (seq.mask === undefined || seq.mask[pos] !== 0);
        const targetRow = manyToOne ? 0 : pos;
        if (ds.task === 'classification') {
          ws.targetIds[row] = counts ? seq.targets[targetRow] : -1;
        } else {
          ws.mask[row] = counts ? 1 : 0;
          for (let o = 0; o < O; o++) ws.targetValues[row * O + o] = counts ? seq.targets[targetRow * O + o] : 0;
        }
      }
    }
  }
}

/** The task a dataset can train, checked against the spec. */
export function checkTaskMatchesDataset(task: Task, ds: Dataset): void {
  const expected: Task = ds.kind === 'token-stream' ? 'lm' : ds.kind === 'vector-stream' ? 'regression' : ds.task;
  if (task !== expected) {
    throw new SpecError('task', `a ${ds.kind} dataset${ds.kind === 'sequences' ? ` for ${ds.task}` : ''} trains task '${expected}', not '${task}'`);
  }
}

/** ModelSpec sizes a dataset implies: (inputKind, I, O). */
export function datasetSizes(ds: Dataset): { inputKind: 'tokens' | 'vectors'; inputSize: number; outputSize: number } {
  switch (ds.kind) {
    case 'token-stream':
      return { inputKind: 'tokens', inputSize: ds.vocab.length, outputSize: ds.vocab.length };
    case 'vector-stream':
      return { inputKind: 'vectors', inputSize: ds.inputSize, outputSize: ds.outputSize };
    case 'sequences':
      return { inputKind: ds.inputKind, inputSize: ds.inputSize, outputSize: ds.outputSize };
  }
}
