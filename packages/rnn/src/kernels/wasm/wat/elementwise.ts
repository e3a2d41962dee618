// Fused elementwise kernels: activations and their backward, bias add / gradient, token column
// gather / scatter, row softmax for cross-entropy. f32x4 main loops with scalar tails.
// Pointers are byte addresses in the module's memory; counts are in elements.

import type { FloatOps } from './dsl.ts';
import {
  add32, get, i32, inc, locals, mul32, params, scalarOps, set, vectorOps, whileLoop,
} from './dsl.ts';
import { expInto, tanhInto } from './math.ts';

/**
 * Loop over byte offset `i` in [0, 4·count): f32x4 steps, then scalar steps. `step(ops)` returns the
 * statements for one step at `get('i')`; `vars` are float locals it uses (declared in both types).
 */
function vectorThenScalar(count: string, step: (ops: FloatOps) => string[]): string {
  return [
    set('i', i32(0)),
    set('end', `(i32.shl ${count} ${i32(2)})`),
    whileLoop(`(i32.le_u ${add32(get('i'), i32(16))} ${get('end')})`, [...step(vectorOps), inc('i', i32(16))]),
    whileLoop(`(i32.lt_u ${get('i')} ${get('end')})`, [...step(scalarOps), inc('i', i32(4))]),
  ].join('\n  ');
}

/** Declares each name as `${name}_v` (v128) and `${name}_s` (f32); `v(ops, name)` picks one. */
function floatLocals(names: string[]): string {
  return `${locals(names.map((n) => `${n}_v`), 'v128')} ${locals(names.map((n) => `${n}_s`), 'f32')}`;
}
const v = (ops: FloatOps, name: string): string => `${name}_${ops.type === 'v128' ? 'v' : 's'}`;
const at = (base: string): string => add32(get(base), get('i'));

function actTanh(): string {
  return `
(func (export "act_tanh") ${params(['out', 'pre', 'n'])} (local $i i32) (local $end i32) ${floatLocals(['x', 'x2', 'y'])}
  ${vectorThenScalar(get('n'), (ops) => [
    set(v(ops, 'x'), ops.load(at('pre'))),
    ...tanhInto(ops, v(ops, 'y'), v(ops, 'x'), v(ops, 'x2')),
    ops.store(at('out'), get(v(ops, 'y'))),
  ])})`;
}

function actRelu(): string {
  // pmax(0, x) = 0 < x ? x : 0, so NaN and -0 map to 0 exactly like `x > 0 ? x : 0`
  return `
(func (export "act_relu") ${params(['out', 'pre', 'n'])} (local $i i32) (local $end i32)
  ${vectorThenScalar(get('n'), (ops) => [
    ops.type === 'v128'
      ? ops.store(at('out'), `(f32x4.pmax ${ops.c(0)} ${ops.load(at('pre'))})`)
      : ops.store(at('out'), `(select ${ops.load(at('pre'))} ${ops.c(0)} (f32.gt ${ops.load(at('pre'))} ${ops.c(0)}))`),
  ])})`;
}

function actTanhBackward(): string {
  return `
(func (export "act_tanh_backward") ${params(['dpre', 'dh', 'h', 'n'])} (local $i i32) (local $end i32) ${floatLocals(['y'])}
  ${vectorThenScalar(get('n'), (ops) => [
    set(v(ops, 'y'), ops.load(at('h'))),
    ops.store(at('dpre'), ops.mul(ops.load(at('dh')), ops.sub(ops.c(1), ops.mul(get(v(ops, 'y')), get(v(ops, 'y')))))),
  ])})`;
}

function actReluBackward(): string {
  return `
(func (export "act_relu_backward") ${params(['dpre', 'dh', 'h', 'n'])} (local $i i32) (local $end i32)
  ${vectorThenScalar(get('n'), (ops) => [
    ops.type === 'v128'
      ? ops.store(at('dpre'), `(v128.and ${ops.load(at('dh'))} (f32x4.gt ${ops.load(at('h'))} ${ops.c(0)}))`)
      : ops.store(at('dpre'), `(select ${ops.load(at('dh'))} ${ops.c(0)} (f32.gt ${ops.load(at('h'))} ${ops.c(0)}))`),
  ])})`;
}

