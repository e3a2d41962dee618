// JSON sequence datasets (regression / classification over independent sequences).
//
// Format:
//   {
//     "task": "regression" | "classification",
//     "targetMode"?: "many-to-many" | "many-to-one",    default "many-to-many"
//     "inputKind"?: "vectors" | "tokens",                default "vectors"
//     "vocabSize"?: integer >= 1                         tokens only; default max id + 1
//     "vocab"?: [string, ...]                            tokens only; optional names, one per id
//     "numClasses"?: integer >= 1                        classification only; default max label + 1
//     "sequences": [
//       {
//         "inputs":  [[f, ...], ...]    vectors: T rows of I numbers (same I in every sequence)
//                  | [id, ...]          tokens: T integer ids
//         "targets": regression,     many-to-many: [[f, ...], ...]  T rows of O numbers
//                    regression,     many-to-one:  [[f, ...]]       one row of O numbers
//                    classification, many-to-many: [c, ...]         T class ids
//                    classification, many-to-one:  c  (or [c])      one class id
//         "mask"?:   [0 | 1, ...]       many-to-many only; T flags, 1 = this step's target counts
//       }, ...
//     ]
//   }
// T ≥ 1 may differ between sequences; O is the same everywhere. Unknown fields are rejected.
// Errors: DatasetError with `field` such as "sequences[3].inputs[2][1]"; syntax errors carry
// code 'invalid_json' with line and column.

import { DatasetError, type Sequence, type SequenceSet, type TargetMode } from './dataset.ts';
import { locateJsonSyntaxError } from './json-locate.ts';

export const MAX_SEQUENCES = 100_000;
export const MAX_SEQUENCE_LENGTH = 100_000;
/** Bound on all numbers in a file together (inputs + targets), about 200 MB as float32. */
export const MAX_TOTAL_VALUES = 50_000_000;

const TOP_LEVEL_FIELDS = ['task', 'targetMode', 'inputKind', 'vocabSize', 'vocab', 'numClasses', 'sequences'];
const SEQUENCE_FIELDS = ['inputs', 'targets', 'mask'];

