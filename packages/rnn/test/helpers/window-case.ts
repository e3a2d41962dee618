// Runs a WindowCase through the real engine (jsKernels, float64 workspace).

import { jsKernels } from '../../src/kernels/js.ts';
import { viewsOf } from '../../src/layout.ts';
import { BpttWorkspace, windowForwardBackward } from '../../src/window.ts';
import type { WindowCase } from './reference.ts';

export function loadCase(c: WindowCase): BpttWorkspace {
  const ws = new BpttWorkspace(jsKernels, 'float64', c.model, c.lossKind, c.K, c.B);
  if (c.model.inputKind === 'tokens') ws.ids.set(c.ids);
  else ws.x.set(c.x);
  if (c.lossKind === 'cross-entropy') ws.targetIds.set(c.targetIds);
  else {
    ws.targetValues.set(c.targetValues);
    ws.mask.set(c.mask);
  }
  return ws;
}

export function engineLoss(ws: BpttWorkspace, c: WindowCase, params: Float64Array, h0: Float64Array): number {
  ws.h0(c.B).set(h0);
  return windowForwardBackward(ws, viewsOf(params, c.layout), null, c, { reduction: c.reduction }).loss;
}

/** Analytic gradients: (dParams in the flat layout, ∂L/∂h0). */
export function engineGrads(ws: BpttWorkspace, c: WindowCase): { loss: number; grads: Float64Array; dh0: Float64Array } {
  const grads = new Float64Array(c.layout.total);
  ws.h0(c.B).set(c.h0);
  const r = windowForwardBackward(ws, viewsOf(c.params, c.layout), viewsOf(grads, c.layout), c, {
    reduction: c.reduction,
    wantDh0: true,
  });
  return { loss: r.loss, grads, dh0: Float64Array.from(ws.dh0.subarray(0, c.B * c.model.hiddenSize)) };
}