/**
 * The BPTT step's fused backward: dh = dha + dhb (output-layer gradient + recurrent gradient),
 * dpre = dh ⊙ act'(h) (dpre may alias dha), returns Σ dh² for the gradient-norm profile.
 */
function actBackwardAdd(act: 'tanh' | 'relu'): string {
  const lane = (x: string, l: number): string => `(f32x4.extract_lane ${l} ${x})`;
  return `
(func (export "act_${act}_backward_add") ${params(['dpre', 'dha', 'dhb', 'h', 'n'])} (result f32) (local $i i32) (local $end i32) ${floatLocals(['d', 'y', 'acc'])}
  ${vectorThenScalar(get('n'), (ops) => [
    set(v(ops, 'd'), ops.add(ops.load(at('dha')), ops.load(at('dhb')))),
    set(v(ops, 'acc'), ops.add(get(v(ops, 'acc')), ops.mul(get(v(ops, 'd')), get(v(ops, 'd'))))),
    set(v(ops, 'y'), ops.load(at('h'))),
    act === 'tanh'
      ? ops.store(at('dpre'), ops.mul(get(v(ops, 'd')), ops.sub(ops.c(1), ops.mul(get(v(ops, 'y')), get(v(ops, 'y'))))))
      : ops.type === 'v128'
        ? ops.store(at('dpre'), `(v128.and ${get(v(ops, 'd'))} (f32x4.gt ${get(v(ops, 'y'))} ${ops.c(0)}))`)
        : ops.store(at('dpre'), `(select ${get(v(ops, 'd'))} ${ops.c(0)} (f32.gt ${get(v(ops, 'y'))} ${ops.c(0)}))`),
  ])}
  (f32.add (f32.add (f32.add ${lane(get('acc_v'), 0)} ${lane(get('acc_v'), 1)}) (f32.add ${lane(get('acc_v'), 2)} ${lane(get('acc_v'), 3)})) ${get('acc_s')}))`;
}

/**
 * Saturation diagnostics: tanh counts |h| > 0.99 (as `|h| >= f32(0.99)`, the smallest float32
 * above 0.99, so the count equals the JS double comparison), relu counts h == 0.
 */
function countSaturated(act: 'tanh' | 'relu'): string {
  const lane = (l: number): string => `(i32x4.extract_lane ${l} ${get('c_v')})`;
  const hit = (ops: FloatOps): string =>
    act === 'tanh'
      ? `(${ops.type === 'v128' ? 'f32x4' : 'f32'}.ge (${ops.type === 'v128' ? 'f32x4' : 'f32'}.abs ${ops.load(at('h'))}) ${ops.c(0.99)})`
      : `(${ops.type === 'v128' ? 'f32x4' : 'f32'}.eq ${ops.load(at('h'))} ${ops.c(0)})`;
  return `
(func (export "count_saturated_${act}") ${params(['h', 'n'])} (result i32) (local $i i32) (local $end i32) (local $c_v v128) (local $c_s i32)
  ${vectorThenScalar(get('n'), (ops) => [
    // a vector compare gives -1 per true lane: subtracting counts it
    ops.type === 'v128' ? set('c_v', `(i32x4.sub ${get('c_v')} ${hit(ops)})`) : set('c_s', add32(get('c_s'), hit(ops))),
  ])}
  (i32.add (i32.add (i32.add ${lane(0)} ${lane(1)}) (i32.add ${lane(2)} ${lane(3)})) ${get('c_s')}))`;
}

/**
 * One Adam / AdamW step (no amsgrad) in float32, in torch.optim's single-tensor order (the f32
 * scalars w, wEnd, β2, 1 − β2, √(1 − β2ᵗ), eps, −stepSize, l2, decay are read from `scalars`, so
 * the call fits a helper thread's argument slot):
 *   p ← p·decay (AdamW; decay = 1 otherwise); g ← g + l2·p (Adam's L2; l2 = 0 otherwise)
 *   m ← lerp(m, g, w) (torch's two-branch lerp: `fromEnd` picks g − (g − m)·(1 − w) for w ≥ 0.5)
 *   v ← v·β2 + (1 − β2)·g·g;  p ← p − stepSize · m / (√v / √(1 − β2ᵗ) + eps)
 */
