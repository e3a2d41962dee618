import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, SafetensorsError, type Tensor } from '../src/safetensors.ts';

const hex = (s: string) => Uint8Array.from(s.trim().split(/\s+/).map((b) => parseInt(b, 16)));
const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

// Built by hand: what the Rust crate writes for {a: F32 [1, -2], b: F64 scalar 0.5, c: I32 [[7, -1]]}
// with metadata {format: pt}: metadata first, then tensors by dtype (F64 > F32 > I32), header
// (195 bytes of JSON) padded with 5 spaces to 200 = 0xc8.
const HEADER_JSON =
  '{"__metadata__":{"format":"pt"},' +
  '"b":{"dtype":"F64","shape":[],"data_offsets":[0,8]},' +
  '"a":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},' +
  '"c":{"dtype":"I32","shape":[1,2],"data_offsets":[16,24]}}';
const FIXTURE = concat(
  hex('c8 00 00 00 00 00 00 00'),
  ascii(HEADER_JSON + '     '),
  hex('00 00 00 00 00 00 e0 3f'), // b: 0.5 (f64)
  hex('00 00 80 3f  00 00 00 c0'), // a: 1.0, -2.0 (f32)
  hex('07 00 00 00  ff ff ff ff'), // c: 7, -1 (i32)
);

/** A file with the given header object and data bytes (header padded like ours). */
function fileWith(header: unknown, data: Uint8Array, headerLength?: number): Uint8Array {
  let json = JSON.stringify(header);
  while (json.length % 8 !== 0) json += ' ';
  const len = new Uint8Array(8);
  new DataView(len.buffer).setUint32(0, headerLength ?? json.length, true);
  return concat(len, ascii(json), data);
}

