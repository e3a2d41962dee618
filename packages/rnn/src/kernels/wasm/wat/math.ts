// Float32 tanh and exp as straight-line arithmetic (WebAssembly has neither), written once over
// FloatOps so the f32x4 main loops and the scalar tails compute bit-identical values.

import type { FloatOps } from './dsl.ts';
import { get, set } from './dsl.ts';

// Rational minimax approximation of tanh on [-7.9053, 7.9053] (Eigen's fast float tanh);
// beyond the clamp tanh rounds to ±1 in float32. Max error ≈ 4e-7 against Math.tanh.
const TANH_CLAMP = 7.90531110763549805;
const TANH_P = [
  4.89352455891786e-3, 6.37261928875436e-4, 1.48572235717979e-5, 5.12229709037114e-8,
  -8.60467152213735e-11, 2.00018790482477e-13, -2.76076847742355e-16,
];
const TANH_Q = [4.89352518554385e-3, 2.26843463243900e-3, 1.18534705686654e-4, 1.19825839466702e-6];

function horner(ops: FloatOps, coeffs: readonly number[], x: string): string {
  let acc = ops.c(coeffs[coeffs.length - 1]);
  for (let i = coeffs.length - 2; i >= 0; i--) acc = ops.add(ops.mul(acc, x), ops.c(coeffs[i]));
  return acc;
}

/**
 * Statements leaving tanh(local x) in local `out`; uses local `x2` (same type as ops).
 * `x` is clobbered (clamped).
 */
export function tanhInto(ops: FloatOps, out: string, x: string, x2: string): string[] {
  return [
    set(x, ops.clamp(get(x), ops.c(-TANH_CLAMP), ops.c(TANH_CLAMP))),
    set(x2, ops.mul(get(x), get(x))),
    set(out, ops.div(ops.mul(horner(ops, TANH_P, get(x2)), get(x)), horner(ops, TANH_Q, get(x2)))),
  ];
}

// Cephes expf: x = n·ln2 + r with |r| ≤ ln2/2, e^r by a degree-6 polynomial, 2^n built in the
// exponent bits. Relative error ≈ 2 ulp on [-87.3, 88]; inputs are clamped there.
const EXP_HI = 88.0; // keeps n ≤ 127 so 2^n stays finite
const EXP_LO = -87.3365447504019;
const LOG2E = 1.44269504088896341;
const LN2_HI = 0.693359375;
const LN2_LO = -2.12194440e-4;
const EXP_P = [5.0000001201e-1, 1.6666665459e-1, 4.1665795894e-2, 8.3334519073e-3, 1.3981999507e-3, 1.9875691500e-4];

/** Statements leaving exp(local x) in local `out`; uses locals `n` (float) and `r`. Clobbers x. */
export function expInto(ops: FloatOps, out: string, x: string, n: string, r: string): string[] {
  const vector = ops.type === 'v128';
  const nearest = (v: string): string => (vector ? `(f32x4.nearest ${v})` : `(f32.nearest ${v})`);
  // 2^n: (n + 127) << 23 reinterpreted as float. The vector form reads the integer n (|n| ≤ 127)
  // out of the bits of n + 1.5·2^23 (0x4B400000 + n) instead of i32x4.trunc_sat_f32x4_s, which
  // x64 runs as a long saturating sequence; the value is the same
  const pow2n = vector
    ? `(i32x4.shl (i32x4.add (f32x4.add ${get(n)} (v128.const f32x4 12582912.0 12582912.0 12582912.0 12582912.0)) (v128.const i32x4 ${127 - 0x4b400000} ${127 - 0x4b400000} ${127 - 0x4b400000} ${127 - 0x4b400000})) (i32.const 23))`
    : `(f32.reinterpret_i32 (i32.shl (i32.add (i32.trunc_sat_f32_s ${get(n)}) (i32.const 127)) (i32.const 23)))`;
  return [
    set(x, ops.clamp(get(x), ops.c(EXP_LO), ops.c(EXP_HI))),
    set(n, nearest(ops.mul(get(x), ops.c(LOG2E)))),
    set(r, ops.sub(ops.sub(get(x), ops.mul(get(n), ops.c(LN2_HI))), ops.mul(get(n), ops.c(LN2_LO)))),
    // e^r ≈ 1 + r + r²·P(r)
    set(out, ops.add(ops.add(ops.mul(ops.mul(horner(ops, EXP_P, get(r)), get(r)), get(r)), get(r)), ops.c(1))),
    set(out, ops.mul(get(out), pow2n)),
  ];
}
