// Optimizers with PyTorch's exact update formulas and defaults (torch.optim single-tensor
// code paths, maximize=False). Parameters, gradients and moment buffers share the flat
// layout; arithmetic runs in JS doubles and each result is stored back into the buffer's
// own type (float32 in training, float64 in gradient checks). step() allocates nothing.
//
// Buffer names follow torch's optimizer state keys so diagnostics and checkpoints read
// like a PyTorch state_dict.

import type { AdamStepScalars, Kernels } from './kernels/kernels.ts';
import type { FloatArray, FloatArrayConstructor } from './layout.ts';
import type { OptimizerSpec } from './spec.ts';

type OptimizerName = OptimizerSpec['name'];

/** An optimizer spec with every optional field filled in. */
export type ResolvedOptimizerSpec = { [K in OptimizerName]: Required<Extract<OptimizerSpec, { name: K }>> }[OptimizerName];

/** Like OptimizerSpec, but `lr` may be left out for optimizers where PyTorch has a default. */
export type OptimizerSpecInput = {
  [K in OptimizerName]: Omit<Extract<OptimizerSpec, { name: K }>, 'lr'> & { lr?: number };
}[OptimizerName];

export interface OptimizerBuffer {
  name: string;
  data: FloatArray;
}

export interface OptimizerState {
  stepCount: number;
  buffers: OptimizerBuffer[];
}

export interface Optimizer {
  readonly spec: ResolvedOptimizerSpec;
  readonly stepCount: number;
  /** params -= update(grads); reads grads, never modifies them. `lr` overrides spec.lr (schedules). */
  step(params: FloatArray, grads: FloatArray, lr: number): void;
  /** Moment buffers in the parameter layout (same length as params), named; live views. */
  state(): OptimizerBuffer[];
  /** Everything needed to continue bit-exactly: step count and copies of all buffers. */
  saveState(): OptimizerState;
  loadState(s: OptimizerState): void;
}

export class OptimizerSpecError extends RangeError {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'OptimizerSpecError';
  }
}

/** PyTorch defaults (torch.optim 2.x). SGD has no default learning rate. */
export const DEFAULT_LR: Record<OptimizerName, number | undefined> = {
  sgd: undefined,
  adam: 1e-3,
  adamw: 1e-3,
  adagrad: 1e-2,
  rmsprop: 1e-2,
};

function check(ok: boolean, field: string, message: string): void {
  if (!ok) throw new OptimizerSpecError(field, `optimizer.${field}: ${message}`);
}

function nonNegative(value: number, field: string): void {
  check(Number.isFinite(value) && value >= 0, field, `must be a finite number >= 0, got ${value}`);
}

function beta(value: number, field: string): void {
  check(Number.isFinite(value) && value >= 0 && value < 1, field, `must be in [0, 1), got ${value}`);
}

/** Fills PyTorch's defaults and validates ranges like torch.optim's constructors. */
export function withOptimizerDefaults(spec: OptimizerSpecInput): ResolvedOptimizerSpec {
  if (!Object.hasOwn(DEFAULT_LR, spec.name)) {
    throw new OptimizerSpecError('name', `optimizer.name: unknown optimizer ${JSON.stringify(spec.name)} (known: ${Object.keys(DEFAULT_LR).join(', ')})`);
  }
  const lr = spec.lr ?? DEFAULT_LR[spec.name];
  check(lr !== undefined, 'lr', `is required for ${spec.name}`);
  nonNegative(lr as number, 'lr');
  let out: ResolvedOptimizerSpec;
  switch (spec.name) {
    case 'sgd': {
      out = {
        name: 'sgd',
        lr: lr as number,
        momentum: spec.momentum ?? 0,
        dampening: spec.dampening ?? 0,
        nesterov: spec.nesterov ?? false,
        weightDecay: spec.weightDecay ?? 0,
      };
      nonNegative(out.momentum, 'momentum');
      nonNegative(out.dampening, 'dampening');
      nonNegative(out.weightDecay, 'weightDecay');
      check(!out.nesterov || (out.momentum > 0 && out.dampening === 0), 'nesterov', 'requires momentum > 0 and dampening 0');
      break;
    }
    case 'adam':
    case 'adamw': {
      const adam: Extract<ResolvedOptimizerSpec, { name: 'adam' | 'adamw' }> = {
        name: spec.name,
        lr: lr as number,
        beta1: spec.beta1 ?? 0.9,
        beta2: spec.beta2 ?? 0.999,
        eps: spec.eps ?? 1e-8,
        weightDecay: spec.weightDecay ?? (spec.name === 'adamw' ? 1e-2 : 0),
        amsgrad: spec.amsgrad ?? false,
      };
      beta(adam.beta1, 'beta1');
      beta(adam.beta2, 'beta2');
      nonNegative(adam.eps, 'eps');
      nonNegative(adam.weightDecay, 'weightDecay');
      out = adam;
      break;
    }
    case 'adagrad': {
      out = {
        name: 'adagrad',
        lr: lr as number,
        lrDecay: spec.lrDecay ?? 0,
        weightDecay: spec.weightDecay ?? 0,
        initialAccumulatorValue: spec.initialAccumulatorValue ?? 0,
        eps: spec.eps ?? 1e-10,
      };
      nonNegative(out.lrDecay, 'lrDecay');
      nonNegative(out.weightDecay, 'weightDecay');
      nonNegative(out.initialAccumulatorValue, 'initialAccumulatorValue');
      nonNegative(out.eps, 'eps');
      break;
    }
    case 'rmsprop': {
      out = {
        name: 'rmsprop',
        lr: lr as number,
        alpha: spec.alpha ?? 0.99,
        eps: spec.eps ?? 1e-8,
        weightDecay: spec.weightDecay ?? 0,
        momentum: spec.momentum ?? 0,
        centered: spec.centered ?? false,
      };
      nonNegative(out.alpha, 'alpha');
      nonNegative(out.eps, 'eps');
      nonNegative(out.weightDecay, 'weightDecay');
      nonNegative(out.momentum, 'momentum');
      break;
    }
    default: {
      const name: never = spec;
      throw new OptimizerSpecError('name', `optimizer.name: unknown optimizer ${JSON.stringify((name as { name: unknown }).name)}`);
    }
  }
  return out;
}

