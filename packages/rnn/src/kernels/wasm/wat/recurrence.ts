// The recurrence of a BPTT window as one call each way, so the K dependent steps run without
// returning to JavaScript (K small products + elementwise passes per call instead of 3K calls).
// Each step calls the same exported kernels the per-step path calls, in the same order, so the
// results are bit for bit those of the step-by-step loop in rnn.ts.

import { add32, get, i32, inc, mul32, params, set, whileLoop } from './dsl.ts';

/** for t in [0, K): h_{t+1} = act(h_{t+1} + h_t·Whhᵀ + bhh), hs (K + 1, B, H) holding the input projections. */
function recurrenceForward(): string {
  return `
(func (export "rnn_forward_steps") ${params(['hs', 'whh', 'bhh', 'K', 'B', 'H', 'relu'])}
  (local $t i32) (local $bh i32) (local $step i32) (local $prev i32) (local $h i32)
  ${set('bh', mul32(get('B'), get('H')))}
  ${set('step', mul32(get('bh'), i32(4)))}
  ${set('prev', get('hs'))}
  ${whileLoop(`(i32.lt_s ${get('t')} ${get('K')})`, [
    set('h', add32(get('prev'), get('step'))),
    `(call $gemm_nt ${get('h')} ${get('prev')} ${get('whh')} ${get('B')} ${get('H')} ${get('H')} ${i32(1)})`,
    `(call $add_bias ${get('h')} ${get('bhh')} ${get('B')} ${get('H')})`,
    `(if ${get('relu')}
      (then (call $act_relu ${get('h')} ${get('h')} ${get('bh')}))
      (else (call $act_tanh ${get('h')} ${get('h')} ${get('bh')})))`,
    set('prev', get('h')),
    inc('t', i32(1)),
  ])})`;
}

/**
 * for t from K−1 to 0: dhs[t] = (dhs[t] + dhNext) ⊙ act'(h_{t+1}), sumSq[t] (f32) = Σ (dhs[t] + dhNext)²,
 * dhNext = dhs[t] · Whh.
 */
function recurrenceBackward(): string {
  return `
(func (export "rnn_backward_steps") ${params(['dhs', 'dhnext', 'sumsq', 'hs', 'whh', 'K', 'B', 'H', 'relu'])}
  (local $t i32) (local $bh i32) (local $step i32) (local $slot i32) (local $h i32) (local $sq f32)
  ${set('bh', mul32(get('B'), get('H')))}
  ${set('step', mul32(get('bh'), i32(4)))}
  ${set('t', `(i32.sub ${get('K')} ${i32(1)})`)}
  ${whileLoop(`(i32.ge_s ${get('t')} ${i32(0)})`, [
    set('slot', add32(get('dhs'), mul32(get('t'), get('step')))),
    set('h', add32(get('hs'), mul32(add32(get('t'), i32(1)), get('step')))),
    `(if ${get('relu')}
      (then ${set('sq', `(call $act_relu_backward_add ${get('slot')} ${get('slot')} ${get('dhnext')} ${get('h')} ${get('bh')})`)})
      (else ${set('sq', `(call $act_tanh_backward_add ${get('slot')} ${get('slot')} ${get('dhnext')} ${get('h')} ${get('bh')})`)}))`,
    `(f32.store ${add32(get('sumsq'), mul32(get('t'), i32(4)))} ${get('sq')})`,
    `(call $gemm_nn ${get('dhnext')} ${get('slot')} ${get('whh')} ${get('B')} ${get('H')} ${get('H')} ${i32(0)})`,
    inc('t', i32(-1)),
  ])})`;
}

export function recurrenceFunctions(): string {
  return [recurrenceForward(), recurrenceBackward()].join('\n');
}
