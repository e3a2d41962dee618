// `unroll-rnn grad`: one forward + backward of a given batch through given weights, for
// comparing the engine with another implementation (e.g. PyTorch autograd).
//
// Batch JSON: { "inputs": ids[B][T] | vectors[B][T][I],
//               "targets": lm/classification ids[B][T] (−1 = ignored) or [B] (many-to-one, last step)
//                          | regression [B][T][O] or [B][O] (many-to-one),
//               "mask"?: [B][T] of 0/1 (many-to-many),  "h0"?: [B][H] }
// Truncation: the loss covers the newest k1 steps, backprop reaches back k2 steps (both default
// to T); with k2 < T the first T − k2 steps run forward only and the window starts from their
// (detached) hidden state. Output safetensors: loss (scalar), hidden (B, H) after step T,
// grad.<PyTorch name> for every parameter, and grad.h0 (B, H) — ∂L/∂h at the window start,
// which is h0 when k2 = T.

import { readFileSync } from 'node:fs';
import { jsKernels } from '../kernels/js.ts';
import { type Dtype, viewsOf } from '../layout.ts';
import { lossKindOf } from '../loss.ts';
import { RnnModel } from '../model.ts';
import { encodeSafetensors, type Tensor } from '../safetensors.ts';
import type { Task } from '../spec.ts';
import { BpttWorkspace, windowForwardBackward } from '../window.ts';
import { choice, type Flags, num, required, str, UsageError, writeFileAtomic } from './args.ts';

export const GRAD_OPTIONS = {
  weights: { type: 'string' },
  batch: { type: 'string' },
  out: { type: 'string' },
  task: { type: 'string' },
  activation: { type: 'string' },
  'input-kind': { type: 'string' },
  reduction: { type: 'string' },
  bptt: { type: 'string' },
  k1: { type: 'string' },
  k2: { type: 'string' },
  dtype: { type: 'string' },
} as const;

export const GRAD_USAGE = `usage: unroll-rnn grad --weights FILE.safetensors --batch BATCH.json --out GRADS.safetensors
  [--task lm|regression|classification] [--activation tanh|relu] [--input-kind tokens|vectors]
  (needed only when the weights carry no Unroll metadata)
  [--reduction mean|sum (mean)] [--k1 K1] [--k2 K2] | [--bptt full]  [--dtype float64|float32 (float64)]`;

function isArr(v: unknown): v is unknown[] {
  return Array.isArray(v);
}

function numbersAt(v: unknown, field: string, integer: boolean): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v))) {
    throw new UsageError(`batch ${field} must be ${integer ? 'an integer' : 'a finite number'}, got ${JSON.stringify(v)}`);
  }
  return v;
}