function expectError(bytes: Uint8Array, code: string, message: RegExp): void {
  let caught: unknown;
  try {
    decodeSafetensors(bytes);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(SafetensorsError);
  expect((caught as SafetensorsError).code).toBe(code);
  expect((caught as Error).message).toMatch(message);
}

describe('safetensors', () => {
  it('decodes the hand-built fixture', () => {
    expect(HEADER_JSON.length).toBe(195);
    const { tensors, metadata } = decodeSafetensors(FIXTURE);
    expect(metadata).toEqual({ format: 'pt' });
    expect(tensors.a).toEqual({ dtype: 'F32', shape: [2], data: Float32Array.of(1, -2) });
    expect(tensors.b).toEqual({ dtype: 'F64', shape: [], data: Float64Array.of(0.5) });
    expect(tensors.c).toEqual({ dtype: 'I32', shape: [1, 2], data: Int32Array.of(7, -1) });
  });

  it('encodes to exactly the hand-built bytes (crate order, padding) and round-trips byte-exact', () => {
    const tensors: Record<string, Tensor> = {
      c: { dtype: 'I32', shape: [1, 2], data: Int32Array.of(7, -1) },
      a: { dtype: 'F32', shape: [2], data: Float32Array.of(1, -2) },
      b: { dtype: 'F64', shape: [], data: Float64Array.of(0.5) },
    };
    expect(encodeSafetensors(tensors, { format: 'pt' })).toEqual(FIXTURE);
    const d = decodeSafetensors(FIXTURE);
    expect(encodeSafetensors(d.tensors, d.metadata)).toEqual(FIXTURE);
  });

  it('round-trips many tensors byte-exact, sorted by dtype then UTF-8 name', () => {
    const tensors: Record<string, Tensor> = {
      'rnn.weight_ih_l0': { dtype: 'F32', shape: [3, 2], data: Float32Array.of(0.1, 0.2, 0.3, -0.4, 1e-30, 3e38) },
      '10': { dtype: 'F32', shape: [1], data: Float32Array.of(Number.NaN) },
      '2': { dtype: 'F32', shape: [0], data: new Float32Array(0) },
      'é': { dtype: 'U8', shape: [3], data: Uint8Array.of(1, 2, 255) },
      z: { dtype: 'F64', shape: [2, 1], data: Float64Array.of(Math.PI, -0) },
      'fc.bias': { dtype: 'I32', shape: [2], data: Int32Array.of(-2147483648, 2147483647) },
    };
    const bytes = encodeSafetensors(tensors, { zeta: 'last', alpha: 'first "quoted"\n' });
    expect(new DataView(bytes.buffer).getUint32(0, true) % 8).toBe(0);
    const decoded = decodeSafetensors(bytes);
    expect(encodeSafetensors(decoded.tensors, decoded.metadata)).toEqual(bytes);
    expect(decoded.metadata).toEqual({ alpha: 'first "quoted"\n', zeta: 'last' });
    expect(Object.is(decoded.tensors.z.data[1], -0)).toBe(true);
    expect(decoded.tensors['10'].data[0]).toBeNaN();
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + new DataView(bytes.buffer).getUint32(0, true)));
    const order = [...header.matchAll(/"([^"]+)":\{"dtype"/g)].map((m) => m[1]);
    expect(order).toEqual(['z', '10', '2', 'rnn.weight_ih_l0', 'fc.bias', 'é']);
    expect(header.startsWith('{"__metadata__":{"alpha"')).toBe(true);
  });

  it('omits __metadata__ when there is none, and encoding is deterministic', () => {
    const t: Record<string, Tensor> = { w: { dtype: 'F32', shape: [1], data: Float32Array.of(2) } };
    const bytes = encodeSafetensors(t);
    expect(new DataView(bytes.buffer).getUint32(0, true)).toBe(56);
    expect(new TextDecoder().decode(bytes.subarray(8, 64)).trimEnd()).toBe('{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}');
    expect(encodeSafetensors(t, {})).toEqual(bytes);
  });

  it('returns aligned copies even when the file places a tensor at an odd offset', () => {
    const bytes = fileWith(
      { u: { dtype: 'U8', shape: [3], data_offsets: [0, 3] }, f: { dtype: 'F32', shape: [1], data_offsets: [3, 7] } },
      hex('01 02 03  00 00 40 40'),
    );
    const { tensors } = decodeSafetensors(bytes);
    expect(tensors.f.data).toEqual(Float32Array.of(3));
    expect(tensors.f.data.byteOffset).toBe(0);
    bytes[bytes.length - 1] = 0; // a copy: later changes to the file do not show through
    expect(tensors.f.data[0]).toBe(3);
  });

  it('decodes from a Node Buffer that is a view into a larger pooled buffer', () => {
    const file = encodeSafetensors({ w: { dtype: 'F32', shape: [2], data: Float32Array.of(1.5, -2) } });
    // Buffer.from(string) comes from Node's pool: a view at an arbitrary offset of a shared buffer.
    const pooled = Buffer.from(`x${Buffer.from(file).toString('latin1')}`, 'latin1').subarray(1);
    expect(pooled.byteOffset).not.toBe(0);
    const { tensors } = decodeSafetensors(pooled);
    expect(tensors.w.data).toEqual(Float32Array.of(1.5, -2));
    expect(tensors.w.data.buffer).not.toBe(pooled.buffer);
  });

  it('rejects inconsistent tensors on encode', () => {
    expect(() => encodeSafetensors({ a: { dtype: 'F32', shape: [3], data: Float32Array.of(1, 2) } })).toThrow(SafetensorsError);
    expect(() => encodeSafetensors({ a: { dtype: 'F64', shape: [1], data: Float32Array.of(1) } })).toThrow(/does not match/);
    expect(() => encodeSafetensors({ a: { dtype: 'BF16' as never, shape: [1], data: Float32Array.of(1) } })).toThrow(/unsupported dtype/);
    expect(() => encodeSafetensors({ __metadata__: { dtype: 'F32', shape: [1], data: Float32Array.of(1) } })).toThrow(/reserved/);
    expect(() => encodeSafetensors({}, { k: 3 as never })).toThrow(/must be a string/);
  });

  describe('rejects corrupt files with SafetensorsError', () => {
    it('truncated', () => {
      expectError(FIXTURE.subarray(0, 5), 'truncated', /at least 8/);
      expectError(FIXTURE.subarray(0, 100), 'truncated', /past the end/);
      expectError(FIXTURE.subarray(0, FIXTURE.length - 1), 'invalid_offsets', /run past/);
    });

    it('bad header length', () => {
      const huge = FIXTURE.slice();
      huge[4] = 1; // 2^32 + 200
      expectError(huge, 'header_too_large', /exceeds/);
      const big = FIXTURE.slice();
      new DataView(big.buffer).setUint32(0, 100_000_001, true);
      expectError(big, 'header_too_large', /100000000/);
      const short = FIXTURE.slice();
      short[0] = 0xc0; // header cut inside the JSON
      expectError(short, 'invalid_header', /not valid JSON/);
    });

    it('header not JSON, not UTF-8, not an object', () => {
      expectError(concat(hex('02 00 00 00 00 00 00 00'), ascii('{x')), 'invalid_header', /JSON/);
      expectError(concat(hex('02 00 00 00 00 00 00 00'), hex('ff fe')), 'invalid_header', /UTF-8/);
      expectError(fileWith([1, 2], new Uint8Array(0)), 'invalid_header', /start with/);
      expectError(fileWith(null, new Uint8Array(0)), 'invalid_header', /start with/);
    });

    it('overlapping, gapped or excess offsets', () => {
      const data = new Uint8Array(8);
      expectError(
        fileWith({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [2, 6] } }, data),
        'invalid_offsets',
        /overlaps/,
      );
      expectError(
        fileWith({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, data),
        'invalid_offsets',
        /gap/,
      );
      expectError(fileWith({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, data), 'invalid_offsets', /cover 4/);
      expectError(fileWith({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, data), 'invalid_offsets', /end before/);
      expectError(fileWith({ a: { dtype: 'F32', shape: [1], data_offsets: [0] } }, data), 'invalid_offsets', /two non-negative/);
    });

    it('wrong byte count', () => {
      expectError(fileWith({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), 'wrong_byte_count', /needs 12 bytes/);
    });

    it('unknown or unsupported dtype, bad shape, unexpected fields', () => {
      expectError(fileWith({ a: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), 'unknown_dtype', /F33/);
      expectError(fileWith({ a: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), 'unsupported_dtype', /I64/);
      expectError(fileWith({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), 'invalid_shape', /non-negative/);
      expectError(fileWith({ a: { dtype: 'F32', shape: 1, data_offsets: [0, 4] } }, new Uint8Array(4)), 'invalid_shape', /array/);
      expectError(fileWith({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4], x: 1 } }, new Uint8Array(4)), 'invalid_entry', /"x"/);
      expectError(fileWith({ a: 5 }, new Uint8Array(0)), 'invalid_entry', /object/);
    });

    it('metadata values must be strings', () => {
      expectError(fileWith({ __metadata__: { epoch: 3 } }, new Uint8Array(0)), 'invalid_metadata', /epoch/);
      expectError(fileWith({ __metadata__: 'x' }, new Uint8Array(0)), 'invalid_metadata', /object/);
    });
  });
});
