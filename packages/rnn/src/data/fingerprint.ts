// What a checkpoint remembers of the data it was trained on, so a resume on other data fails
// loudly instead of silently continuing. The shape (kind, sizes) reads well in an error message;
// the SHA-256 of the content (every token, value, target and mask, the vocabulary, column names
// and normalisation statistics) catches the same shape with other data or other preprocessing
// (`normalize`, target columns, horizon).
import { createHash, type Hash } from 'node:crypto';
import type { Dataset } from './dataset.ts';

/** Serialize runs every epoch: hash each dataset once. */
const cache = new WeakMap<Dataset, string>();

export function datasetShapeFingerprint(ds: Dataset): string {
  switch (ds.kind) {
    case 'token-stream':
      return `token-stream:${ds.tokens.length}:${ds.vocab.length}`;
    case 'vector-stream':
      return `vector-stream:${ds.inputs.length}:${ds.inputSize}:${ds.outputSize}`;
    case 'sequences':
      return `sequences:${ds.sequences.length}:${ds.inputKind}:${ds.inputSize}:${ds.outputSize}:${ds.targetMode}`;
  }
}

/** `<shape>#<sha256 of the content, 16 hex>`. */
export function datasetFingerprint(ds: Dataset): string {
  const cached = cache.get(ds);
  if (cached !== undefined) return cached;
  const hash = createHash('sha256');
  const bytes = (a: ArrayBufferView) => hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  const text = (s: unknown) => hash.update(JSON.stringify(s) + '\n');
  switch (ds.kind) {
    case 'token-stream':
      text(ds.vocab);
      bytes(ds.tokens);
      break;
    case 'vector-stream':
      text([ds.columns, ds.targetColumns, ds.normalization ?? null]);
      bytes(ds.inputs);
      bytes(ds.targets);
      break;
    case 'sequences':
      text([ds.task, ds.vocab ?? null]);
      for (const s of ds.sequences) sequenceBytes(hash, s.inputs, s.targets, s.mask);
      break;
  }
  const fingerprint = `${datasetShapeFingerprint(ds)}#${hash.digest('hex').slice(0, 16)}`;
  cache.set(ds, fingerprint);
  return fingerprint;
}

function sequenceBytes(hash: Hash, ...arrays: (ArrayBufferView | undefined)[]): void {
  for (const a of arrays) {
    // Lengths too, so [1,2][3] and [1][2,3] differ.
    hash.update(`${a?.byteLength ?? -1};`);
    if (a) hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength));
  }
}

/**
 * Whether a checkpoint's recorded fingerprint matches this dataset. Checkpoints written before
 * content hashing (no `#`) can only be checked by shape.
 */
export function fingerprintMatches(recorded: string, ds: Dataset): boolean {
  return recorded.includes('#') ? recorded === datasetFingerprint(ds) : recorded === datasetShapeFingerprint(ds);
}
