import { describe, expect, it } from 'vitest';
import { createOptimizer, withOptimizerDefaults, type Optimizer } from '../src/optim.ts';
import { torchReference } from './reference/torch-reference.ts';

const ref = torchReference;

function runSteps(opt: Optimizer, params: Float32Array | Float64Array, baseLr: number, from: number, to: number): number[][] {
  const traj: number[][] = [];
  for (let t = from; t < to; t++) {
    const grads = params instanceof Float64Array ? Float64Array.from(ref.grads[t]) : Float32Array.from(ref.grads[t]);
    const before = grads.slice();
    opt.step(params, grads, t < ref.lrHalvedFromStep ? baseLr : baseLr * 0.5);
    expect(grads).toEqual(before); // step() never modifies the gradients
    traj.push(Array.from(params));
  }
  return traj;
}

describe.each(ref.optimizers)('$spec.name $spec against torch ' + ref.torchVersion, (c) => {
  it('float64: every step matches PyTorch to 1e-12, and the moment buffers too', () => {
    const opt = createOptimizer(c.spec, ref.P0.length, Float64Array);
    expect(opt.spec.lr).toBe(c.float64.baseLr);
    const p = Float64Array.from(ref.P0);
    const traj = runSteps(opt, p, opt.spec.lr, 0, ref.grads.length);
    traj.forEach((row, t) => row.forEach((v, i) => expect(v).toBeCloseTo(c.float64.params[t][i], 12)));
    expect(opt.stepCount).toBe(ref.grads.length);
    const bufs = Object.fromEntries(opt.state().map((b) => [b.name, Array.from(b.data)]));
    expect(Object.keys(bufs).sort()).toEqual(Object.keys(c.float64.state).sort());
    for (const [name, want] of Object.entries(c.float64.state)) {
      want.forEach((v, i) => expect(bufs[name][i]).toBeCloseTo(v, 12));
    }
  });

  it('float32: matches PyTorch float32 to ~1e-6 relative', () => {
    const opt = createOptimizer(c.spec, ref.P0.length, Float32Array);
    const p = Float32Array.from(ref.P0);
    const traj = runSteps(opt, p, opt.spec.lr, 0, ref.grads.length);
    traj.forEach((row, t) =>
      row.forEach((v, i) => {
        const want = c.float32.params[t][i];
        expect(Math.abs(v - want)).toBeLessThanOrEqual(2e-6 * Math.max(1, Math.abs(want)));
      }),
    );
    for (const b of opt.state()) expect(b.data).toBeInstanceOf(Float32Array);
  });

  it('saveState / loadState mid-run continues bit-exactly', () => {
    const full = createOptimizer(c.spec, ref.P0.length, Float32Array);
    const pFull = Float32Array.from(ref.P0);
    runSteps(full, pFull, full.spec.lr, 0, ref.grads.length);

    const first = createOptimizer(c.spec, ref.P0.length, Float32Array);
    const p = Float32Array.from(ref.P0);
    runSteps(first, p, first.spec.lr, 0, 2);
    const saved = first.saveState();
    runSteps(first, p.slice(), first.spec.lr, 2, 3); // later steps must not leak into `saved`

    const resumed = createOptimizer(c.spec, ref.P0.length, Float32Array);
    resumed.loadState(saved);
    expect(resumed.stepCount).toBe(2);
    runSteps(resumed, p, resumed.spec.lr, 2, ref.grads.length);
    expect(Array.from(p)).toEqual(Array.from(pFull));
    expect(resumed.saveState()).toEqual(full.saveState());
  });
});