function adamStep(): string {
  const f = (ops: FloatOps): string => (ops.type === 'v128' ? 'f32x4' : 'f32');
  const scalars = ['w', 'wEnd', 'beta2', 'omb2', 'bc2', 'eps', 'negStep', 'l2', 'decay'];
  const splat = (name: string): string[] => [set(`${name}_s`, get(name)), set(`${name}_v`, `(f32x4.splat ${get(name)})`)];
  const c = (ops: FloatOps, name: string): string => get(v(ops, name));
  return `
(func (export "adam_step") ${params(['p', 'g', 'm', 'v', 'n', 'scalars', 'fromEnd'])}
  (local $i i32) (local $end i32) (local $mask v128) ${floatLocals(['pi', 'gi', 'mi', 'd', 'vi', ...scalars.map((n) => `${n}c`)])}
  ${locals(scalars, 'f32')}
  ${scalars.map((n, j) => set(n, `(f32.load offset=${4 * j} ${get('scalars')})`)).join('\n  ')}
  ${scalars.flatMap((n) => splat(n).map((st) => st.replace(`$${n}_`, `$${n}c_`))).join('\n  ')}
  ${set('mask', `(i32x4.splat (i32.sub ${i32(0)} ${get('fromEnd')}))`)}
  ${vectorThenScalar(get('n'), (ops) => {
    const k = (name: string): string => c(ops, `${name}c`);
    const mNear = ops.add(get(v(ops, 'mi')), ops.mul(k('w'), get(v(ops, 'd'))));
    const mFar = ops.sub(get(v(ops, 'gi')), ops.mul(get(v(ops, 'd')), k('wEnd')));
    return [
      set(v(ops, 'pi'), ops.mul(ops.load(at('p')), k('decay'))),
      set(v(ops, 'gi'), ops.add(ops.load(at('g')), ops.mul(k('l2'), get(v(ops, 'pi'))))),
      set(v(ops, 'mi'), ops.load(at('m'))),
      set(v(ops, 'd'), ops.sub(get(v(ops, 'gi')), get(v(ops, 'mi')))),
      set(v(ops, 'mi'), ops.type === 'v128'
        ? `(v128.bitselect ${mFar} ${mNear} ${get('mask')})`
        : `(select ${mFar} ${mNear} ${get('fromEnd')})`),
      ops.store(at('m'), get(v(ops, 'mi'))),
      set(v(ops, 'vi'), ops.add(ops.mul(ops.load(at('v')), k('beta2')), ops.mul(ops.mul(k('omb2'), get(v(ops, 'gi'))), get(v(ops, 'gi'))))),
      ops.store(at('v'), get(v(ops, 'vi'))),
      set(v(ops, 'd'), ops.add(ops.div(`(${f(ops)}.sqrt ${get(v(ops, 'vi'))})`, k('bc2')), k('eps'))),
      ops.store(at('p'), ops.add(get(v(ops, 'pi')), ops.mul(k('negStep'), ops.div(get(v(ops, 'mi')), get(v(ops, 'd')))))),
    ];
  })})`;
}

/** Loops rows r in [0, N), with `row` = byte address of row r, rows `stride` bytes apart (default: C floats). */
function overRows(base: string, body: string[], stride = mul32(get('C'), i32(4))): string {
  return [
    set('r', i32(0)),
    set('row', get(base)),
    whileLoop(`(i32.lt_s ${get('r')} ${get('N')})`, [...body, inc('r', i32(1)), inc('row', stride)]),
  ].join('\n  ');
}
const ROW_LOCALS = '(local $r i32) (local $row i32) (local $i i32) (local $end i32)';
const inRow = (): string => add32(get('row'), get('i'));

function addBias(): string {
  return `
(func (export "add_bias") ${params(['out', 'bias', 'N', 'C'])} ${ROW_LOCALS}
  ${overRows('out', [vectorThenScalar(get('C'), (ops) => [
    ops.store(inRow(), ops.add(ops.load(inRow()), ops.load(at('bias')))),
  ])])})`;
}

/**
 * dbias(C) += Σ rows of dout(N, ·), rows ld bytes apart. Column chunks run down all rows with
 * their sums in registers (32 columns: eight f32x4 chains, then 4-column and single-column
 * chunks), so dbias is written once per chunk — two threads given column bands never write the
 * same cache line row after row — and each column's additions run in row order, as row by row.
 */
