// The whole kernel module as WebAssembly text. Memory is imported and shared: views handed to
// the engine never detach when it grows, and worker threads can later run on the same memory.

import { resetLabels } from './dsl.ts';
import { elementwiseFunctions } from './elementwise.ts';
import { type GemmBlocking, DEFAULT_BLOCKING, gemmFunctions } from './gemm.ts';
import { normFunctions } from './norms.ts';
import { peakFunctions } from './peak.ts';
import { recurrenceFunctions } from './recurrence.ts';

/** Largest memory the module accepts, in 64 KiB pages (1 GiB). */
export const MAX_PAGES = 16384;

export interface KernelVariant {
  blocking: GemmBlocking;
  /** GEMM multiply-adds as relaxed-SIMD fused multiply-add (see relaxed-simd.ts). */
  fma: boolean;
}

export const PLAIN_VARIANT: KernelVariant = { blocking: DEFAULT_BLOCKING, fma: false };

export function kernelModuleText(variant: KernelVariant = PLAIN_VARIANT): string {
  resetLabels();
  const text = `(module
  (import "env" "memory" (memory ${1} ${MAX_PAGES} shared))
${gemmFunctions(variant.blocking, variant.fma)}
${elementwiseFunctions()}
${recurrenceFunctions()}
${normFunctions()}
${peakFunctions(variant.fma)}
)
`;
  // every exported function is also named after its export, so kernels can call one another
  return text.replace(/\(func \(export "([a-z0-9_]+)"\)/g, '(func $$$1 (export "$1")');
}
