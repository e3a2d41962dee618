// Finite-difference gradient checks (float64, central differences) of every parameter and of
// ∂L/∂h0, across losses, nonlinearities, input kinds, reductions and window shapes.

import { describe, expect, it } from 'vitest';
import { makeWindowCase, referenceWindowLoss, type CaseOptions } from './helpers/reference.ts';
import { engineGrads, engineLoss, loadCase } from './helpers/window-case.ts';

const EPS = 1e-6;
const TOL = 1e-6;

/**
 * |a − n| / max(|a| + |n|, 1e-3·max(1, |L|)): relative where gradients are sizeable. The floor
 * scales with the loss because central differences lose ~|L|·1e-16/EPS to rounding (a summed
 * loss of ~300 leaves ~3e-8 of noise in every numeric derivative).
 */
function relErr(a: number, n: number, loss: number): number {
  return Math.abs(a - n) / Math.max(Math.abs(a) + Math.abs(n), 1e-3 * Math.max(1, Math.abs(loss)));
}

function check(o: CaseOptions): void {
  const c = makeWindowCase(o);
  const ws = loadCase(c);
  const { loss, grads, dh0 } = engineGrads(ws, c);
  // the engine's forward agrees with a naive one-hot reference
  expect(Math.abs(loss - referenceWindowLoss(c).loss)).toBeLessThan(1e-12 * Math.max(1, Math.abs(loss)));
  let worst = 0;
  let worstAt = '';
  let nonZero = 0;
  const p = c.params;
  for (const v of c.layout.views) {
    for (let i = 0; i < v.size; i++) {
      const at = v.offset + i;
      const saved = p[at];
      p[at] = saved + EPS;
      const lp = engineLoss(ws, c, p, c.h0);
      p[at] = saved - EPS;
      const lm = engineLoss(ws, c, p, c.h0);
      p[at] = saved;
      const numeric = (lp - lm) / (2 * EPS);
      const e = relErr(grads[at], numeric, loss);
      if (Math.abs(numeric) > 1e-6) nonZero++;
      if (e > worst) [worst, worstAt] = [e, `${v.torchName}[${i}] analytic ${grads[at]} numeric ${numeric}`];
    }
  }
  const h0 = c.h0;
  for (let i = 0; i < h0.length; i++) {
    const saved = h0[i];
    h0[i] = saved + EPS;
    const lp = engineLoss(ws, c, p, h0);
    h0[i] = saved - EPS;
    const lm = engineLoss(ws, c, p, h0);
    h0[i] = saved;
    const e = relErr(dh0[i], (lp - lm) / (2 * EPS), loss);
    if (e > worst) [worst, worstAt] = [e, `h0[${i}] analytic ${dh0[i]}`];
  }
  expect(worst, worstAt).toBeLessThan(TOL);
  expect(nonZero).toBeGreaterThan(c.layout.total / 3); // the check must exercise real gradients
}

const base = { B: 3, K: 6, lossFrom: 0, seed: 1 } as const;

describe('gradient check (float64 central differences, every parameter and h0)', () => {
  for (const activation of ['tanh', 'relu'] as const) {
    for (const inputKind of ['tokens', 'vectors'] as const) {
      for (const reduction of ['mean', 'sum'] as const) {
        const tag = `${activation} ${inputKind} ${reduction}`;
        it(`LM cross-entropy, full BPTT window — ${tag}`, () =>
          check({ ...base, activation, inputKind, reduction, lossKind: 'cross-entropy' }));
        it(`LM cross-entropy, TBPTT k1 < k2 (loss on newest 2 of 6) — ${tag}`, () =>
          check({ ...base, activation, inputKind, reduction, lossKind: 'cross-entropy', lossFrom: 4, seed: 2 }));
        it(`regression many-to-many with mask — ${tag}`, () =>
          check({ ...base, activation, inputKind, reduction, lossKind: 'squared-error', maskRate: 0.3, seed: 3 }));
        it(`regression many-to-one — ${tag}`, () =>
          check({ ...base, activation, inputKind, reduction, lossKind: 'squared-error', manyToOne: true, seed: 4 }));
        it(`classification many-to-one — ${tag}`, () =>
          check({ ...base, activation, inputKind, reduction, lossKind: 'cross-entropy', manyToOne: true, seed: 5 }));
        it(`classification many-to-many with ignored steps — ${tag}`, () =>
          check({ ...base, activation, inputKind, reduction, lossKind: 'cross-entropy', maskRate: 0.3, seed: 6 }));
      }
    }
  }
  it('B = 1, single step window', () =>
    check({ activation: 'tanh', inputKind: 'tokens', reduction: 'mean', lossKind: 'cross-entropy', B: 1, K: 1, lossFrom: 0, seed: 7 }));
  it('TBPTT k1 = k2 window with a long horizon (K = 12)', () =>
    check({ activation: 'tanh', inputKind: 'vectors', reduction: 'sum', lossKind: 'squared-error', B: 2, K: 12, lossFrom: 0, seed: 8 }));
  it('k1 = 1 < k2 = 8: only the newest step carries loss', () =>
    check({ activation: 'relu', inputKind: 'tokens', reduction: 'mean', lossKind: 'cross-entropy', B: 2, K: 8, lossFrom: 7, seed: 9 }));
});
