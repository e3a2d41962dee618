// Versioned binary checkpoint of the WHOLE trainer state, verified by SHA-256 on load.
//
//   offset 0   magic "UNROLLCK" (8 bytes)
//          8   u32 LE format version (1)
//         12   u32 LE header length n
//         16   header: UTF-8 JSON (spec, counters, accumulators, blob table)
//              zero padding to a multiple of 8
//              blobs: raw little-endian typed-array bytes, each 8-byte aligned
//       end-32 SHA-256 of every byte before it
//
// Scalars go through JSON, which round-trips every finite double exactly; arrays go as raw bytes.

import { createHash } from 'node:crypto';
import type { EpochAccumulators, EpochMetrics } from './diagnostics.ts';
import { CheckpointError } from './errors.ts';
import type { Dtype, FloatArray } from './layout.ts';
import type { OptimizerState } from './optim.ts';
import type { TrainSpec } from './spec.ts';

export const CHECKPOINT_MAGIC = 'UNROLLCK';
export const CHECKPOINT_VERSION = 1;
const DIGEST_BYTES = 32;

export interface TrainerState {
  spec: TrainSpec;
  dtype: Dtype;
  /**
   * Kernels id of the trainer that wrote it ('js', 'wasm-simd', 'wasm-simd-fma'); null in
   * checkpoints written before backends were recorded. Resuming on the same id is bitwise exact.
   */
  backend: string | null;
  /** Identifies the training data (kind and sizes) so a restore on other data is refused. */
  datasetFingerprint: string;
  epoch: number;
  stepInEpoch: number;
  globalStep: number;
  /** Position in the data: batch of the epoch, and steps of that batch already processed. */
  batchIndex: number;
  batchDone: number;
  accumulators: EpochAccumulators;
  lastEpochMetrics: EpochMetrics | null;
  params: FloatArray;
  optimizer: OptimizerState;
  prngState: Uint32Array;
  /** Hidden state (B, H) the next window starts from. */
  carried: FloatArray;
  /** Warm start of the W_hh power iteration. */
  powerVector: Float64Array;
  /** The epoch's sequence permutation (sequence sets), null for streams. */
  order: Int32Array | null;
}

type BlobType = 'f32' | 'f64' | 'u32' | 'i32';
type Blob = Float32Array | Float64Array | Uint32Array | Int32Array;
interface BlobEntry {
  name: string;
  type: BlobType;
  offset: number;
  length: number;
}

function blobType(a: Blob): BlobType {
  if (a instanceof Float32Array) return 'f32';
  if (a instanceof Float64Array) return 'f64';
  if (a instanceof Uint32Array) return 'u32';
  return 'i32';
}

const CTORS = { f32: Float32Array, f64: Float64Array, u32: Uint32Array, i32: Int32Array } as const;

const align8 = (n: number) => (n + 7) & ~7;

export function encodeCheckpoint(s: TrainerState): Uint8Array {
  const blobs: [string, Blob][] = [
    ['params', s.params],
    ['prng', s.prngState],
    ['carried', s.carried],
    ['powerVector', s.powerVector],
  ];
  if (s.order !== null) blobs.push(['order', s.order]);
  s.optimizer.buffers.forEach((b) => blobs.push([`optimizer.${b.name}`, b.data]));
  const table: BlobEntry[] = [];
  let offset = 0;
  for (const [name, data] of blobs) {
    table.push({ name, type: blobType(data), offset, length: data.length });
    offset = align8(offset + data.byteLength);
  }
  const header = {
    spec: s.spec,
    dtype: s.dtype,
    backend: s.backend,
    datasetFingerprint: s.datasetFingerprint,
    epoch: s.epoch,
    stepInEpoch: s.stepInEpoch,
    globalStep: s.globalStep,
    batchIndex: s.batchIndex,
    batchDone: s.batchDone,
    accumulators: s.accumulators,
    lastEpochMetrics: s.lastEpochMetrics,
    optimizer: { stepCount: s.optimizer.stepCount, buffers: s.optimizer.buffers.map((b) => b.name) },
    blobs: table,
  };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const dataStart = align8(16 + json.length);
  const total = dataStart + offset + DIGEST_BYTES;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(CHECKPOINT_MAGIC), 0);
  view.setUint32(8, CHECKPOINT_VERSION, true);
  view.setUint32(12, json.length, true);
  out.set(json, 16);
  blobs.forEach(([, data], i) => {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), dataStart + table[i].offset);
  });
  const digest = createHash('sha256').update(out.subarray(0, total - DIGEST_BYTES)).digest();
  out.set(digest, total - DIGEST_BYTES);
  return out;
}