function fail(code: string, field: string, message: string): never {
  throw new DatasetError(code, message, { field });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

function arrayAt(v: unknown, field: string, what: string): unknown[] {
  if (!Array.isArray(v)) fail('invalid_type', field, `must be ${what}, got ${typeName(v)}`);
  return v;
}

function finiteNumber(v: unknown, field: string): number {
  if (typeof v !== 'number') fail('invalid_type', field, `must be a number, got ${typeName(v)}`);
  if (!Number.isFinite(v)) fail('not_finite', field, `must be finite, got ${v}`);
  return v;
}

function nonNegativeInteger(v: unknown, field: string, code: string): number {
  if (typeof v !== 'number') fail('invalid_type', field, `must be an integer, got ${typeName(v)}`);
  if (!Number.isInteger(v) || v < 0) fail(code, field, `must be a non-negative integer, got ${v}`);
  return v;
}

function oneOf<T extends string>(v: unknown, field: string, allowed: readonly T[], fallback: T): T {
  if (v === undefined) return fallback;
  if (typeof v !== 'string' || !allowed.includes(v as T)) {
    fail('invalid_value', field, `must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}

function rejectUnknownFields(obj: Record<string, unknown>, allowed: string[], prefix: string): void {
  for (const key of Object.keys(obj)) {
    if (!allowed.includes(key)) fail('unknown_field', prefix ? `${prefix}.${key}` : key, `unknown field (allowed: ${allowed.join(', ')})`);
  }
}

/** (rows, width) numbers from [[f, ...], ...]; every row must have `width` numbers when given. */
function matrix(v: unknown, field: string, width: number | undefined, widthName: string): { data: Float32Array; rows: number; width: number } {
  const rows = arrayAt(v, field, 'an array of rows (arrays of numbers)');
  if (rows.length === 0) fail('invalid_shape', field, 'must have at least one row');
  if (rows.length > MAX_SEQUENCE_LENGTH) fail('sequence_too_long', field, `has ${rows.length} rows; at most ${MAX_SEQUENCE_LENGTH} are allowed`);
  let w = width;
  let data: Float32Array | null = null;
  rows.forEach((row, t) => {
    const rowField = `${field}[${t}]`;
    const r = arrayAt(row, rowField, 'an array of numbers');
    if (w === undefined) {
      if (r.length === 0) fail('invalid_shape', rowField, `must have at least one number (${widthName})`);
      w = r.length;
    }
    if (r.length !== w) fail('invalid_shape', rowField, `has ${r.length} numbers, expected ${w} (${widthName})`);
    data ??= new Float32Array(rows.length * w);
    for (let i = 0; i < w; i++) data[t * w + i] = finiteNumber(r[i], `${rowField}[${i}]`);
  });
  return { data: data!, rows: rows.length, width: w! };
}

/** Parses and validates a JSON sequence dataset (format above). */
export function parseJsonSequences(text: string): SequenceSet {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim().length === 0) throw new DatasetError('empty', 'JSON dataset is empty');
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (err) {
    let problem = null;
    try {
      problem = locateJsonSyntaxError(text);
    } catch {
      // pathological nesting: fall back to JSON.parse's message
    }
    const where = problem ? { line: problem.line, column: problem.column } : {};
    throw new DatasetError('invalid_json', `invalid JSON: ${problem ? problem.message : (err as Error).message}`, where);
  }
  if (!isObject(root)) throw new DatasetError('invalid_type', `top level must be a JSON object, got ${typeName(root)}`);
  rejectUnknownFields(root, TOP_LEVEL_FIELDS, '');

  if (root.task === undefined) fail('missing_field', 'task', 'is required ("regression" or "classification")');
  const task = oneOf(root.task, 'task', ['regression', 'classification'] as const, 'regression');
  const targetMode: TargetMode = oneOf(root.targetMode, 'targetMode', ['many-to-many', 'many-to-one'] as const, 'many-to-many');
  const inputKind = oneOf(root.inputKind, 'inputKind', ['vectors', 'tokens'] as const, 'vectors');

  if (inputKind !== 'tokens') {
    if (root.vocabSize !== undefined) fail('invalid_field', 'vocabSize', 'is only allowed with inputKind "tokens"');
    if (root.vocab !== undefined) fail('invalid_field', 'vocab', 'is only allowed with inputKind "tokens"');
  }
  if (task !== 'classification' && root.numClasses !== undefined) fail('invalid_field', 'numClasses', 'is only allowed with task "classification"');
  let vocabSize = root.vocabSize === undefined ? undefined : nonNegativeInteger(root.vocabSize, 'vocabSize', 'invalid_value');
  if (vocabSize === 0) fail('invalid_value', 'vocabSize', 'must be at least 1');
  let vocab: string[] | undefined;
  if (root.vocab !== undefined) {
    vocab = arrayAt(root.vocab, 'vocab', 'an array of strings').map((s, i) => {
      if (typeof s !== 'string') fail('invalid_type', `vocab[${i}]`, `must be a string, got ${typeName(s)}`);
      return s;
    });
    if (vocab.length === 0) fail('invalid_value', 'vocab', 'must not be empty');
    if (vocabSize !== undefined && vocabSize !== vocab.length) fail('invalid_value', 'vocab', `has ${vocab.length} entries but vocabSize is ${vocabSize}`);
    vocabSize = vocab.length;
  }
  let numClasses = root.numClasses === undefined ? undefined : nonNegativeInteger(root.numClasses, 'numClasses', 'invalid_value');
  if (numClasses === 0) fail('invalid_value', 'numClasses', 'must be at least 1');

  if (root.sequences === undefined) fail('missing_field', 'sequences', 'is required');
  const raw = arrayAt(root.sequences, 'sequences', 'an array of sequences');
  if (raw.length === 0) fail('empty', 'sequences', 'must contain at least one sequence');
  if (raw.length > MAX_SEQUENCES) fail('too_many_sequences', 'sequences', `has ${raw.length} sequences; at most ${MAX_SEQUENCES} are allowed`);

  let inputWidth: number | undefined; // I for vectors
  let outputWidth: number | undefined; // O for regression
  let maxToken = -1;
  let maxLabel = -1;
  let totalValues = 0;
  let countedTargets = 0;
  const sequences: Sequence[] = [];

  raw.forEach((item, s) => {
    const at = `sequences[${s}]`;
    if (!isObject(item)) fail('invalid_type', at, `must be an object with inputs and targets, got ${typeName(item)}`);
    rejectUnknownFields(item, SEQUENCE_FIELDS, at);
    if (item.inputs === undefined) fail('missing_field', `${at}.inputs`, 'is required');
    if (item.targets === undefined) fail('missing_field', `${at}.targets`, 'is required');

    // inputs
    let inputs: Int32Array | Float32Array;
    let T: number;
    if (inputKind === 'tokens') {
      const ids = arrayAt(item.inputs, `${at}.inputs`, 'an array of token ids');
      if (ids.length === 0) fail('invalid_shape', `${at}.inputs`, 'must have at least one token');
      if (ids.length > MAX_SEQUENCE_LENGTH) fail('sequence_too_long', `${at}.inputs`, `has ${ids.length} tokens; at most ${MAX_SEQUENCE_LENGTH} are allowed`);
      inputs = new Int32Array(ids.length);
      ids.forEach((id, t) => {
        const f = `${at}.inputs[${t}]`;
        const v = nonNegativeInteger(id, f, 'token_out_of_range');
        if (vocabSize !== undefined && v >= vocabSize) fail('token_out_of_range', f, `token id ${v} is not below vocabSize ${vocabSize}`);
        if (v > 0x7fffffff) fail('token_out_of_range', f, `token id ${v} is too large`);
        maxToken = Math.max(maxToken, v);
        inputs[t] = v;
      });
      T = ids.length;
    } else {
      const m = matrix(item.inputs, `${at}.inputs`, inputWidth, 'the input width of the first sequence');
      inputWidth = m.width;
      inputs = m.data;
      T = m.rows;
    }
    totalValues += inputs.length;

    // targets
    let targets: Float32Array | Int32Array;
    const tf = `${at}.targets`;
    if (task === 'regression') {
      const m = matrix(item.targets, tf, outputWidth, 'the target width of the first sequence');
      outputWidth = m.width;
      const expectedRows = targetMode === 'many-to-many' ? T : 1;
      if (m.rows !== expectedRows) {
        fail('invalid_shape', tf, targetMode === 'many-to-many' ? `has ${m.rows} rows, expected one per input step (${T})` : `has ${m.rows} rows, expected exactly 1 (many-to-one)`);
      }
      targets = m.data;
    } else {
      let labels: unknown[];
      if (targetMode === 'many-to-one') {
        labels = Array.isArray(item.targets) ? item.targets : [item.targets];
        if (labels.length !== 1) fail('invalid_shape', tf, `has ${labels.length} labels, expected exactly 1 (many-to-one)`);
      } else {
        labels = arrayAt(item.targets, tf, 'an array of class ids');
        if (labels.length !== T) fail('invalid_shape', tf, `has ${labels.length} labels, expected one per input step (${T})`);
      }
      targets = new Int32Array(labels.length);
      labels.forEach((c, t) => {
        const f = Array.isArray(item.targets) ? `${tf}[${t}]` : tf;
        const v = nonNegativeInteger(c, f, 'label_out_of_range');
        if (numClasses !== undefined && v >= numClasses) fail('label_out_of_range', f, `class id ${v} is not below numClasses ${numClasses}`);
        if (v > 0x7fffffff) fail('label_out_of_range', f, `class id ${v} is too large`);
        maxLabel = Math.max(maxLabel, v);
        (targets as Int32Array)[t] = v;
      });
    }
    totalValues += targets.length;
    if (totalValues > MAX_TOTAL_VALUES) fail('too_large', at, `the dataset holds more than ${MAX_TOTAL_VALUES} numbers`);

    // mask
    const seq: Sequence = { inputs, targets };
    if (item.mask !== undefined) {
      const mf = `${at}.mask`;
      if (targetMode !== 'many-to-many') fail('invalid_field', mf, 'is only allowed with targetMode "many-to-many"');
      const flags = arrayAt(item.mask, mf, 'an array of 0/1 flags');
      if (flags.length !== T) fail('invalid_shape', mf, `has ${flags.length} flags, expected one per input step (${T})`);
      const mask = new Uint8Array(T);
      flags.forEach((b, t) => {
        if (b !== 0 && b !== 1) fail('invalid_mask', `${mf}[${t}]`, `must be 0 or 1, got ${JSON.stringify(b)}`);
        mask[t] = b;
        countedTargets += b;
      });
      seq.mask = mask;
    } else {
      countedTargets += targetMode === 'many-to-many' ? T : 1;
    }
    sequences.push(seq);
  });

  if (countedTargets === 0) fail('no_targets', 'sequences', 'every mask is all zeros: no step carries a target');
  const inputSize = inputKind === 'tokens' ? (vocabSize ?? maxToken + 1) : inputWidth!;
  const outputSize = task === 'classification' ? (numClasses ?? maxLabel + 1) : outputWidth!;
  const set: SequenceSet = { kind: 'sequences', task, targetMode, inputKind, inputSize, outputSize, sequences };
  if (vocab) set.vocab = vocab;
  return set;
}
