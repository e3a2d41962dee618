// The recurrence of a BPTT window as one call each way, so the K dependent steps run without
// returning to JavaScript (K small products + elementwise passes per call instead of 3K calls).
// Each step calls the same exported kernels the per-step path calls, in the same order, so the
// results are bit for bit those of the step-by-step loop in rnn.ts.
//
// The B streams of a batch are independent sequences: the recurrence couples a row of h only to
// the same row one step earlier. So a call takes a band of rows [r0, r0 + nb) and runs all K
// steps for those rows alone; two threads given two bands need no synchronisation until the end.
// The step products' weights may come packed once per window (pack_b; 0 = not packed), so a
// packing product does not copy the same matrix again at every step, on every thread.

import { add32, get, i32, inc, mul32, params, set, sub32, whileLoop } from './dsl.ts';

/**
 * for t in [0, K): h_{t+1} = act(h_{t+1} + h_t·Whhᵀ + bhh) on rows [r0, r0 + nb) of hs (K + 1, B, H).
 * With whht ≠ 0 (Whhᵀ, made once per window by `transpose`) the product runs as an outer-product
 * gemm_nn (h_t · Whhᵀ): faster than gemm_nt's dot products from 4 rows up; whht = 0 uses gemm_nt.
 */
function recurrenceForward(): string {
  return `
(func (export "rnn_forward_steps") ${params(['hs', 'whh', 'bhh', 'K', 'B', 'H', 'relu', 'r0', 'nb', 'whht', 'whhtPacked'])}
  (local $t i32) (local $n i32) (local $step i32) (local $prev i32) (local $h i32)
  ${set('n', mul32(get('nb'), get('H')))}
  ${set('step', mul32(mul32(get('B'), get('H')), i32(4)))}
  ${set('prev', add32(get('hs'), mul32(mul32(get('r0'), get('H')), i32(4))))}
  (global.set $prepacked ${get('whhtPacked')})
  (global.set $prepackedFrom ${get('whht')})
  ${whileLoop(`(i32.lt_s ${get('t')} ${get('K')})`, [
    set('h', add32(get('prev'), get('step'))),
    `(if ${get('whht')}
      (then (call $gemm_nn ${get('h')} ${get('prev')} ${get('whht')} ${get('nb')} ${get('H')} ${get('H')} ${i32(1)}))
      (else (call $gemm_nt ${get('h')} ${get('prev')} ${get('whh')} ${get('nb')} ${get('H')} ${get('H')} ${i32(1)})))`,
    `(call $add_bias ${get('h')} ${get('bhh')} ${get('nb')} ${get('H')})`,
    `(if ${get('relu')}
      (then (call $act_relu ${get('h')} ${get('h')} ${get('n')}))
      (else (call $act_tanh ${get('h')} ${get('h')} ${get('n')})))`,
    set('prev', get('h')),
    inc('t', i32(1)),
  ])}
  (global.set $prepacked ${i32(0)}))`;
}

/**
 * for t from K−1 to 0, on rows [r0, r0 + nb): dhs[t] = (dhs[t] + dhNext) ⊙ act'(h_{t+1}),
 * rowSq (K, B) f32 [t, b] = Σ over row b of (dhs[t] + dhNext)², dhNext = dhs[t] · Whh.
 */
function recurrenceBackward(): string {
  const rowCall = (act: string): string =>
    `(call $act_${act}_backward_add ${get('row')} ${get('row')} ${add32(get('dhnext'), get('off'))} ${add32(get('h'), get('off'))} ${get('H')})`;
  return `
(func (export "rnn_backward_steps") ${params(['dhs', 'dhnext', 'rowsq', 'hs', 'whh', 'K', 'B', 'H', 'relu', 'r0', 'nb', 'whhPacked'])}
  (local $t i32) (local $b i32) (local $step i32) (local $slot i32) (local $h i32) (local $row i32) (local $off i32) (local $rowBytes i32) (local $sq f32)
  ${set('step', mul32(mul32(get('B'), get('H')), i32(4)))}
  ${set('rowBytes', mul32(get('H'), i32(4)))}
  ${set('dhnext', add32(get('dhnext'), mul32(get('r0'), get('rowBytes'))))}
  ${set('t', `(i32.sub ${get('K')} ${i32(1)})`)}
  (global.set $prepacked ${get('whhPacked')})
  (global.set $prepackedFrom ${get('whh')})
  ${whileLoop(`(i32.ge_s ${get('t')} ${i32(0)})`, [
    set('slot', add32(add32(get('dhs'), mul32(get('t'), get('step'))), mul32(get('r0'), get('rowBytes')))),
    set('h', add32(get('slot'), add32(sub32(get('hs'), get('dhs')), get('step')))),
    set('b', i32(0)),
    whileLoop(`(i32.lt_s ${get('b')} ${get('nb')})`, [
      set('off', mul32(get('b'), get('rowBytes'))),
      set('row', add32(get('slot'), get('off'))),
      `(if ${get('relu')} (then ${set('sq', rowCall('relu'))}) (else ${set('sq', rowCall('tanh'))}))`,
      `(f32.store ${add32(get('rowsq'), mul32(add32(mul32(get('t'), get('B')), add32(get('r0'), get('b'))), i32(4)))} ${get('sq')})`,
      inc('b', i32(1)),
    ]),
    `(call $gemm_nn ${get('dhnext')} ${get('slot')} ${get('whh')} ${get('nb')} ${get('H')} ${get('H')} ${i32(0)})`,
    inc('t', i32(-1)),
  ])}
  (global.set $prepacked ${i32(0)}))`;
}

/** out(C, R) = in(R, C)ᵀ, row by row of `in` (reads contiguous, writes strided). */
function transpose(): string {
  return `
(func (export "transpose") ${params(['out', 'in', 'R', 'C'])}
  (local $r i32) (local $c i32) (local $src i32) (local $dst i32) (local $stride i32)
  ${set('stride', mul32(get('R'), i32(4)))}
  ${set('src', get('in'))}
  ${whileLoop(`(i32.lt_s ${get('r')} ${get('R')})`, [
    set('dst', add32(get('out'), mul32(get('r'), i32(4)))),
    set('c', i32(0)),
    whileLoop(`(i32.lt_s ${get('c')} ${get('C')})`, [
      `(f32.store ${get('dst')} (f32.load ${get('src')}))`,
      inc('src', i32(4)), inc('dst', get('stride')), inc('c', i32(1)),
    ]),
    inc('r', i32(1)),
  ])})`;
}

export function recurrenceFunctions(): string {
  return [transpose(), recurrenceForward(), recurrenceBackward()].join('\n');
}
