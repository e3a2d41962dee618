// Parameter initialisation. Tensors are visited in layout order (Wxh, Whh, bih, bhh, Why, by)
// and each draws its random numbers in row-major order, so the result is a pure function of
// (seed, spec, shapes).
//
// Schemes (fan_in = columns, fan_out = rows of a (rows, cols) weight, like PyTorch):
// - pytorch:    every tensor U(-1/√H, 1/√H). torch.nn.RNN uses that bound for all four of its
//               tensors; nn.Linear(H, O) uses kaiming_uniform(a=√5) = U(-1/√fan_in, 1/√fan_in)
//               with fan_in = H for fc.weight and fc.bias, i.e. the same bound.
// - xavier:     matrices U(-b, b), b = gain·√(6/(fan_in+fan_out)) (gain default 1); biases 0.
// - orthogonal: Whh = gain·Q, Q from the QR of an (H, H) standard-normal matrix with the
//               sign of diag(R) folded into Q (torch.nn.init.orthogonal_); Wxh and Why are
//               Xavier-uniform with gain 1; biases 0.
// - identity:   IRNN (Le, Jaitly & Hinton 2015): Whh = gain·I (gain default 1); Wxh and Why
//               N(0, 0.001²); biases 0.
// - normal:     min-char-rnn: matrices N(0, std²) (std default 0.01); biases 0.

import type { FloatArray, ParamLayout, ParamView } from './layout.ts';
import type { Prng } from './prng.ts';
import type { InitSpec } from './spec.ts';

const IRNN_STD = 0.001;

function fillUniform(out: FloatArray, v: ParamView, bound: number, rng: Prng): void {
  for (let i = 0; i < v.size; i++) out[v.offset + i] = rng.uniform(-bound, bound);
}

function fillNormal(out: FloatArray, v: ParamView, std: number, rng: Prng): void {
  for (let i = 0; i < v.size; i++) out[v.offset + i] = std * rng.normal();
}

function fillZero(out: FloatArray, v: ParamView): void {
  out.fill(0, v.offset, v.offset + v.size);
}

function xavierBound(v: ParamView, gain: number): number {
  const [fanOut, fanIn] = v.shape;
  return gain * Math.sqrt(6 / (fanIn + fanOut));
}

/**
 * Q of the QR decomposition of the (n, n) row-major matrix `a`, with the signs of Q's columns
 * chosen so diag(R) > 0 — what torch.nn.init.orthogonal_ does after its QR. Modified
 * Gram–Schmidt on a's columns yields exactly that Q (R's diagonal is a positive column norm);
 * each column is orthogonalised twice for float64 accuracy. Returns Q row-major.
 */
export function signCorrectedQ(a: Float64Array, n: number): Float64Array {
  if (a.length !== n * n) throw new RangeError(`signCorrectedQ: expected ${n * n} values, got ${a.length}`);
  const q = new Float64Array(n * n); // columns of Q, stored column-major during the sweep
  const col = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    for (let i = 0; i < n; i++) col[i] = a[i * n + j];
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += q[k * n + i] * col[i];
        for (let i = 0; i < n; i++) col[i] -= dot * q[k * n + i];
      }
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += col[i] * col[i];
    norm = Math.sqrt(norm);
    if (!(norm > 1e-12)) throw new Error('signCorrectedQ: matrix is numerically singular');
    for (let i = 0; i < n; i++) q[j * n + i] = col[i] / norm;
  }
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = q[j * n + i];
  return out;
}

/** A random (n, n) orthogonal matrix, row-major: signCorrectedQ of a standard-normal matrix drawn row-major. */
export function randomOrthogonal(n: number, rng: Prng): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < a.length; i++) a[i] = rng.normal();
  return signCorrectedQ(a, n);
}

function positive(value: number, what: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`init.${what} must be a finite number > 0, got ${value}`);
  return value;
}

/** Fills the flat parameter buffer `params` according to `spec`, drawing from `rng`. */
export function initParams(params: FloatArray, layout: ParamLayout, spec: InitSpec, rng: Prng): void {
  if (params.length !== layout.total) {
    throw new RangeError(`initParams: buffer has ${params.length} scalars, layout needs ${layout.total}`);
  }
  const { H } = layout;
  for (const v of layout.views) {
    const isMatrix = v.shape.length === 2;
    switch (spec.scheme) {
      case 'pytorch':
        fillUniform(params, v, 1 / Math.sqrt(H), rng);
        break;
      case 'xavier': {
        const gain = positive(spec.gain ?? 1, 'gain');
        if (isMatrix) fillUniform(params, v, xavierBound(v, gain), rng);
        else fillZero(params, v);
        break;
      }
      case 'orthogonal': {
        const gain = positive(spec.gain ?? 1, 'gain');
        if (v.name === 'Whh') {
          const q = randomOrthogonal(H, rng);
          for (let i = 0; i < q.length; i++) params[v.offset + i] = gain * q[i];
        } else if (isMatrix) fillUniform(params, v, xavierBound(v, 1), rng);
        else fillZero(params, v);
        break;
      }
      case 'identity': {
        const gain = positive(spec.gain ?? 1, 'gain');
        if (v.name === 'Whh') {
          fillZero(params, v);
          for (let i = 0; i < H; i++) params[v.offset + i * H + i] = gain;
        } else if (isMatrix) fillNormal(params, v, IRNN_STD, rng);
        else fillZero(params, v);
        break;
      }
      case 'normal': {
        const std = positive(spec.std ?? 0.01, 'std');
        if (isMatrix) fillNormal(params, v, std, rng);
        else fillZero(params, v);
        break;
      }
      default: {
        const scheme: never = spec;
        throw new RangeError(`unknown init scheme ${JSON.stringify((scheme as { scheme: unknown }).scheme)}`);
      }
    }
  }
}
