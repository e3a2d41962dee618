// The safetensors file format (https://github.com/huggingface/safetensors):
//
//   [8 bytes: N, unsigned little-endian u64][N bytes: JSON header][data]
//
// The header maps tensor names to { "dtype", "shape", "data_offsets": [begin, end] } (offsets
// relative to the start of the data section) plus an optional "__metadata__" string→string map.
// We write exactly what the Rust `safetensors` crate writes: compact JSON with "__metadata__"
// first, tensors ordered by dtype (larger alignment first, the crate's Dtype order) then by
// name, data packed in that order, and the header padded with spaces to a multiple of 8 bytes.
// Metadata keys are sorted (the crate uses a HashMap there; we want deterministic bytes).
// Little-endian data; every Node.js platform is little-endian, so typed arrays are copied as is.

export type SafeDtype = 'F64' | 'F32' | 'I32' | 'U8';
export type TensorData = Float32Array | Float64Array | Int32Array | Uint8Array;

export interface Tensor {
  dtype: SafeDtype;
  shape: number[];
  data: TensorData;
}

export class SafetensorsError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(`safetensors: ${message}`);
    this.name = 'SafetensorsError';
  }
}

/** Header lengths above this are rejected (the Rust crate's MAX_HEADER_SIZE). */
export const MAX_HEADER_BYTES = 100_000_000;
const METADATA_KEY = '__metadata__';

interface DtypeInfo {
  bytes: number;
  make: (buffer: ArrayBuffer) => TensorData;
  matches: (data: TensorData) => boolean;
}

const DTYPES: Record<SafeDtype, DtypeInfo> = {
  F64: { bytes: 8, make: (b) => new Float64Array(b), matches: (d) => d instanceof Float64Array },
  F32: { bytes: 4, make: (b) => new Float32Array(b), matches: (d) => d instanceof Float32Array },
  I32: { bytes: 4, make: (b) => new Int32Array(b), matches: (d) => d instanceof Int32Array },
  U8: { bytes: 1, make: (b) => new Uint8Array(b), matches: (d) => d instanceof Uint8Array },
};

// The Rust crate's `Dtype` declaration order (it derives Ord); files are sorted by it descending.
const CRATE_DTYPE_ORDER = [
  'BOOL', 'F4', 'F6_E2M3', 'F6_E3M2', 'U8', 'I8', 'F8_E5M2', 'F8_E4M3', 'F8_E8M0',
  'I16', 'U16', 'F16', 'BF16', 'I32', 'U32', 'F32', 'C64', 'F64', 'I64', 'U64',
];

function isSafeDtype(d: unknown): d is SafeDtype {
  return typeof d === 'string' && Object.hasOwn(DTYPES, d);
}

const utf8 = new TextEncoder();

/** Byte-wise UTF-8 order (Rust's String Ord), not UTF-16 code unit order. */
function compareUtf8(a: string, b: string): number {
  const ea = utf8.encode(a);
  const eb = utf8.encode(b);
  const n = Math.min(ea.length, eb.length);
  for (let i = 0; i < n; i++) if (ea[i] !== eb[i]) return ea[i] - eb[i];
  return ea.length - eb.length;
}

function elementCount(shape: readonly number[], where: string): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new SafetensorsError('invalid_shape', `${where}: shape ${JSON.stringify(shape)} must hold non-negative integers`);
    n *= d;
    if (!Number.isSafeInteger(n)) throw new SafetensorsError('invalid_shape', `${where}: shape ${JSON.stringify(shape)} is too large`);
  }
  return n;
}