function corrupt(message: string): CheckpointError {
  return new CheckpointError('checkpoint_corrupt', `not a valid Unroll checkpoint: ${message}`);
}

/**
 * The backend id recorded in a checkpoint's header, without verifying the checksum (restore
 * does that): null when the bytes are not a checkpoint or it predates the field. Lets a caller
 * pick the same backend before restoring, for a bitwise-exact continuation.
 */
export function checkpointBackend(input: Uint8Array): string | null {
  try {
    const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    if (bytes.length < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== CHECKPOINT_MAGIC) return null;
    const jsonLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(12, true);
    if (16 + jsonLength > bytes.length) return null;
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(16, 16 + jsonLength))) as { backend?: unknown };
    return typeof header.backend === 'string' ? header.backend : null;
  } catch {
    return null;
  }
}

export function decodeCheckpoint(input: Uint8Array): TrainerState {
  if (!(input instanceof Uint8Array)) throw corrupt('expected bytes');
  // a plain Uint8Array view: Node's Buffer#slice would alias instead of copying
  const bytes = new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
  if (bytes.length < 16 + DIGEST_BYTES) throw corrupt(`only ${bytes.length} bytes`);
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== CHECKPOINT_MAGIC) throw corrupt('bad magic number');
  const body = bytes.subarray(0, bytes.length - DIGEST_BYTES);
  const digest = createHash('sha256').update(body).digest();
  if (Buffer.compare(digest, bytes.subarray(bytes.length - DIGEST_BYTES)) !== 0) throw corrupt('SHA-256 checksum mismatch');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  if (version !== CHECKPOINT_VERSION) {
    throw new CheckpointError('checkpoint_unsupported_version', `checkpoint format version ${version}, this engine reads ${CHECKPOINT_VERSION}`);
  }
  const jsonLength = view.getUint32(12, true);
  if (16 + jsonLength > body.length) throw corrupt('header runs past the end');
  let header: Record<string, unknown> & { blobs: BlobEntry[]; optimizer: { stepCount: number; buffers: string[] } };
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(16, 16 + jsonLength)));
  } catch {
    throw corrupt('header is not JSON');
  }
  if (!Array.isArray(header.blobs)) throw corrupt('no blob table');
  const dataStart = align8(16 + jsonLength);
  const blobs = new Map<string, Blob>();
  for (const b of header.blobs) {
    const Ctor = CTORS[b.type];
    if (Ctor === undefined) throw corrupt(`blob ${b.name} has unknown type ${b.type}`);
    const start = dataStart + b.offset;
    const end = start + b.length * Ctor.BYTES_PER_ELEMENT;
    if (!Number.isSafeInteger(start) || start < dataStart || end > body.length) throw corrupt(`blob ${b.name} out of bounds`);
    // copy: the result must not alias (or depend on the alignment of) the input bytes
    blobs.set(b.name, new Ctor(body.slice(start, end).buffer));
  }
  const need = (name: string): Blob => {
    const b = blobs.get(name);
    if (b === undefined) throw corrupt(`missing ${name}`);
    return b;
  };
  return {
    spec: header.spec as TrainSpec,
    dtype: header.dtype as Dtype,
    backend: typeof header.backend === 'string' ? header.backend : null,
    datasetFingerprint: header.datasetFingerprint as string,
    epoch: header.epoch as number,
    stepInEpoch: header.stepInEpoch as number,
    globalStep: header.globalStep as number,
    batchIndex: header.batchIndex as number,
    batchDone: header.batchDone as number,
    accumulators: header.accumulators as EpochAccumulators,
    lastEpochMetrics: header.lastEpochMetrics as EpochMetrics | null,
    params: need('params') as FloatArray,
    optimizer: {
      stepCount: header.optimizer.stepCount,
      buffers: header.optimizer.buffers.map((name) => ({ name, data: need(`optimizer.${name}`) as FloatArray })),
    },
    prngState: need('prng') as Uint32Array,
    carried: need('carried') as FloatArray,
    powerVector: need('powerVector') as Float64Array,
    order: blobs.has('order') ? (need('order') as Int32Array) : null,
  };
}