function biasGradAdd(): string {
  const chunk = (vectors: number): string => {
    const accs = Array.from({ length: vectors }, (_, j) => `a${j}`);
    return whileLoop(`(i32.le_s ${add32(get('c'), i32(4 * vectors))} ${get('C')})`, [
      set('p', add32(get('dout'), mul32(get('c'), i32(4)))),
      set('q', add32(get('dbias'), mul32(get('c'), i32(4)))),
      ...accs.map((acc, j) => set(acc, vectorOps.load(get('q'), 16 * j))),
      set('r', i32(0)),
      whileLoop(`(i32.lt_s ${get('r')} ${get('N')})`, [
        ...accs.map((acc, j) => set(acc, vectorOps.add(get(acc), vectorOps.load(get('p'), 16 * j)))),
        inc('p', get('ld')),
        inc('r', i32(1)),
      ]),
      ...accs.map((acc, j) => vectorOps.store(get('q'), get(acc), 16 * j)),
      inc('c', i32(4 * vectors)),
    ]);
  };
  return `
(func (export "bias_grad_add") ${params(['dbias', 'dout', 'N', 'C', 'ld'])}
  (local $c i32) (local $r i32) (local $p i32) (local $q i32) (local $s f32) ${locals(Array.from({ length: 8 }, (_, j) => `a${j}`), 'v128')}
  ${chunk(8)}
  ${chunk(1)}
  ${whileLoop(`(i32.lt_s ${get('c')} ${get('C')})`, [
    set('p', add32(get('dout'), mul32(get('c'), i32(4)))),
    set('q', add32(get('dbias'), mul32(get('c'), i32(4)))),
    set('s', scalarOps.load(get('q'))),
    set('r', i32(0)),
    whileLoop(`(i32.lt_s ${get('r')} ${get('N')})`, [
      set('s', scalarOps.add(get('s'), scalarOps.load(get('p')))),
      inc('p', get('ld')),
      inc('r', i32(1)),
    ]),
    scalarOps.store(get('q'), get('s')),
    inc('c', i32(1)),
  ])})`;
}

/**
 * out(B, H) += W(H, I)[:, ids[b]] walking the column (stride I): for few rows, where transposing
 * W first costs more than it saves. ids are validated (< I) by the caller, ids < 0 skipped.
 */
function gatherColumnsAdd(): string {
  return `
(func (export "gather_columns_add") ${params(['out', 'ids', 'W', 'B', 'H', 'I'])}
  (local $b i32) (local $id i32) (local $h i32) (local $po i32) (local $pw i32) (local $stride i32)
  ${set('stride', mul32(get('I'), i32(4)))}
  ${whileLoop(`(i32.lt_s ${get('b')} ${get('B')})`, [
    set('id', `(i32.load ${add32(get('ids'), mul32(get('b'), i32(4)))})`),
    `(if (i32.ge_s ${get('id')} ${i32(0)}) (then
      ${set('po', add32(get('out'), mul32(mul32(get('b'), get('H')), i32(4))))}
      ${set('pw', add32(get('W'), mul32(get('id'), i32(4))))}
      ${set('h', i32(0))}
      ${whileLoop(`(i32.lt_s ${get('h')} ${get('H')})`, [
        `(f32.store ${get('po')} (f32.add (f32.load ${get('po')}) (f32.load ${get('pw')})))`,
        inc('po', i32(4)), inc('pw', get('stride')), inc('h', i32(1)),
      ])}))`,
    inc('b', i32(1)),
  ])})`;
}

/** dW(H, I)[:, ids[b]] += dout(B, H)[b, :] walking the column (few rows, as above); ids < 0 skipped. */
function scatterColumnsAdd(): string {
  return `
(func (export "scatter_columns_add") ${params(['dW', 'ids', 'dout', 'B', 'H', 'I'])}
  (local $b i32) (local $id i32) (local $h i32) (local $pd i32) (local $pw i32) (local $stride i32)
  ${set('stride', mul32(get('I'), i32(4)))}
  ${whileLoop(`(i32.lt_s ${get('b')} ${get('B')})`, [
    set('id', `(i32.load ${add32(get('ids'), mul32(get('b'), i32(4)))})`),
    `(if (i32.ge_s ${get('id')} ${i32(0)}) (then
      ${set('pd', add32(get('dout'), mul32(mul32(get('b'), get('H')), i32(4))))}
      ${set('pw', add32(get('dW'), mul32(get('id'), i32(4))))}
      ${set('h', i32(0))}
      ${whileLoop(`(i32.lt_s ${get('h')} ${get('H')})`, [
        `(f32.store ${get('pw')} (f32.add (f32.load ${get('pw')}) (f32.load ${get('pd')})))`,
        inc('pd', i32(4)), inc('pw', get('stride')), inc('h', i32(1)),
      ])}))`,
    inc('b', i32(1)),
  ])})`;
}

