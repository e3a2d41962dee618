// Finds or builds the kernel binary. Built binaries are cached under
// packages/rnn/node_modules/.cache (never committed), named by the hash of the generated text,
// so the first use on a fresh machine builds it (≈ 0.2 s) and later processes just read it.

import { mkdirSync, readFileSync, readdirSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type KernelSource, assemble, kernelSource } from './build.ts';
import { relaxedSimdAvailable } from './relaxed-simd.ts';
import { DEFAULT_BLOCKING } from './wat/gemm.ts';
import type { KernelVariant } from './wat/module.ts';
import { type WasmModule, wasmApi } from './wasm-api.ts';

const DEFAULT_CACHE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../../node_modules/.cache/unroll-wasm-kernels');

/** UNROLL_WASM_CACHE_DIR overrides the folder (e.g. when node_modules is read-only). */
function cacheDir(): string {
  return process.env.UNROLL_WASM_CACHE_DIR || DEFAULT_CACHE_DIR;
}

function cachePath(source: KernelSource): string {
  return join(cacheDir(), `kernels-${source.hash}.wasm`);
}

function readCached(source: KernelSource): Uint8Array | null {
  try {
    return readFileSync(cachePath(source));
  } catch {
    return null;
  }
}

function writeCached(source: KernelSource, bytes: Uint8Array): string {
  const path = cachePath(source);
  mkdirSync(cacheDir(), { recursive: true });
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, path); // atomic: concurrent builders never see a half-written file
  pruneStale(path);
  return path;
}

const STALE_MS = 7 * 24 * 3600 * 1000;

/** Binaries of older kernel sources pile up during development: drop those unused for a week. */
function pruneStale(keep: string): void {
  try {
    for (const name of readdirSync(cacheDir())) {
      const path = join(cacheDir(), name);
      if (path === keep || !/^kernels-[0-9a-f]+\.wasm$/.test(name)) continue;
      if (Date.now() - statSync(path).atimeMs > STALE_MS) unlinkSync(path);
    }
  } catch {
    // best effort: another process may be pruning too
  }
}

const compiled = new Map<string, WasmModule>();

/** Default blocking, with fused multiply-add where this process supports relaxed SIMD. */
export function defaultVariant(): KernelVariant {
  return { blocking: DEFAULT_BLOCKING, fma: relaxedSimdAvailable() };
}

/** The compiled kernel module, building and caching the binary when it is missing. */
export async function loadKernelModule(variant: KernelVariant = defaultVariant()): Promise<WasmModule> {
  if (variant.fma && !relaxedSimdAvailable()) throw new Error('wasm kernels: relaxed SIMD (fma) is not available here');
  const source = kernelSource(variant);
  const known = compiled.get(source.hash);
  if (known) return known;
  let bytes = readCached(source);
  if (bytes === null) {
    bytes = await assemble(source);
    try {
      writeCached(source, bytes);
    } catch {
      // read-only checkout: keep the in-memory build
    }
  }
  const module = new wasmApi.Module(bytes);
  compiled.set(source.hash, module);
  return module;
}

/** Synchronous variant for callers that cannot await: needs the cached binary (or an earlier async load). */
export function loadKernelModuleSync(variant: KernelVariant = defaultVariant()): WasmModule {
  if (variant.fma && !relaxedSimdAvailable()) throw new Error('wasm kernels: relaxed SIMD (fma) is not available here');
  const source = kernelSource(variant);
  const known = compiled.get(source.hash);
  if (known) return known;
  const bytes = readCached(source);
  if (bytes === null) {
    throw new Error(
      `wasm kernels are not built (${cachePath(source)} missing): await loadKernelModule() once, ` +
        'or run `node --import tsx packages/rnn/src/kernels/wasm/build-cli.ts`',
    );
  }
  const module = new wasmApi.Module(bytes);
  compiled.set(source.hash, module);
  return module;
}

export async function buildCachedKernelBinary(variant: KernelVariant = defaultVariant()): Promise<string> {
  const source = kernelSource(variant);
  return writeCached(source, await assemble(source));
}
