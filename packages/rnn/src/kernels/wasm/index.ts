// WebAssembly SIMD kernel backend: public entry points.
export { createWasmKernels, createWasmKernelsSync, type WasmKernels, type WasmKernelsOptions } from './backend.ts';
export { buildCachedKernelBinary, defaultVariant, loadKernelModule, loadKernelModuleSync } from './load.ts';
export { relaxedSimdAvailable } from './relaxed-simd.ts';
export { WasmArena } from './arena.ts';
export { BandThreads, type BandKind, type BandTiming, type GemmKind, type BandThreadsOptions } from './band-threads.ts';
export type { KernelExports } from './exports.ts';