/**
 * Token inputs as row gathers: out(N, C)[r, :] += WT(I, C)[ids[r], :], WT the input weights
 * transposed once per call (a contiguous row per token instead of a column with stride I).
 * ids are validated (< I) by the caller; ids < 0 (padding) add nothing.
 */
function gatherRowsAdd(): string {
  return `
(func (export "gather_rows_add") ${params(['out', 'ids', 'WT', 'N', 'C'])} ${ROW_LOCALS}
  (local $id i32) (local $src i32)
  ${overRows('out', [
    set('id', `(i32.load ${add32(get('ids'), mul32(get('r'), i32(4)))})`),
    `(if (i32.ge_s ${get('id')} ${i32(0)}) (then
      ${set('src', add32(get('WT'), mul32(mul32(get('id'), get('C')), i32(4))))}
      ${vectorThenScalar(get('C'), (ops) => [
        ops.store(inRow(), ops.add(ops.load(inRow()), ops.load(add32(get('src'), get('i'))))),
      ])}))`,
  ])})`;
}

/**
 * Backward of the token gather on the columns [c0, c0 + w) of dW (H, I) — a band of hidden
 * units: dW[c0 + c, ids[r]] += dout(N, H)[r, c0 + c]. The band (w contiguous rows of dW) is
 * transposed into scratch (I, w) so each token's update is one contiguous row, then back; rows run in order, so
 * every element gets its additions in the order of the column form whatever the bands. Each
 * thread's band has its own scratch: threads updating the same scratch rows side by side, even
 * in different cache lines, measured 4× slower than one thread.
 */
function scatterColumnsBand(): string {
  return `
(func (export "scatter_columns_band") ${params(['dW', 'ids', 'dout', 'N', 'H', 'I', 'c0', 'w', 'scratch'])} ${ROW_LOCALS}
  (local $C i32) (local $band i32) (local $id i32) (local $dst i32) (local $ldw i32)
  ${set('ldw', mul32(get('w'), i32(4)))}
  ${set('band', add32(get('dW'), mul32(mul32(get('c0'), get('I')), i32(4))))}
  (call $transpose ${get('scratch')} ${get('band')} ${get('w')} ${get('I')})
  ${set('C', get('w'))}
  ${overRows('dout', [
    set('id', `(i32.load ${add32(get('ids'), mul32(get('r'), i32(4)))})`),
    `(if (i32.ge_s ${get('id')} ${i32(0)}) (then
      ${set('dst', add32(get('scratch'), mul32(get('id'), get('ldw'))))}
      ${vectorThenScalar(get('C'), (ops) => [
        ops.store(add32(get('dst'), get('i')), ops.add(ops.load(add32(get('dst'), get('i'))), ops.load(add32(add32(get('row'), mul32(get('c0'), i32(4))), get('i'))))),
      ])}))`,
  ], mul32(get('H'), i32(4)))}
  (call $transpose ${get('band')} ${get('scratch')} ${get('I')} ${get('w')}))`;
}

/**
 * probs(N, C) = softmax(logits) row by row; stats(N, 2) = (row max, Σ exp(logit − max)) so the
 * caller forms the loss in log-sum-exp form: log(sum) − (logit[t] − max).
 */