/** torch.lerp(start, end, weight) for scalars, with ATen's two-branch formula. */
function lerp(start: number, end: number, weight: number): number {
  return weight < 0.5 ? start + weight * (end - start) : end - (end - start) * (1 - weight);
}

/** One optimizer's update rule; buffers are created once, in layout order. */
interface Rule {
  bufferNames: string[];
  /** Initial value of each buffer (Adagrad's accumulator starts non-zero). */
  initial: number[];
  /** `t` is the 1-based step number of this update. */
  update(p: FloatArray, g: FloatArray, bufs: FloatArray[], lr: number, t: number): void;
}

function sgdRule(s: Extract<ResolvedOptimizerSpec, { name: 'sgd' }>): Rule {
  const { momentum, dampening, nesterov, weightDecay } = s;
  if (momentum === 0) {
    return {
      bufferNames: [],
      initial: [],
      update(p, g, _bufs, lr) {
        for (let i = 0; i < p.length; i++) {
          const d = g[i] + weightDecay * p[i];
          p[i] = p[i] - lr * d;
        }
      },
    };
  }
  return {
    bufferNames: ['momentum_buffer'],
    initial: [0],
    update(p, g, [buf], lr, t) {
      for (let i = 0; i < p.length; i++) {
        let d = weightDecay !== 0 ? g[i] + weightDecay * p[i] : g[i];
        // torch: the buffer is a clone of the first gradient, then buf = momentum·buf + (1 - dampening)·d
        const b = t === 1 ? d : momentum * buf[i] + (1 - dampening) * d;
        buf[i] = b;
        const stored = buf[i]; // use the value as stored (float32 rounding), like torch does
        d = nesterov ? d + momentum * stored : stored;
        p[i] = p[i] - lr * d;
      }
    },
  };
}

function adamRule(s: Extract<ResolvedOptimizerSpec, { name: 'adam' | 'adamw' }>, kernels: Kernels | null): Rule {
  const { beta1, beta2, eps, weightDecay, amsgrad } = s;
  const decoupled = s.name === 'adamw';
  // the backend's fused step, when it has one (amsgrad stays on the reference loop)
  const fused = !amsgrad && kernels?.adamStep !== undefined ? kernels : null;
  const scalars: AdamStepScalars = { stepSize: 0, bc2Sqrt: 0, beta1, beta2, eps, weightDecay, decoupled, lr: 0 };
  return {
    bufferNames: amsgrad ? ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'] : ['exp_avg', 'exp_avg_sq'],
    initial: amsgrad ? [0, 0, 0] : [0, 0],
    update(p, g, bufs, lr, t) {
      const m = bufs[0], v = bufs[1], vmax = bufs[2];
      const stepSize = lr / (1 - beta1 ** t);
      const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
      if (fused !== null) {
        scalars.stepSize = stepSize;
        scalars.bc2Sqrt = bc2Sqrt;
        scalars.lr = lr;
        if (fused.adamStep!(p, g, m, v, p.length, scalars)) return;
      }
      const decay = 1 - lr * weightDecay;
      for (let i = 0; i < p.length; i++) {
        let pi = p[i];
        let gi = g[i];
        if (weightDecay !== 0) {
          if (decoupled) pi = p[i] = pi * decay;
          else gi = gi + weightDecay * pi;
        }
        m[i] = lerp(m[i], gi, 1 - beta1);
        v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
        let second = v[i];
        if (amsgrad) {
          if (second > vmax[i]) vmax[i] = second;
          second = vmax[i];
        }
        const denom = Math.sqrt(second) / bc2Sqrt + eps;
        p[i] = pi - (stepSize * m[i]) / denom;
      }
    },
  };
}

