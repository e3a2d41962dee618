// Passes over the flat gradient buffer for clip_grad_norm_: Σ x² in double and scaling by a
// double factor. Float32 values widen to f64x2 lanes exactly, so the sum differs from the
// sequential JS one only in the order of its additions, and each scaled value is the JS
// `x[i] *= factor` bit for bit (double product, one rounding to float32).

import { add32, get, i32, inc, params, set, whileLoop } from './dsl.ts';

const HIGH_HALF = 'i8x16.shuffle 8 9 10 11 12 13 14 15 0 1 2 3 4 5 6 7';
const low = (v: string): string => `(f64x2.promote_low_f32x4 ${v})`;
const high = (v: string): string => `(f64x2.promote_low_f32x4 (${HIGH_HALF} ${v} ${v}))`;
const square = (d: string): string => `(f64x2.mul ${d} ${d})`;

/** Σ x² over n floats: 8 per iteration into four f64x2 accumulators (independent add chains), then a scalar tail. */
function sumSquares(): string {
  const at = (offset: number): string => `(v128.load offset=${offset} ${add32(get('x'), get('i'))})`;
  return `
(func (export "sum_squares") ${params(['x', 'n'])} (result f64)
  (local $i i32) (local $end i32) (local $a v128) (local $b v128) (local $c v128) (local $d v128) (local $v v128) (local $w v128) (local $s f64) (local $y f64)
  ${set('end', `(i32.shl ${get('n')} ${i32(2)})`)}
  ${whileLoop(`(i32.le_u ${add32(get('i'), i32(32))} ${get('end')})`, [
    set('v', at(0)),
    set('w', at(16)),
    set('a', `(f64x2.add ${get('a')} ${square(low(get('v')))})`),
    set('b', `(f64x2.add ${get('b')} ${square(high(get('v')))})`),
    set('c', `(f64x2.add ${get('c')} ${square(low(get('w')))})`),
    set('d', `(f64x2.add ${get('d')} ${square(high(get('w')))})`),
    inc('i', i32(32)),
  ])}
  ${whileLoop(`(i32.lt_u ${get('i')} ${get('end')})`, [
    set('y', `(f64.promote_f32 (f32.load ${add32(get('x'), get('i'))}))`),
    set('s', `(f64.add ${get('s')} (f64.mul ${get('y')} ${get('y')}))`),
    inc('i', i32(4)),
  ])}
  ${set('a', `(f64x2.add (f64x2.add ${get('a')} ${get('b')}) (f64x2.add ${get('c')} ${get('d')}))`)}
  (f64.add (f64.add (f64x2.extract_lane 0 ${get('a')}) (f64x2.extract_lane 1 ${get('a')})) ${get('s')}))`;
}

/** x ← f32(f64(x) · factor) over n floats, 4 per iteration, then a scalar tail. */
function scaleInPlace(): string {
  const p = add32(get('x'), get('i'));
  return `
(func (export "scale_in_place") ${params(['x', 'n'])} (param $factor f64)
  (local $i i32) (local $end i32) (local $f v128) (local $v v128)
  ${set('f', `(f64x2.splat ${get('factor')})`)}
  ${set('end', `(i32.shl ${get('n')} ${i32(2)})`)}
  ${whileLoop(`(i32.le_u ${add32(get('i'), i32(16))} ${get('end')})`, [
    set('v', `(v128.load ${p})`),
    `(v128.store ${p} (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23
      (f32x4.demote_f64x2_zero (f64x2.mul ${low(get('v'))} ${get('f')}))
      (f32x4.demote_f64x2_zero (f64x2.mul ${high(get('v'))} ${get('f')}))))`,
    inc('i', i32(16)),
  ])}
  ${whileLoop(`(i32.lt_u ${get('i')} ${get('end')})`, [
    `(f32.store ${p} (f32.demote_f64 (f64.mul (f64.promote_f32 (f32.load ${p})) ${get('factor')})))`,
    inc('i', i32(4)),
  ])})`;
}

export function normFunctions(): string {
  return [sumSquares(), scaleInPlace()].join('\n');
}
