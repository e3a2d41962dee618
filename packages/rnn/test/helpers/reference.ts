// Naive reference implementations (plain loops, one-hot products, no kernels) used to check
// the engine's forward pass and to build gradient-check cases.

import type { Activation, InputKind, ModelSpec, Reduction } from '../../src/spec.ts';
import type { LossKind } from '../../src/loss.ts';
import { paramLayout, viewsOf, type ParamLayout } from '../../src/layout.ts';
import { Prng } from '../../src/prng.ts';

export interface WindowCase {
  model: ModelSpec;
  lossKind: LossKind;
  reduction: Reduction;
  K: number;
  B: number;
  lossFrom: number;
  ids: Int32Array; // (K, B) when tokens
  x: Float64Array; // (K, B, I) when vectors
  targetIds: Int32Array; // (K, B)
  targetValues: Float64Array; // (K, B, O)
  mask: Uint8Array; // (K, B)
  h0: Float64Array; // (B, H)
  layout: ParamLayout;
  params: Float64Array;
}

/** Loss of a window and every pre-activation, computed with one-hot dense products. */
export function referenceWindowLoss(c: WindowCase, params = c.params, h0 = c.h0): { loss: number; pre: number[] } {
  const { inputSize: I, hiddenSize: H, outputSize: O, activation } = c.model;
  const p = viewsOf(params, c.layout);
  const act = (v: number) => (activation === 'tanh' ? Math.tanh(v) : Math.max(0, v));
  let h = Array.from({ length: c.B }, (_, b) => Array.from(h0.subarray(b * H, (b + 1) * H)));
  let sum = 0;
  let count = 0;
  const pre: number[] = [];
  for (let t = 0; t < c.K; t++) {
    const next: number[][] = [];
    for (let b = 0; b < c.B; b++) {
      const xin = new Array<number>(I).fill(0);
      if (c.model.inputKind === 'tokens') {
        const id = c.ids[t * c.B + b];
        if (id >= 0) xin[id] = 1; // one-hot on purpose: the reference must not share the gather trick
      } else {
        for (let i = 0; i < I; i++) xin[i] = c.x[(t * c.B + b) * I + i];
      }
      const hb: number[] = [];
      for (let j = 0; j < H; j++) {
        let a = p.bih[j] + p.bhh[j];
        for (let i = 0; i < I; i++) a += p.Wxh[j * I + i] * xin[i];
        for (let i = 0; i < H; i++) a += p.Whh[j * H + i] * h[b][i];
        pre.push(a);
        hb.push(act(a));
      }
      next.push(hb);
    }
    h = next;
    if (t < c.lossFrom) continue;
    for (let b = 0; b < c.B; b++) {
      const y: number[] = [];
      for (let o = 0; o < O; o++) {
        let a = p.by[o];
        for (let j = 0; j < H; j++) a += p.Why[o * H + j] * h[b][j];
        y.push(a);
      }
      const r = t * c.B + b;
      if (c.lossKind === 'cross-entropy') {
        const target = c.targetIds[r];
        if (target < 0) continue;
        const m = Math.max(...y);
        const lse = m + Math.log(y.reduce((s, v) => s + Math.exp(v - m), 0));
        sum += lse - y[target];
        count += 1;
      } else {
        if (c.mask[r] === 0) continue;
        for (let o = 0; o < O; o++) {
          const d = y[o] - c.targetValues[r * O + o];
          sum += d * d;
        }
        count += O;
      }
    }
  }
  const loss = c.reduction === 'mean' ? (count === 0 ? 0 : sum / count) : sum;
  return { loss, pre };
}

export interface CaseOptions {
  inputKind: InputKind;
  activation: Activation;
  lossKind: LossKind;
  reduction: Reduction;
  K: number;
  B: number;
  lossFrom: number;
  I?: number;
  H?: number;
  O?: number;
  /** Fraction of (t, b) loss positions masked out / ignored. */
  maskRate?: number;
  /** Only the last step of each stream carries a target (many-to-one). */
  manyToOne?: boolean;
  seed: number;
}

export function makeWindowCase(o: CaseOptions): WindowCase {
  const rng = new Prng(o.seed);
  const I = o.I ?? 5;
  const H = o.H ?? 4;
  const O = o.O ?? (o.lossKind === 'cross-entropy' ? 4 : 3);
  const model: ModelSpec = { inputKind: o.inputKind, inputSize: I, hiddenSize: H, outputSize: O, activation: o.activation };
  const layout = paramLayout(I, H, O);
  const KB = o.K * o.B;
  const c: WindowCase = {
    model, lossKind: o.lossKind, reduction: o.reduction, K: o.K, B: o.B, lossFrom: o.lossFrom, layout,
    ids: new Int32Array(KB), x: new Float64Array(KB * I), targetIds: new Int32Array(KB),
    targetValues: new Float64Array(KB * O), mask: new Uint8Array(KB), h0: new Float64Array(o.B * H),
    params: new Float64Array(layout.total),
  };
  for (let r = 0; r < KB; r++) {
    c.ids[r] = rng.nextUint32() % I;
    c.targetIds[r] = rng.nextUint32() % O;
    c.mask[r] = 1;
    const t = Math.floor(r / o.B);
    const masked = (o.maskRate ?? 0) > 0 && rng.nextFloat() < (o.maskRate ?? 0);
    const notLast = o.manyToOne === true && t !== o.K - 1;
    if (masked || notLast) {
      c.targetIds[r] = -1;
      c.mask[r] = 0;
    }
  }
  for (let i = 0; i < c.x.length; i++) c.x[i] = rng.normal();
  for (let i = 0; i < c.targetValues.length; i++) c.targetValues[i] = rng.normal();
  for (let i = 0; i < c.h0.length; i++) c.h0[i] = o.activation === 'relu' ? Math.abs(rng.normal()) * 0.5 : rng.normal() * 0.5;
  // relu: resample until no pre-activation sits near the kink, where finite differences lie
  for (let attempt = 0; ; attempt++) {
    for (let i = 0; i < c.params.length; i++) c.params[i] = rng.normal() * 0.5;
    if (o.activation === 'relu') {
      const p = viewsOf(c.params, layout);
      for (let j = 0; j < H; j++) p.bih[j] = Math.abs(p.bih[j]) + 0.3; // mostly-alive units
    }
    if (o.activation === 'tanh') break;
    const { pre } = referenceWindowLoss(c);
    if (pre.every((v) => Math.abs(v) > 1e-3)) break;
    if (attempt > 200) throw new Error('could not place relu pre-activations away from 0');
  }
  return c;
}