function adagradRule(s: Extract<ResolvedOptimizerSpec, { name: 'adagrad' }>): Rule {
  const { lrDecay, weightDecay, initialAccumulatorValue, eps } = s;
  return {
    bufferNames: ['sum'],
    initial: [initialAccumulatorValue],
    update(p, g, [sum], lr, t) {
      const clr = lr / (1 + (t - 1) * lrDecay);
      for (let i = 0; i < p.length; i++) {
        const gi = weightDecay !== 0 ? g[i] + weightDecay * p[i] : g[i];
        sum[i] = sum[i] + gi * gi;
        const std = Math.sqrt(sum[i]) + eps;
        p[i] = p[i] - (clr * gi) / std;
      }
    },
  };
}

function rmspropRule(s: Extract<ResolvedOptimizerSpec, { name: 'rmsprop' }>): Rule {
  const { alpha, eps, weightDecay, momentum, centered } = s;
  const names = ['square_avg'];
  if (momentum > 0) names.push('momentum_buffer');
  if (centered) names.push('grad_avg');
  const bufIndex = (name: string) => names.indexOf(name);
  const iMom = bufIndex('momentum_buffer');
  const iAvg = bufIndex('grad_avg');
  return {
    bufferNames: names,
    initial: names.map(() => 0),
    update(p, g, bufs, lr) {
      const sq = bufs[0];
      const mom = iMom >= 0 ? bufs[iMom] : sq;
      const gAvg = iAvg >= 0 ? bufs[iAvg] : sq;
      for (let i = 0; i < p.length; i++) {
        const gi = weightDecay !== 0 ? g[i] + weightDecay * p[i] : g[i];
        sq[i] = alpha * sq[i] + (1 - alpha) * gi * gi;
        let avg: number;
        if (centered) {
          gAvg[i] = lerp(gAvg[i], gi, 1 - alpha);
          avg = Math.sqrt(sq[i] - gAvg[i] * gAvg[i]);
        } else {
          avg = Math.sqrt(sq[i]);
        }
        avg += eps;
        if (momentum > 0) {
          mom[i] = momentum * mom[i] + gi / avg;
          p[i] = p[i] - lr * mom[i];
        } else {
          p[i] = p[i] - (lr * gi) / avg;
        }
      }
    },
  };
}

function ruleFor(spec: ResolvedOptimizerSpec, kernels: Kernels | null): Rule {
  switch (spec.name) {
    case 'sgd':
      return sgdRule(spec);
    case 'adam':
    case 'adamw':
      return adamRule(spec, kernels);
    case 'adagrad':
      return adagradRule(spec);
    case 'rmsprop':
      return rmspropRule(spec);
  }
}

/** Names of the moment buffers `spec` keeps (each one float per parameter): for memory estimates. */
export function optimizerBufferNames(spec: OptimizerSpecInput): string[] {
  return [...ruleFor(withOptimizerDefaults(spec), null).bufferNames];
}

/**
 * An optimizer over `size` scalars whose moment buffers are `ctor` arrays. With `kernels` (the
 * trainer passes its backend) the moments are allocated there, next to the parameters, and
 * Adam / AdamW use the backend's fused step when it has one (`Kernels.adamStep`).
 */
export function createOptimizer(
  spec: OptimizerSpecInput, size: number, ctor: FloatArrayConstructor, kernels?: Kernels,
): Optimizer {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`optimizer size must be a non-negative integer, got ${size}`);
  const resolved = withOptimizerDefaults(spec);
  const rule = ruleFor(resolved, kernels ?? null);
  const dtype = ctor === Float64Array ? 'float64' : 'float32';
  const buffers: FloatArray[] = rule.bufferNames.map((_, k) => (kernels ? kernels.alloc(size, dtype) : new ctor(size)).fill(rule.initial[k]));
  let stepCount = 0;

  return {
    spec: resolved,
    get stepCount() {
      return stepCount;
    },
    step(params, grads, lr) {
      if (params.length !== size || grads.length !== size) {
        throw new RangeError(`optimizer expects ${size} scalars, got params ${params.length}, grads ${grads.length}`);
      }
      stepCount++;
      rule.update(params, grads, buffers, lr, stepCount);
    },
    state() {
      return rule.bufferNames.map((name, k) => ({ name, data: buffers[k] }));
    },
    saveState() {
      return { stepCount, buffers: rule.bufferNames.map((name, k) => ({ name, data: buffers[k].slice() })) };
    },
    loadState(s) {
      if (!Number.isSafeInteger(s.stepCount) || s.stepCount < 0) {
        throw new RangeError(`optimizer state: stepCount must be a non-negative integer, got ${s.stepCount}`);
      }
      const names = s.buffers.map((b) => b.name);
      if (names.join(',') !== rule.bufferNames.join(',')) {
        throw new RangeError(
          `optimizer state: ${resolved.name} expects buffers [${rule.bufferNames.join(', ')}], got [${names.join(', ')}]`,
        );
      }
      for (const b of s.buffers) {
        if (b.data.length !== size) throw new RangeError(`optimizer state: buffer ${b.name} has ${b.data.length} scalars, expected ${size}`);
      }
      s.buffers.forEach((b, k) => buffers[k].set(b.data));
      stepCount = s.stepCount;
    },
  };
}
