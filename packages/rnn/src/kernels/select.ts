// The one place that decides which compute backend trains: the WASM SIMD kernels by default,
// the JS reference when asked for (or when this runtime cannot run them, with the reason told).
// Used by the worker's training thread, the CLI `train` and the engine benchmark.

import { availableParallelism } from 'node:os';
import { jsKernels } from './js.ts';
import type { Kernels } from './kernels.ts';
import { createWasmKernels, type WasmKernelsOptions } from './wasm/backend.ts';
import { relaxedSimdAvailable } from './wasm/relaxed-simd.ts';

/** What a caller may ask for: a family, or an exact kernels id recorded in a checkpoint. */
export type BackendRequest = 'wasm' | 'js' | 'wasm-simd' | 'wasm-simd-fma';

export const BACKEND_REQUESTS: readonly BackendRequest[] = ['wasm', 'js', 'wasm-simd', 'wasm-simd-fma'];

/** Hidden sizes from which `threads: 'auto'` splits the big products over two threads when the batch and window are not known. */
export const TWO_THREAD_MIN_HIDDEN = 256;

/**
 * Multiply-adds ×2 of one window's recurrence (2·K·B·H², forward) from which `threads: 'auto'`
 * uses two threads, given at least 8 streams and TWO_THREAD_MIN_ROWS window rows to split.
 * Measured (tokens/s, one thread → two, engine.ts, 2026-11-26, with the window's elementwise
 * passes split too): at 2²² (B, H, K) = (8, 64, 64) +15 %, (16, 64, 32) +21 %, (32, 32, 64)
 * +41 %; above, (8, 128, 32) +24 %, (16, 128, 16) +30 %, (8, 256, 16) +35 %, (32, 128, 64) +71 %;
 * at 2²¹ mixed, (8, 64, 32) −7 % to (64, 16, 64) +28 %. At (1, 100, 25) there is nothing to split.
 */
export const TWO_THREAD_MIN_WINDOW_FLOPS = 2 ** 22;

/**
 * Window rows (K·B) below which `threads: 'auto'` stays on one thread: (8, 128, 16), 128 rows at
 * 2²² flops, measured 1–8 % slower on two (each thread's step product is 4 rows).
 */
export const TWO_THREAD_MIN_ROWS = 256;

export interface DefaultKernelsOptions {
  /**
   * 'wasm' (default; `UNROLL_BACKEND=js|wasm` overrides the default), 'js', or an exact id
   * ('wasm-simd' = mul + add, 'wasm-simd-fma' = fused multiply-add) to reproduce a checkpoint's
   * arithmetic bit for bit.
   */
  backend?: BackendRequest;
  /** The model's hidden size (used by `threads: 'auto'`). */
  hidden?: number;
  /** Streams per batch and window length (BPTT k2), when known (used by `threads: 'auto'`). */
  batch?: number;
  window?: number;
  /**
   * Threads for the large products and the window recurrence, the caller included, at most
   * `cores` (default 'auto': 2 when the window is worth splitting — at least 8 streams,
   * TWO_THREAD_MIN_ROWS rows and 2·K·B·H² ≥ TWO_THREAD_MIN_WINDOW_FLOPS; without batch and
   * window, from hidden ≥ TWO_THREAD_MIN_HIDDEN — else 1). The thread count never changes a bit of the result.
   */
  threads?: number | 'auto';
  /**
   * Cores this training may use (default: os.availableParallelism()). A worker running several
   * jobs at once gives each its share, so their threads do not compete.
   */
  cores?: number;
  /** Told why the WASM backend is not used when it was asked for (default: a console warning). */
  onFallback?: (reason: string) => void;
}

export function isBackendRequest(value: unknown): value is BackendRequest {
  return typeof value === 'string' && (BACKEND_REQUESTS as readonly string[]).includes(value);
}

function defaultRequest(): BackendRequest {
  const env = process.env.UNROLL_BACKEND;
  if (env === undefined || env === '') return 'wasm';
  if (env !== 'wasm' && env !== 'js') throw new RangeError(`UNROLL_BACKEND must be 'wasm' or 'js', got '${env}'`);
  return env;
}

/** Why this runtime cannot run the WASM backend at all, or null when it can. */
function wasmUnavailableReason(): string | null {
  const g = globalThis as { WebAssembly?: unknown; SharedArrayBuffer?: unknown };
  if (typeof g.WebAssembly !== 'object') return 'WebAssembly is not available in this runtime';
  if (typeof g.SharedArrayBuffer !== 'function') return 'SharedArrayBuffer (WebAssembly threads) is not available in this runtime';
  return null;
}

/**
 * The kernels a training run should use. Every call to the WASM backend makes a fresh instance
 * (own memory, own helper threads): use one per trainer / thread, `trainer.dispose()` when done
 * and `await kernels.close?.()` to stop its helper threads. Falls back to the JS reference (and
 * says why through onFallback) when WebAssembly SIMD cannot run here.
 */
export async function createDefaultKernels(opts: DefaultKernelsOptions = {}): Promise<Kernels> {
  const request = opts.backend ?? defaultRequest();
  if (!isBackendRequest(request)) throw new RangeError(`backend must be one of ${BACKEND_REQUESTS.join(', ')}, got '${request}'`);
  if (request === 'js') return jsKernels;
  const fallback = opts.onFallback ?? ((reason: string) => console.warn(`@unroll/rnn: using the JS kernels: ${reason}`));
  const unavailable = wasmUnavailableReason();
  if (unavailable !== null) {
    fallback(unavailable);
    return jsKernels;
  }
  const wasmOpts: WasmKernelsOptions = { threads: threadsFor(opts) };
  if (request === 'wasm-simd') wasmOpts.fma = false;
  if (request === 'wasm-simd-fma') {
    if (relaxedSimdAvailable()) wasmOpts.fma = true;
    else fallback('relaxed SIMD (fma) is not available here: continuing on wasm-simd (not bitwise equal to wasm-simd-fma)');
  }
  try {
    return await createWasmKernels(wasmOpts);
  } catch (err) {
    fallback(`the WASM SIMD kernels could not start: ${(err as Error).message}`);
    return jsKernels;
  }
}

export function threadsFor(opts: Pick<DefaultKernelsOptions, 'hidden' | 'batch' | 'window' | 'threads' | 'cores'>): number {
  const cores = Math.max(1, Math.floor(opts.cores ?? availableParallelism()));
  const threads = opts.threads ?? 'auto';
  if (threads === 'auto') return autoWorthSplitting(opts) ? Math.min(2, cores) : 1;
  if (!Number.isSafeInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer or 'auto', got ${threads}`);
  return Math.min(threads, cores);
}

function autoWorthSplitting({ hidden: H, batch: B, window: K }: Pick<DefaultKernelsOptions, 'hidden' | 'batch' | 'window'>): boolean {
  if (H === undefined) return false;
  if (B === undefined || K === undefined) return H >= TWO_THREAD_MIN_HIDDEN;
  return B >= 8 && K * B >= TWO_THREAD_MIN_ROWS && 2 * K * B * H * H >= TWO_THREAD_MIN_WINDOW_FLOPS;
}