describe('hand-computed steps', () => {
  it('SGD with momentum: first buffer is the gradient, then momentum·buf + (1 − dampening)·g', () => {
    const opt = createOptimizer({ name: 'sgd', lr: 0.5, momentum: 0.9, dampening: 0.5 }, 1, Float64Array);
    const p = Float64Array.of(1);
    opt.step(p, Float64Array.of(2), 0.5); // buf = 2, p = 1 - 0.5·2 = 0
    expect(p[0]).toBe(0);
    opt.step(p, Float64Array.of(2), 0.5); // buf = 0.9·2 + 0.5·2 = 2.8, p = -1.4
    expect(p[0]).toBeCloseTo(-1.4, 15);
  });

  it('Adam first step moves each parameter by about lr·sign(g)', () => {
    const opt = createOptimizer({ name: 'adam', lr: 0.1 }, 2, Float64Array);
    const p = Float64Array.of(0, 0);
    opt.step(p, Float64Array.of(3, -0.001), 0.1);
    // m̂ = g, v̂ = g², update = lr·g/(|g| + eps)
    expect(p[0]).toBeCloseTo(-0.1 * 3 / (3 + 1e-8), 15);
    expect(p[1]).toBeCloseTo(0.1 * 0.001 / (0.001 + 1e-8), 15);
  });

  it('AdamW decays the weights before the Adam step: p·(1 − lr·wd)', () => {
    const opt = createOptimizer({ name: 'adamw', lr: 0.1, weightDecay: 0.5 }, 1, Float64Array);
    const p = Float64Array.of(2);
    opt.step(p, Float64Array.of(0), 0.1); // zero gradient: only the decay acts
    expect(p[0]).toBeCloseTo(2 * (1 - 0.05), 15);
  });

  it('Adagrad: sum starts at initialAccumulatorValue, lr decays as lr/(1 + (t−1)·lrDecay)', () => {
    const opt = createOptimizer({ name: 'adagrad', lr: 1, lrDecay: 1, initialAccumulatorValue: 5, eps: 0 }, 1, Float64Array);
    expect(Array.from(opt.state()[0].data)).toEqual([5]);
    const p = Float64Array.of(0);
    opt.step(p, Float64Array.of(2), 1); // sum 9, p = -2/3
    expect(p[0]).toBeCloseTo(-2 / 3, 15);
    opt.step(p, Float64Array.of(4), 1); // sum 25, clr 1/2, p -= 0.5·4/5
    expect(p[0]).toBeCloseTo(-2 / 3 - 0.4, 15);
  });

  it('RMSprop: square_avg = α·s + (1 − α)·g², p -= lr·g/(√s + eps)', () => {
    const opt = createOptimizer({ name: 'rmsprop', lr: 0.1, alpha: 0.75, eps: 0 }, 1, Float64Array);
    const p = Float64Array.of(0);
    opt.step(p, Float64Array.of(2), 0.1); // s = 0.25·4 = 1, p = -0.2
    expect(p[0]).toBeCloseTo(-0.2, 15);
  });

  it('uses the lr passed to step(), not spec.lr', () => {
    const opt = createOptimizer({ name: 'sgd', lr: 1 }, 1, Float64Array);
    const p = Float64Array.of(0);
    opt.step(p, Float64Array.of(1), 0.25);
    expect(p[0]).toBe(-0.25);
  });
});

describe('defaults and validation', () => {
  it('fills PyTorch defaults', () => {
    expect(withOptimizerDefaults({ name: 'sgd', lr: 0.1 })).toEqual({ name: 'sgd', lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 });
    expect(withOptimizerDefaults({ name: 'adam' })).toEqual({ name: 'adam', lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: false });
    expect(withOptimizerDefaults({ name: 'adamw' })).toMatchObject({ lr: 1e-3, weightDecay: 1e-2 });
    expect(withOptimizerDefaults({ name: 'adagrad' })).toEqual({ name: 'adagrad', lr: 1e-2, lrDecay: 0, weightDecay: 0, initialAccumulatorValue: 0, eps: 1e-10 });
    expect(withOptimizerDefaults({ name: 'rmsprop' })).toEqual({ name: 'rmsprop', lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false });
  });

  it('rejects invalid settings with the field named', () => {
    expect(() => withOptimizerDefaults({ name: 'sgd' })).toThrow(/optimizer\.lr: is required/);
    expect(() => withOptimizerDefaults({ name: 'sgd', lr: 0.1, nesterov: true })).toThrow(/nesterov/);
    expect(() => withOptimizerDefaults({ name: 'sgd', lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })).toThrow(/nesterov/);
    expect(() => withOptimizerDefaults({ name: 'adam', beta1: 1 })).toThrow(/beta1/);
    expect(() => withOptimizerDefaults({ name: 'adam', lr: -1 })).toThrow(/lr/);
    expect(() => withOptimizerDefaults({ name: 'rmsprop', eps: Number.NaN })).toThrow(/eps/);
    expect(() => withOptimizerDefaults({ name: 'nope' } as never)).toThrow(/unknown optimizer/);
  });

  it('checks sizes and state shapes', () => {
    const opt = createOptimizer({ name: 'adam' }, 3, Float32Array);
    expect(() => opt.step(new Float32Array(2), new Float32Array(3), 0.1)).toThrow(/3 scalars/);
    expect(() => opt.loadState({ stepCount: 1, buffers: [{ name: 'exp_avg', data: new Float32Array(3) }] })).toThrow(/exp_avg, exp_avg_sq/);
    expect(() =>
      opt.loadState({ stepCount: 1, buffers: [{ name: 'exp_avg', data: new Float32Array(3) }, { name: 'exp_avg_sq', data: new Float32Array(2) }] }),
    ).toThrow(/exp_avg_sq has 2/);
    expect(() => opt.loadState({ stepCount: -1, buffers: [] })).toThrow(/stepCount/);
  });

  it('SGD without momentum has no buffers', () => {
    expect(createOptimizer({ name: 'sgd', lr: 0.1 }, 4, Float64Array).state()).toEqual([]);
  });
});