/** Serialises tensors (and optional string metadata) to safetensors bytes, deterministically. */
export function encodeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors);
  for (const name of names) {
    const t = tensors[name];
    const where = `tensor ${JSON.stringify(name)}`;
    if (name === METADATA_KEY) throw new SafetensorsError('invalid_tensor', `${METADATA_KEY} is reserved and cannot name a tensor`);
    if (!isSafeDtype(t.dtype)) throw new SafetensorsError('unknown_dtype', `${where}: unsupported dtype ${JSON.stringify(t.dtype)}`);
    if (!DTYPES[t.dtype].matches(t.data)) {
      throw new SafetensorsError('invalid_tensor', `${where}: dtype ${t.dtype} does not match data (${t.data.constructor.name})`);
    }
    const count = elementCount(t.shape, where);
    if (count !== t.data.length) {
      throw new SafetensorsError('wrong_byte_count', `${where}: shape ${JSON.stringify(t.shape)} needs ${count} elements, data has ${t.data.length}`);
    }
  }
  const rank = (d: SafeDtype) => CRATE_DTYPE_ORDER.indexOf(d);
  names.sort((a, b) => rank(tensors[b].dtype) - rank(tensors[a].dtype) || compareUtf8(a, b));

  const header: Record<string, unknown> = {};
  const meta = metadata ?? {};
  const metaKeys = Object.keys(meta).sort(compareUtf8);
  if (metaKeys.length > 0) {
    const sorted: Record<string, string> = {};
    for (const k of metaKeys) {
      if (typeof meta[k] !== 'string') throw new SafetensorsError('invalid_metadata', `metadata ${JSON.stringify(k)} must be a string`);
      sorted[k] = meta[k];
    }
    header[METADATA_KEY] = sorted;
  }
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const end = offset + t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, end] };
    offset = end;
  }
  // JSON.stringify keeps insertion order for non-integer-like keys; integer-like tensor names
  // ("0", "1") would be reordered by JS objects, so the header is assembled by hand.
  const entries = [
    ...(metaKeys.length > 0 ? [`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(header[METADATA_KEY])}`] : []),
    ...names.map((n) => `${JSON.stringify(n)}:${JSON.stringify(header[n])}`),
  ];
  let json = utf8.encode(`{${entries.join(',')}}`);
  const padded = Math.ceil(json.length / 8) * 8;
  const headerBytes = new Uint8Array(padded).fill(0x20);
  headerBytes.set(json);
  json = headerBytes;

  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, json.length, true);
  view.setUint32(4, Math.floor(json.length / 4294967296), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const name of names) {
    const d = tensors[name].data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), pos);
    pos += d.byteLength;
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses and strictly validates safetensors bytes. Tensor data are fresh, aligned copies. */
export function decodeSafetensors(bytes: Uint8Array): { tensors: Record<string, Tensor>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new SafetensorsError('truncated', `file has ${bytes.length} bytes, needs at least 8 for the header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lo = view.getUint32(0, true);
  const hi = view.getUint32(4, true);
  const headerLength = hi * 4294967296 + lo;
  if (headerLength > MAX_HEADER_BYTES) {
    throw new SafetensorsError('header_too_large', `header length ${headerLength} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (8 + headerLength > bytes.length) {
    throw new SafetensorsError('truncated', `header length ${headerLength} runs past the end of the ${bytes.length}-byte file`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength));
  } catch {
    throw new SafetensorsError('invalid_header', 'header is not valid UTF-8');
  }
  if (!text.startsWith('{')) throw new SafetensorsError('invalid_header', 'header must start with "{"');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new SafetensorsError('invalid_header', `header is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(parsed)) throw new SafetensorsError('invalid_header', 'header must be a JSON object');

  const metadata: Record<string, string> = {};
  if (Object.hasOwn(parsed, METADATA_KEY)) {
    const m = parsed[METADATA_KEY];
    if (!isPlainObject(m)) throw new SafetensorsError('invalid_metadata', `${METADATA_KEY} must be an object of strings`);
    for (const [k, v] of Object.entries(m)) {
      if (typeof v !== 'string') throw new SafetensorsError('invalid_metadata', `${METADATA_KEY}.${k} must be a string, got ${JSON.stringify(v)}`);
      metadata[k] = v;
    }
  }

  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const entries: { name: string; dtype: SafeDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, info] of Object.entries(parsed)) {
    if (name === METADATA_KEY) continue;
    const where = `tensor ${JSON.stringify(name)}`;
    if (!isPlainObject(info)) throw new SafetensorsError('invalid_entry', `${where}: entry must be an object`);
    for (const key of Object.keys(info)) {
      if (key !== 'dtype' && key !== 'shape' && key !== 'data_offsets') {
        throw new SafetensorsError('invalid_entry', `${where}: unexpected field ${JSON.stringify(key)}`);
      }
    }
    const { dtype, shape, data_offsets: offsets } = info;
    if (typeof dtype !== 'string') throw new SafetensorsError('invalid_entry', `${where}: dtype must be a string`);
    if (!isSafeDtype(dtype)) {
      const known = CRATE_DTYPE_ORDER.includes(dtype);
      throw new SafetensorsError(
        known ? 'unsupported_dtype' : 'unknown_dtype',
        `${where}: ${known ? 'unsupported' : 'unknown'} dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(DTYPES).join(', ')})`,
      );
    }
    if (!Array.isArray(shape)) throw new SafetensorsError('invalid_shape', `${where}: shape must be an array`);
    const count = elementCount(shape, where);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new SafetensorsError('invalid_offsets', `${where}: data_offsets must be two non-negative integers, got ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as number[];
    if (end < begin) throw new SafetensorsError('invalid_offsets', `${where}: data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLength) {
      throw new SafetensorsError('invalid_offsets', `${where}: data_offsets [${begin}, ${end}] run past the ${dataLength}-byte data section`);
    }
    const expected = count * DTYPES[dtype].bytes;
    if (end - begin !== expected) {
      throw new SafetensorsError(
        'wrong_byte_count',
        `${where}: ${dtype} ${JSON.stringify(shape)} needs ${expected} bytes, data_offsets [${begin}, ${end}] hold ${end - begin}`,
      );
    }
    entries.push({ name, dtype, shape: shape as number[], begin, end });
  }

  // The data section must be tiled exactly: no gaps, no overlaps, nothing left over.
  const byOffset = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const e of byOffset) {
    if (e.begin !== cursor) {
      const what = e.begin < cursor ? 'overlaps the previous tensor' : 'leaves a gap before it';
      throw new SafetensorsError('invalid_offsets', `tensor ${JSON.stringify(e.name)}: data_offsets [${e.begin}, ${e.end}] ${what} (expected begin ${cursor})`);
    }
    cursor = e.end;
  }
  if (cursor !== dataLength) {
    throw new SafetensorsError('invalid_offsets', `data section has ${dataLength} bytes but the tensors cover ${cursor}`);
  }

  const tensors: Record<string, Tensor> = {};
  for (const e of entries) {
    // An explicit copy into a fresh ArrayBuffer (a Node Buffer's slice would alias a pooled
    // buffer at an arbitrary offset), so the data start at offset 0, aligned for any dtype.
    const copy = new Uint8Array(e.end - e.begin);
    copy.set(bytes.subarray(dataStart + e.begin, dataStart + e.end));
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data: DTYPES[e.dtype].make(copy.buffer) };
  }
  return { tensors, metadata };
}