function softmaxRows(): string {
  const lane = (x: string, l: number): string => `(f32x4.extract_lane ${l} ${x})`;
  return `
(func (export "softmax_rows") ${params(['probs', 'stats', 'logits', 'N', 'C'])} ${ROW_LOCALS}
  (local $prow i32) (local $max f32) (local $sum f32) ${floatLocals(['m', 'x', 'n', 'e', 'acc', 'w'])}
  ${set('prow', get('probs'))}
  ${overRows('logits', [
    set('m_v', vectorOps.c(-Infinity)),
    set('m_s', '(f32.const -inf)'),
    vectorThenScalar(get('C'), (ops) => [set(v(ops, 'm'), ops.max(get(v(ops, 'm')), ops.load(inRow())))]),
    set('max', `(f32.max (f32.max (f32.max ${lane(get('m_v'), 0)} ${lane(get('m_v'), 1)}) (f32.max ${lane(get('m_v'), 2)} ${lane(get('m_v'), 3)})) ${get('m_s')})`),
    set('m_v', `(f32x4.splat ${get('max')})`),
    set('m_s', get('max')),
    set('acc_v', vectorOps.c(0)),
    set('acc_s', scalarOps.c(0)),
    vectorThenScalar(get('C'), (ops) => [
      set(v(ops, 'x'), ops.sub(ops.load(inRow()), get(v(ops, 'm')))),
      ...expInto(ops, v(ops, 'e'), v(ops, 'x'), v(ops, 'n'), v(ops, 'w')),
      ops.store(add32(get('prow'), get('i')), get(v(ops, 'e'))),
      set(v(ops, 'acc'), ops.add(get(v(ops, 'acc')), get(v(ops, 'e')))),
    ]),
    set('sum', `(f32.add (f32.add (f32.add ${lane(get('acc_v'), 0)} ${lane(get('acc_v'), 1)}) (f32.add ${lane(get('acc_v'), 2)} ${lane(get('acc_v'), 3)})) ${get('acc_s')})`),
    set('m_s', `(f32.div (f32.const 1) ${get('sum')})`),
    set('m_v', `(f32x4.splat ${get('m_s')})`),
    vectorThenScalar(get('C'), (ops) => [
      ops.store(add32(get('prow'), get('i')), ops.mul(ops.load(add32(get('prow'), get('i'))), get(v(ops, 'm')))),
    ]),
    `(f32.store ${add32(get('stats'), mul32(get('r'), i32(8)))} ${get('max')})`,
    `(f32.store offset=4 ${add32(get('stats'), mul32(get('r'), i32(8)))} ${get('sum')})`,
    inc('prow', mul32(get('C'), i32(4))),
  ])})`;
}

/**
 * dlogits(N, C) += scale · (probs − onehot(target)); rows with target < 0 skipped. scale comes
 * as its f32 bits (scaleBits), so the call fits a helper thread's i32 argument slot.
 */
function softmaxCrossEntropyBackward(): string {
  return `
(func (export "softmax_xent_backward") ${params(['dlogits', 'probs', 'targets', 'N', 'C', 'scaleBits'])} ${ROW_LOCALS}
  (local $prow i32) (local $t i32) (local $scale f32) (local $scale_v v128) (local $scale_s f32)
  ${set('scale', `(f32.reinterpret_i32 ${get('scaleBits')})`)}
  ${set('scale_s', get('scale'))}
  ${set('scale_v', `(f32x4.splat ${get('scale')})`)}
  ${set('prow', get('probs'))}
  ${overRows('dlogits', [
    set('t', `(i32.load ${add32(get('targets'), mul32(get('r'), i32(4)))})`),
    `(if (i32.ge_s ${get('t')} ${i32(0)}) (then
      ${vectorThenScalar(get('C'), (ops) => [
        ops.store(inRow(), ops.add(ops.load(inRow()), ops.mul(get(v(ops, 'scale')), ops.load(add32(get('prow'), get('i')))))),
      ])}
      ${set('i', add32(get('row'), mul32(get('t'), i32(4))))}
      (f32.store ${get('i')} (f32.sub (f32.load ${get('i')}) ${get('scale')}))))`,
    inc('prow', mul32(get('C'), i32(4))),
  ])})`;
}

export function elementwiseFunctions(): string {
  return [
    actTanh(), actRelu(), actTanhBackward(), actReluBackward(), actBackwardAdd('tanh'), actBackwardAdd('relu'),
    countSaturated('tanh'), countSaturated('relu'), adamStep(), addBias(), biasGradAdd(),
    gatherColumnsAdd(), scatterColumnsAdd(), gatherRowsAdd(), scatterColumnsBand(), softmaxRows(), softmaxCrossEntropyBackward(),
  ].join('\n');
}
