// The float32 engine suites run once per compute backend: the JS reference and the WASM SIMD
// kernels (one instance per test file; vitest isolates files). Within a backend results are
// bitwise reproducible; between backends they agree to float32 tolerance (summation order, FMA).

import type { Dataset } from '../../src/data/dataset.ts';
import { jsKernels } from '../../src/kernels/js.ts';
import type { Kernels } from '../../src/kernels/kernels.ts';
import { createWasmKernels } from '../../src/kernels/wasm/backend.ts';
import type { TrainSpec } from '../../src/spec.ts';
import { type RestoreOptions, Trainer, type TrainerOptions } from '../../src/trainer.ts';

export interface TestBackend {
  name: 'js' | 'wasm';
  kernels: Kernels;
  create(spec: TrainSpec, data: Dataset, options?: TrainerOptions): Trainer;
  restore(bytes: Uint8Array, data: Dataset, options?: RestoreOptions): Trainer;
}

function backend(name: TestBackend['name'], kernels: Kernels): TestBackend {
  return {
    name,
    kernels,
    create: (spec, data, options = {}) => Trainer.create(spec, data, { kernels, ...options }),
    restore: (bytes, data, options = {}) => Trainer.restore(bytes, data, { kernels, ...options }),
  };
}

export const jsBackend = backend('js', jsKernels);
export const wasmBackend = backend('wasm', await createWasmKernels());
export const BACKENDS: readonly TestBackend[] = [jsBackend, wasmBackend];

/** Largest |a[i] − b[i]|. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}
