// In-memory datasets the engine trains on, and the error every parser throws.
//
// - TokenStream: one long token sequence (character language model, predict the next token).
// - VectorStream: a multivariate time series (CSV forecasting); row t's target is given.
// - SequenceSet: independent sequences (JSON), each with its own targets, for regression or
//   classification, many-to-many (a target per step) or many-to-one (a target at the end).
// All shapes are row-major flat typed arrays.

export type TargetMode = 'many-to-many' | 'many-to-one';

export interface TokenStream {
  kind: 'token-stream';
  tokens: Int32Array; // (N) ids into vocab
  vocab: string[]; // one code point each
}

export interface VectorStream {
  kind: 'vector-stream';
  inputs: Float32Array; // (N, I)
  targets: Float32Array; // (N, O): targets[t] is the value to predict at step t
  inputSize: number;
  outputSize: number;
  columns: string[]; // input columns, in order (I)
  targetColumns: string[]; // target columns, in order (O)
  /** Present when the values were standardised: per input column, (x - mean) / std. */
  normalization?: { mean: number[]; std: number[] };
}

export interface Sequence {
  inputs: Int32Array | Float32Array; // (T) token ids, or (T, I) vectors
  targets: Float32Array | Int32Array; // regression (T, O) or (1, O); class ids (T) or (1)
  mask?: Uint8Array; // (T), many-to-many only: 1 = this step's target counts
}

export interface SequenceSet {
  kind: 'sequences';
  task: 'regression' | 'classification';
  targetMode: TargetMode;
  inputKind: 'tokens' | 'vectors';
  inputSize: number; // I, or vocabulary size for tokens
  outputSize: number; // O, or number of classes
  sequences: Sequence[];
  vocab?: string[];
}

export type Dataset = TokenStream | VectorStream | SequenceSet;

export interface DatasetErrorLocation {
  line?: number; // 1-based
  column?: number; // 1-based
  field?: string; // e.g. sequences[3].inputs[2][1], or a CSV column name
}

/** Invalid dataset input. `code` is machine-readable; line/column/field locate the problem. */
export class DatasetError extends Error {
  readonly code: string;
  readonly line?: number;
  readonly column?: number;
  readonly field?: string;

  constructor(code: string, message: string, where: DatasetErrorLocation = {}) {
    const parts: string[] = [];
    if (where.line !== undefined) parts.push(`line ${where.line}`);
    if (where.column !== undefined) parts.push(`column ${where.column}`);
    if (where.field !== undefined) parts.push(where.field);
    super(parts.length > 0 ? `${parts.join(', ')}: ${message}` : message);
    this.name = 'DatasetError';
    this.code = code;
    if (where.line !== undefined) this.line = where.line;
    if (where.column !== undefined) this.column = where.column;
    if (where.field !== undefined) this.field = where.field;
  }
}

export type DatasetStats =
  | { kind: 'token-stream'; tokens: number; vocabSize: number }
  | { kind: 'vector-stream'; rows: number; inputSize: number; outputSize: number; columns: string[]; targetColumns: string[] }
  | {
      kind: 'sequences';
      task: 'regression' | 'classification';
      targetMode: TargetMode;
      inputKind: 'tokens' | 'vectors';
      sequences: number;
      inputSize: number;
      outputSize: number;
      /** Sum of sequence lengths. */
      steps: number;
      minLength: number;
      maxLength: number;
    };

function sequenceLength(s: Sequence, inputKind: 'tokens' | 'vectors', inputSize: number): number {
  return inputKind === 'tokens' ? s.inputs.length : s.inputs.length / inputSize;
}

/** Summary numbers for listings and job records. */
export function datasetStats(ds: Dataset): DatasetStats {
  switch (ds.kind) {
    case 'token-stream':
      return { kind: ds.kind, tokens: ds.tokens.length, vocabSize: ds.vocab.length };
    case 'vector-stream':
      return {
        kind: ds.kind,
        rows: ds.inputs.length / ds.inputSize,
        inputSize: ds.inputSize,
        outputSize: ds.outputSize,
        columns: [...ds.columns],
        targetColumns: [...ds.targetColumns],
      };
    case 'sequences': {
      let steps = 0;
      let minLength = Infinity;
      let maxLength = 0;
      for (const s of ds.sequences) {
        const T = sequenceLength(s, ds.inputKind, ds.inputSize);
        steps += T;
        minLength = Math.min(minLength, T);
        maxLength = Math.max(maxLength, T);
      }
      return {
        kind: ds.kind,
        task: ds.task,
        targetMode: ds.targetMode,
        inputKind: ds.inputKind,
        sequences: ds.sequences.length,
        inputSize: ds.inputSize,
        outputSize: ds.outputSize,
        steps,
        minLength: ds.sequences.length > 0 ? minLength : 0,
        maxLength,
      };
    }
  }
}

/**
 * Holds out the last `fraction` of the data for validation (0 ≤ fraction < 1).
 * Streams: the contiguous tail, as subarray views (no copies); a token stream's tail needs at
 * least 2 tokens (one prediction), a vector stream's at least 1 row — otherwise validation is
 * null. Sequence sets: the last floor(fraction · count) sequences. The training part must keep
 * at least as much, or DatasetError 'validation_split_too_large' is thrown.
 */
export function splitForValidation(ds: Dataset, fraction: number): { train: Dataset; validation: Dataset | null } {
  if (!Number.isFinite(fraction) || fraction < 0 || fraction >= 1) {
    throw new DatasetError('invalid_option', `validation fraction must be in [0, 1), got ${fraction}`, { field: 'validationFraction' });
  }
  const tooLarge = (what: string) =>
    new DatasetError('validation_split_too_large', `validation fraction ${fraction} leaves no ${what} to train on`, {
      field: 'validationFraction',
    });
  switch (ds.kind) {
    case 'token-stream': {
      const n = ds.tokens.length;
      const held = Math.floor(n * fraction);
      if (held < 2) return { train: ds, validation: null };
      if (n - held < 2) throw tooLarge('tokens');
      return {
        train: { ...ds, tokens: ds.tokens.subarray(0, n - held) },
        validation: { ...ds, tokens: ds.tokens.subarray(n - held) },
      };
    }
    case 'vector-stream': {
      const rows = ds.inputs.length / ds.inputSize;
      const held = Math.floor(rows * fraction);
      if (held < 1) return { train: ds, validation: null };
      if (rows - held < 1) throw tooLarge('rows');
      const cut = rows - held;
      return {
        train: { ...ds, inputs: ds.inputs.subarray(0, cut * ds.inputSize), targets: ds.targets.subarray(0, cut * ds.outputSize) },
        validation: { ...ds, inputs: ds.inputs.subarray(cut * ds.inputSize), targets: ds.targets.subarray(cut * ds.outputSize) },
      };
    }
    case 'sequences': {
      const n = ds.sequences.length;
      const held = Math.floor(n * fraction);
      if (held < 1) return { train: ds, validation: null };
      if (n - held < 1) throw tooLarge('sequences');
      return {
        train: { ...ds, sequences: ds.sequences.slice(0, n - held) },
        validation: { ...ds, sequences: ds.sequences.slice(n - held) },
      };
    }
  }
}