export function runGrad(flags: Flags, log: (line: string) => void): void {
  const weightsPath = required(flags, 'weights');
  const batchPath = required(flags, 'batch');
  const outPath = required(flags, 'out');
  const task = choice(flags, 'task', ['lm', 'regression', 'classification'] as const);
  const activation = choice(flags, 'activation', ['tanh', 'relu'] as const);
  const inputKind = choice(flags, 'input-kind', ['tokens', 'vectors'] as const);
  const dtype: Dtype = choice(flags, 'dtype', ['float64', 'float32'] as const) ?? 'float64';
  const reduction = choice(flags, 'reduction', ['mean', 'sum'] as const) ?? 'mean';
  const model = RnnModel.fromSafetensors(readFileSync(weightsPath), {
    dtype,
    ...(task ? { task } : {}),
    ...(activation ? { activation } : {}),
    ...(inputKind ? { inputKind } : {}),
  });
  let batch: Record<string, unknown>;
  try {
    batch = JSON.parse(readFileSync(batchPath, 'utf8'));
  } catch (e) {
    throw new UsageError(`--batch ${batchPath}: ${(e as Error).message}`);
  }
  const { inputSize: I, hiddenSize: H, outputSize: O } = model.spec;
  const inputs = batch.inputs;
  if (!isArr(inputs) || inputs.length === 0 || !isArr(inputs[0])) throw new UsageError('batch inputs must be a non-empty [B][T] array');
  const B = inputs.length;
  const T = (inputs[0] as unknown[]).length;
  if (T === 0) throw new UsageError('batch inputs must have T >= 1 steps');
  const fullBptt = choice(flags, 'bptt', ['full', 'truncated'] as const) === 'full';
  const k2 = fullBptt ? T : (num(flags, 'k2', { integer: true, min: 1, max: T }) ?? T);
  const k1 = fullBptt ? T : (num(flags, 'k1', { integer: true, min: 1, max: k2 }) ?? k2);
  const lossKind = lossKindOf(model.task as Task);
  const ws = new BpttWorkspace(jsKernels, dtype, model.spec, lossKind, k2, B);
  const params = viewsOf(model.params, model.layout);
  const grads = jsKernels.alloc(model.layout.total, dtype);

  const fillInputs = (start: number, K: number) => {
    for (let b = 0; b < B; b++) {
      const row = inputs[b];
      if (!isArr(row) || row.length !== T) throw new UsageError(`batch inputs[${b}] must have ${T} steps`);
      for (let t = 0; t < K; t++) {
        const v = row[start + t];
        if (model.spec.inputKind === 'tokens') {
          const id = numbersAt(v, `inputs[${b}][${start + t}]`, true);
          if (id < 0 || id >= I) throw new UsageError(`batch inputs[${b}][${start + t}] = ${id} is outside the vocabulary [0, ${I})`);
          ws.ids[t * B + b] = id;
        } else {
          if (!isArr(v) || v.length !== I) throw new UsageError(`batch inputs[${b}][${start + t}] must hold I = ${I} numbers`);
          for (let i = 0; i < I; i++) ws.x[(t * B + b) * I + i] = numbersAt(v[i], `inputs[${b}][${start + t}][${i}]`, false);
        }
      }
    }
  };

  // h0
  const h = jsKernels.alloc(B * H, dtype);
  if (batch.h0 !== undefined && batch.h0 !== null) {
    const h0 = batch.h0;
    if (!isArr(h0) || h0.length !== B) throw new UsageError(`batch h0 must be [B = ${B}][H = ${H}]`);
    h0.forEach((row, b) => {
      if (!isArr(row) || row.length !== H) throw new UsageError(`batch h0[${b}] must hold H = ${H} numbers`);
      row.forEach((v, j) => (h[b * H + j] = numbersAt(v, `h0[${b}][${j}]`, false)));
    });
  }
  // forward-only prefix when k2 < T
  ws.targetIds.fill(-1);
  ws.mask.fill(0);
  for (let start = 0; start < T - k2; start += k2) {
    const K = Math.min(k2, T - k2 - start);
    fillInputs(start, K);
    ws.h0(B).set(h);
    windowForwardBackward(ws, params, null, { K, B, lossFrom: K }, { reduction });
    h.set(ws.hiddenAt(K, B));
  }
  // the window [T − k2, T), loss on its newest k1 steps
  const start = T - k2;
  const lossFrom = k2 - k1;
  fillInputs(start, k2);
  const targets = batch.targets;
  if (!isArr(targets) || targets.length !== B) throw new UsageError(`batch targets must have B = ${B} rows`);
  const mask = batch.mask;
  if (mask !== undefined && (!isArr(mask) || mask.length !== B)) throw new UsageError(`batch mask must be [B = ${B}][T = ${T}]`);
  for (let b = 0; b < B; b++) {
    const row = targets[b];
    // many-to-one: one target per row, scored at the last step
    const manyToOne = lossKind === 'cross-entropy' ? !isArr(row) : isArr(row) && !isArr(row[0]);
    if (!manyToOne && (!isArr(row) || row.length !== T)) throw new UsageError(`batch targets[${b}] must have T = ${T} steps (or be a single many-to-one target)`);
    for (let t = lossFrom; t < k2; t++) {
      const step = start + t;
      const r = t * B + b;
      const masked = mask !== undefined && numbersAt((mask as unknown[][])[b]?.[step], `mask[${b}][${step}]`, true) === 0;
      const counts = manyToOne ? step === T - 1 : !masked;
      const target = manyToOne ? row : (row as unknown[])[step];
      if (lossKind === 'cross-entropy') {
        const id = counts ? numbersAt(target, `targets[${b}]${manyToOne ? '' : `[${step}]`}`, true) : -1;
        if (id >= O) throw new UsageError(`batch target ${id} is outside [0, ${O})`);
        ws.targetIds[r] = id < 0 ? -1 : id;
      } else {
        ws.mask[r] = counts ? 1 : 0;
        if (!counts) continue;
        if (!isArr(target) || target.length !== O) throw new UsageError(`batch targets[${b}]${manyToOne ? '' : `[${step}]`} must hold O = ${O} numbers`);
        for (let o = 0; o < O; o++) ws.targetValues[r * O + o] = numbersAt(target[o], `targets[${b}][${o}]`, false);
      }
    }
  }
  ws.h0(B).set(h);
  const res = windowForwardBackward(ws, params, viewsOf(grads, model.layout), { K: k2, B, lossFrom }, { reduction, wantDh0: true });
  const F = dtype === 'float64' ? 'F64' : 'F32';
  const tensors: Record<string, Tensor> = {
    loss: { dtype: F, shape: [], data: dtype === 'float64' ? Float64Array.of(res.loss) : Float32Array.of(res.loss) },
    hidden: { dtype: F, shape: [B, H], data: ws.hiddenAt(k2, B).slice() },
    'grad.h0': { dtype: F, shape: [B, H], data: ws.dh0.slice(0, B * H) },
  };
  for (const v of model.layout.views) {
    tensors[`grad.${v.torchName}`] = { dtype: F, shape: [...v.shape], data: grads.slice(v.offset, v.offset + v.size) };
  }
  writeFileAtomic(outPath, encodeSafetensors(tensors, {
    reduction, k1: String(k1), k2: String(k2), T: String(T), B: String(B), lossCount: String(res.lossCount), task: model.task,
  }));
  log(JSON.stringify({ loss: res.loss, lossCount: res.lossCount, B, T, k1, k2, out: outPath }));
}
