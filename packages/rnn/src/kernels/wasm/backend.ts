// `Kernels` on WebAssembly SIMD (float32). Buffers from `alloc(n, 'float32')` live in the
// module's shared memory, so every call passes byte offsets and copies nothing. Float32 arrays
// from elsewhere still work (copied in and out through temporary blocks: correct, not fast);
// float64 calls (gradient checks) run on the JS reference backend. One backend serves one
// calling thread at a time (its scratch buffers and helper threads are not re-entrant).

import type { Activation } from '../../spec.ts';
import type { Dtype, FloatArray } from '../../layout.ts';
import { jsKernels } from '../js.ts';
import type { AdamStepScalars, Kernels } from '../kernels.ts';
import { ScratchBlock, WasmArena } from './arena.ts';
import { type KernelExports, instantiateKernels } from './exports.ts';
import { type BandKind, type BandTiming, type GemmKind, BandThreads } from './band-threads.ts';
import { defaultVariant, loadKernelModule, loadKernelModuleSync } from './load.ts';
import { PACK_MIN_COLS, PACK_MIN_ROWS } from './wat/gemm.ts';
import { type KernelVariant, MAX_PAGES } from './wat/module.ts';
import { type WasmMemory, wasmApi } from './wasm-api.ts';

export interface WasmKernels extends Kernels {
  readonly name: 'wasm-simd';
  /** Whether the GEMMs use relaxed-SIMD fused multiply-add (else f32x4 mul then add). */
  readonly fma: boolean;
  readonly memory: WasmMemory;
  /** Raw module exports (byte addresses), for benchmarks. */
  readonly exports: KernelExports;
  readonly arena: WasmArena;
  /** Whether `view` lives in this backend's memory (calls on it copy nothing). */
  owns(view: ArrayBufferView): boolean;
  /** Returns a float32 buffer from `alloc` to the memory; float64 buffers are left to the GC. */
  free(buf: FloatArray): void;
  /** Fused float32 Adam / AdamW step on buffers in this memory (false for any other buffer). */
  adamStep(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, n: number, s: AdamStepScalars): boolean;
  /** The window recurrence in one call each way, its streams split over the threads when that pays (false: foreign buffers). */
  recurrenceForward(hs: FloatArray, Whh: FloatArray, bhh: FloatArray, K: number, B: number, H: number, act: Activation): boolean;
  recurrenceBackward(
    dhs: FloatArray, dhNext: FloatArray, sumSq: Float64Array, hs: FloatArray, Whh: FloatArray,
    K: number, B: number, H: number, act: Activation,
  ): boolean;
  /** Threads running each large product (1 = the caller only). */
  readonly threads: number;
  /** Starts recording where the split calls' time goes (null with one thread); for benchmarks. */
  recordBandTimings(): Map<BandKind, BandTiming> | null;
  /** Stops the helper threads (the backend keeps working single-threaded). */
  close(): Promise<void>;
}

export interface WasmKernelsOptions {
  /** Initial memory in 64 KiB pages (default 16 = 1 MiB; it grows on demand). */
  initialPages?: number;
  /** Maximum memory in pages (default and upper bound: 16384 = 1 GiB). */
  maximumPages?: number;
  /** Fused multiply-add GEMMs (default: when relaxed SIMD is available; see relaxed-simd.ts). */
  fma?: boolean;
  /**
   * Threads for large products, the caller included (default 1). Helpers are worker threads on
   * the same shared memory (createWasmKernels only; the sync variant is single-threaded).
   */
  threads?: number;
  /**
   * Products below this many flops (2·M·N·K) stay on the calling thread (default 2^22). Measured
   * at (B, H) = (32, 128): forcing its 1-MFLOP per-step products onto two threads halved
   * training speed (hand-off costs more than the product); the 34-MFLOP window products gain.
   */
  parallelMinFlops?: number;
}

function variantOf(opts: WasmKernelsOptions): KernelVariant {
  const variant = defaultVariant();
  return opts.fma === undefined ? variant : { ...variant, fma: opts.fma };
}

function createMemory(opts: WasmKernelsOptions): WasmMemory {
  const maximum = Math.min(opts.maximumPages ?? MAX_PAGES, MAX_PAGES);
  return new wasmApi.Memory({ initial: opts.initialPages ?? 16, maximum, shared: true });
}

export async function createWasmKernels(opts: WasmKernelsOptions = {}): Promise<WasmKernels> {
  const variant = variantOf(opts);
  const module = await loadKernelModule(variant);
  const memory = createMemory(opts);
  const exports = instantiateKernels(module, memory);
  const threads = opts.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  const backend = new WasmBackend(memory, exports, variant.fma, opts.parallelMinFlops ?? 2 ** 22);
  if (threads > 1) {
    const helpers = threads - 1;
    const packBuffers = Array.from({ length: helpers }, () => backend.packBuffer());
    backend.attachPool(await BandThreads.start(module, memory, exports, { helpers, packBuffers }));
  }
  return backend;
}

/** Needs the binary built already (by an earlier `createWasmKernels` or the build script). */
export function createWasmKernelsSync(opts: WasmKernelsOptions = {}): WasmKernels {
  const variant = variantOf(opts);
  const module = loadKernelModuleSync(variant);
  const memory = createMemory(opts);
  return new WasmBackend(memory, instantiateKernels(module, memory), variant.fma, Infinity);
}

function need(view: ArrayBufferView & { length: number }, n: number, what: string): void {
  if (view.length < n) throw new RangeError(`${what}: needs ${n} elements, got ${view.length}`);
}

const isF32 = (x: FloatArray): x is Float32Array => x instanceof Float32Array;

/**
 * From this many rows a·bᵀ runs as a·(bᵀ) in outer-product blocks, b transposed once per call:
 * the dot-product kernel's horizontal sums then cost more than the N·K transpose. Measured
 * (fma build, best of 40 × 10 ms, 22:37 UTC): the (K·B, V, H) logits product at 2048 × 65 × 128
 * 34.6–35.4 GFLOP/s as dot products, 39.3–39.9 transposed (256 rows: 35.5 vs 38.9); at 64 rows
 * equal, at 25 rows (B = 1) the transpose does not pay.
 */
export const NT_AS_NN_MIN_ROWS = 128;

/**
 * Elementwise passes over at least this many floats run on all threads: the window-sized ones
 * (token gather / scatter, bias add and gradient, softmax forward and backward, saturation
 * counts) and the Adam step. Measured (µs, one thread vs two, 128 columns): at 2¹⁵ floats the
 * one-add passes lose (bias add 3.8 vs 8.1, saturation count 4.2 vs 6.6) while softmax (83.5 vs
 * 47.6) and Adam (29.6 vs 16.4) gain; at 2¹⁶ all of them gain (bias add 7.5 vs 5.2, count 8.3
 * vs 4.8, bias gradient 5.3 vs 3.0, softmax 171 vs 90). In training at M (2¹⁸ floats a pass)
 * splitting the token gather and scatter too measured 1–4 % faster than keeping them on one
 * thread, although alone, on warm caches, they gain nothing.
 */
export const ELEMENTWISE_SPLIT_MIN_FLOATS = 2 ** 16;

/**
 * Token gathers / scatters over fewer rows than the vocabulary size walk W's columns (stride I);
 * from N ≥ I rows they go through W transposed to (I, H), a contiguous row per token. Measured
 * (µs per call, strided vs transposed, gather / scatter): H 100, I 65: N 25 1.3 vs 1.7 / 1.3 vs
 * 3.0, N 100 4.7 vs 2.6 / 5.1 vs 4.0; H 512, I 65: N 25 6.2 vs 13.5 / 10.8 vs 22.3, N 100 25.8
 * vs 19.4 / 42.7 vs 28.4; H 128, I 256: N 200 20.7 vs 9.7 / 48.8 vs 16.2.
 */
function tokensViaTranspose(N: number, I: number): boolean {
  return N >= I;
}

/** Floats in a 64-byte cache line: the granule of column bands (arena blocks are line-aligned). */
const CACHE_LINE_FLOATS = 16;
/** Columns biasGradAdd sums in registers at once: its bands are whole chunks. */
const BIAS_GRAD_CHUNK = 32;

/** Per-thread packing buffer: a 128-row K chunk of b up to 2048 columns, plus a 128 × 128 panel of a (wat/gemm.ts). */
export const PACK_BUFFER_BYTES = 128 * 4 * (2048 + 128);

/** Initial elements of the backend's scratch blocks (the memory estimate counts them too). */
export const SCRATCH_INITIAL = { ids: 1024, stats: 2048, transpose: 4, prepack: 4, scalars: 16 } as const;

class WasmBackend implements WasmKernels {
  readonly name = 'wasm-simd' as const;
  readonly arena: WasmArena;
  // blocks reused by every call (never shared between calls in flight: one calling thread)
  private readonly idsBlock: ScratchBlock<Int32Array>; // token ids / targets copied in
  private readonly statsBlock: ScratchBlock<Float32Array>; // per-row statistics out of a kernel
  private readonly transposeBlock: ScratchBlock<Float32Array>; // a transposed operand (Whhᵀ, bᵀ)
  private readonly prepackBlock: ScratchBlock<Float32Array>; // the packed step weights of a window
  private readonly scalarBlock: Float32Array; // f32 scalars handed to a kernel through memory (Adam's), or as bits
  private readonly scalarBits: Int32Array; // the same words as i32 (an f32 argument in a helper's i32 slot)
  // per-call temporaries for float32 arrays outside the memory (reused lists: no allocation
  // on the zero-copy path)
  private readonly tempSources: Float32Array[] = [];
  private readonly tempCopies: Float32Array[] = [];
  private readonly tempIsOutput: boolean[] = [];

  constructor(
    readonly memory: WasmMemory,
    readonly exports: KernelExports,
    readonly fma: boolean,
    private readonly parallelMinFlops: number,
  ) {
    this.arena = new WasmArena(memory);
    const floats = (n: number) => this.arena.float32(n);
    this.idsBlock = new ScratchBlock(this.arena, (n) => this.arena.int32(n), SCRATCH_INITIAL.ids);
    this.statsBlock = new ScratchBlock(this.arena, floats, SCRATCH_INITIAL.stats);
    this.transposeBlock = new ScratchBlock(this.arena, floats, SCRATCH_INITIAL.transpose);
    this.prepackBlock = new ScratchBlock(this.arena, floats, SCRATCH_INITIAL.prepack);
    this.scalarBlock = this.arena.float32(SCRATCH_INITIAL.scalars);
    this.scalarBits = new Int32Array(memory.buffer, this.scalarBlock.byteOffset, 16);
    const pack = this.packBuffer();
    exports.set_pack_buffer(pack.ptr, pack.bytes);
  }

  private pool: BandThreads | null = null;

  /** Helper threads for the big products and the recurrence (createWasmKernels, once). */
  attachPool(pool: BandThreads): void {
    this.pool = pool;
  }

  /** A block for one thread's GEMM packing (wat/gemm.ts): K chunks of products up to N = 2048 pack. */
  packBuffer(): { ptr: number; bytes: number } {
    const bytes = PACK_BUFFER_BYTES;
    return { ptr: this.arena.float32(bytes / 4).byteOffset, bytes };
  }

  owns(view: ArrayBufferView): boolean {
    return this.arena.owns(view);
  }

  get id(): string {
    return this.fma ? 'wasm-simd-fma' : 'wasm-simd';
  }

  recordBandTimings(): Map<BandKind, BandTiming> | null {
    return this.pool?.recordTimings() ?? null;
  }

  get threads(): number {
    return this.pool === null ? 1 : this.pool.helpers + 1;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.close();
  }

  /** Whether a product of this shape is split over the helper threads. */
  private parallel(M: number, N: number, K: number): boolean {
    return this.pool !== null && M >= 4 && 2 * M * N * K >= this.parallelMinFlops;
  }

  /** One product, split over the threads when it is big enough to pay for the hand-off. */
  private gemm(kind: GemmKind, o: number, a: number, b: number, M: number, N: number, K: number, acc: boolean): void {
    if (this.parallel(M, N, K)) {
      this.pool!.run(kind, o, a, b, M, N, K, acc ? 1 : 0);
    } else if (kind === 'nt') this.exports.gemm_nt(o, a, b, M, N, K, acc ? 1 : 0);
    else if (kind === 'nn') this.exports.gemm_nn(o, a, b, M, N, K, acc ? 1 : 0);
    else this.exports.gemm_tn(o, a, b, M, N, K, acc ? 1 : 0);
  }

  alloc(n: number, dtype: Dtype): FloatArray {
    if (dtype === 'float64') return new Float64Array(n);
    return this.arena.float32(n);
  }

  free(buf: FloatArray): void {
    if (isF32(buf)) this.arena.release(buf);
  }

  // ---- pointer plumbing -------------------------------------------------------------------

  /**
   * Byte address of `view` for the kernel; a foreign array gets a temporary copy (always copied
   * in: the same array may come back as an input of the same call, e.g. in-place activations).
   */
  private ptr(view: Float32Array, n: number, what: string, output: boolean): number {
    need(view, n, what);
    if (this.arena.owns(view)) return view.byteOffset;
    const seen = this.tempSources.indexOf(view);
    if (seen >= 0) {
      this.tempIsOutput[seen] ||= output;
      return this.tempCopies[seen].byteOffset;
    }
    const copy = this.arena.float32(Math.max(n, 1));
    copy.set(view.subarray(0, n));
    this.tempSources.push(view);
    this.tempCopies.push(copy);
    this.tempIsOutput.push(output);
    return copy.byteOffset;
  }

  /** Copies foreign outputs back and frees the temporaries of this call. */
  private done(): void {
    if (this.tempSources.length === 0) return; // the zero-copy path: nothing to do
    for (let i = 0; i < this.tempSources.length; i++) {
      const copy = this.tempCopies[i];
      if (this.tempIsOutput[i]) this.tempSources[i].set(copy.subarray(0, Math.min(copy.length, this.tempSources[i].length)));
      this.arena.release(copy);
    }
    this.tempSources.length = 0;
    this.tempCopies.length = 0;
    this.tempIsOutput.length = 0;
  }

  /** Index arrays (token ids, targets) are small: copied into the scratch region unless owned. */
  private intPtr(ids: Int32Array, n: number, what: string): number {
    need(ids, n, what);
    if (this.arena.owns(ids)) return ids.byteOffset;
    const copy = this.idsBlock.atLeast(n);
    copy.set(ids.subarray(0, n));
    return copy.byteOffset;
  }

  // ---- products -----------------------------------------------------------------------------

  matmulNT(out: FloatArray, a: FloatArray, b: FloatArray, M: number, N: number, K: number, accumulate: boolean): void {
    if (!isF32(out) || !isF32(a) || !isF32(b)) return jsKernels.matmulNT(out, a, b, M, N, K, accumulate);
    if (M >= NT_AS_NN_MIN_ROWS && this.ownsAll(out, a, b)) {
      need(out, M * N, 'matmulNT out');
      need(a, M * K, 'matmulNT a');
      need(b, N * K, 'matmulNT b');
      const bT = this.transposeBlock.atLeast(N * K);
      this.exports.transpose(bT.byteOffset, b.byteOffset, N, K);
      this.gemm('nn', out.byteOffset, a.byteOffset, bT.byteOffset, M, N, K, accumulate);
      return;
    }
    const po = this.ptr(out, M * N, 'matmulNT out', true);
    this.gemm('nt', po, this.ptr(a, M * K, 'matmulNT a', false), this.ptr(b, N * K, 'matmulNT b', false), M, N, K, accumulate);
    this.done();
  }

  matmulNN(out: FloatArray, a: FloatArray, b: FloatArray, M: number, N: number, K: number, accumulate: boolean): void {
    if (!isF32(out) || !isF32(a) || !isF32(b)) return jsKernels.matmulNN(out, a, b, M, N, K, accumulate);
    const po = this.ptr(out, M * N, 'matmulNN out', true);
    this.gemm('nn', po, this.ptr(a, M * K, 'matmulNN a', false), this.ptr(b, K * N, 'matmulNN b', false), M, N, K, accumulate);
    this.done();
  }

  matmulTN(out: FloatArray, a: FloatArray, b: FloatArray, M: number, N: number, K: number, accumulate: boolean): void {
    if (!isF32(out) || !isF32(a) || !isF32(b)) return jsKernels.matmulTN(out, a, b, M, N, K, accumulate);
    const po = this.ptr(out, M * N, 'matmulTN out', true);
    this.gemm('tn', po, this.ptr(a, K * M, 'matmulTN a', false), this.ptr(b, K * N, 'matmulTN b', false), M, N, K, accumulate);
    this.done();
  }

  // ---- token columns ------------------------------------------------------------------------

  private checkIds(ids: Int32Array, B: number, I: number): void {
    need(ids, B, 'token ids');
    for (let b = 0; b < B; b++) {
      if (ids[b] >= I) throw new RangeError(`token id ${ids[b]} out of range [0, ${I})`);
    }
  }

  gatherColumnsAdd(out: FloatArray, ids: Int32Array, W: FloatArray, B: number, H: number, I: number): void {
    if (!isF32(out) || !isF32(W)) return jsKernels.gatherColumnsAdd(out, ids, W, B, H, I);
    this.checkIds(ids, B, I);
    const po = this.ptr(out, B * H, 'gatherColumnsAdd out', true);
    const pw = this.ptr(W, H * I, 'gatherColumnsAdd W', false);
    const pIds = this.intPtr(ids, B, 'token ids');
    if (!tokensViaTranspose(B, I)) {
      this.exports.gather_columns_add(po, pIds, pw, B, H, I);
      return this.done();
    }
    // W (H, I) transposed for the call: a token's column is then one contiguous row
    const pWT = this.transposeBlock.atLeast(I * H).byteOffset;
    this.exports.transpose(pWT, pw, H, I);
    if (this.splitPass(B * H, B)) {
      this.pool!.runBands('gather-rows', B, (r0, rows, args) => {
        args.push(po + 4 * r0 * H, pIds + 4 * r0, pWT, rows, H);
      }, (a) => this.exports.gather_rows_add(a[0], a[1], a[2], a[3], a[4]));
    } else {
      this.exports.gather_rows_add(po, pIds, pWT, B, H);
    }
    this.done();
  }

  scatterColumnsAdd(dW: FloatArray, ids: Int32Array, dout: FloatArray, B: number, H: number, I: number): void {
    if (!isF32(dW) || !isF32(dout)) return jsKernels.scatterColumnsAdd(dW, ids, dout, B, H, I);
    this.checkIds(ids, B, I);
    const pw = this.ptr(dW, H * I, 'scatterColumnsAdd dW', true);
    const pd = this.ptr(dout, B * H, 'scatterColumnsAdd dout', false);
    const pIds = this.intPtr(ids, B, 'token ids');
    if (!tokensViaTranspose(B, I)) {
      this.exports.scatter_columns_add(pw, pIds, pd, B, H, I);
      return this.done();
    }
    // bands of hidden units (whole cache lines of dout), each through its own (I, w) scratch
    const pScratch = this.transposeBlock.atLeast(I * H).byteOffset;
    if (this.splitPass(B * H, H, CACHE_LINE_FLOATS)) {
      this.pool!.runBands('scatter-columns', H, (c0, w, args) => {
        args.push(pw, pIds, pd, B, H, I, c0, w, pScratch + 4 * I * c0);
      }, (a) => this.exports.scatter_columns_band(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]), CACHE_LINE_FLOATS);
    } else {
      this.exports.scatter_columns_band(pw, pIds, pd, B, H, I, 0, H, pScratch);
    }
    this.done();
  }

  // ---- bias -----------------------------------------------------------------------------------

  addBias(out: FloatArray, bias: FloatArray, N: number, C: number): void {
    if (!isF32(out) || !isF32(bias)) return jsKernels.addBias(out, bias, N, C);
    const po = this.ptr(out, N * C, 'addBias out', true);
    const pb = this.ptr(bias, C, 'addBias bias', false);
    if (this.splitPass(N * C, N)) {
      this.pool!.runBands('add-bias', N, (r0, rows, args) => {
        args.push(po + 4 * r0 * C, pb, rows, C);
      }, (a) => this.exports.add_bias(a[0], a[1], a[2], a[3]));
    } else {
      this.exports.add_bias(po, pb, N, C);
    }
    this.done();
  }

  biasGradAdd(dbias: FloatArray, dout: FloatArray, N: number, C: number): void {
    if (!isF32(dbias) || !isF32(dout)) return jsKernels.biasGradAdd(dbias, dout, N, C);
    const pb = this.ptr(dbias, C, 'biasGradAdd dbias', true);
    const pd = this.ptr(dout, N * C, 'biasGradAdd dout', false);
    // split by 32-column chunks (wat/elementwise.ts biasGradAdd): each column's sum runs down the rows in order, as on one thread
    if (this.splitPass(N * C, C, BIAS_GRAD_CHUNK)) {
      this.pool!.runBands('bias-grad', C, (c0, cols, args) => {
        args.push(pb + 4 * c0, pd + 4 * c0, N, cols, 4 * C);
      }, (a) => this.exports.bias_grad_add(a[0], a[1], a[2], a[3], a[4]), BIAS_GRAD_CHUNK);
    } else {
      this.exports.bias_grad_add(pb, pd, N, C, 4 * C);
    }
    this.done();
  }

  // ---- activations --------------------------------------------------------------------------

  actForward(out: FloatArray, pre: FloatArray, n: number, act: Activation): void {
    if (!isF32(out) || !isF32(pre)) return jsKernels.actForward(out, pre, n, act);
    const po = this.ptr(out, n, 'actForward out', true);
    const pp = this.ptr(pre, n, 'actForward pre', false);
    if (act === 'tanh') this.exports.act_tanh(po, pp, n);
    else this.exports.act_relu(po, pp, n);
    this.done();
  }

  actBackward(dpre: FloatArray, dh: FloatArray, h: FloatArray, n: number, act: Activation): void {
    if (!isF32(dpre) || !isF32(dh) || !isF32(h)) return jsKernels.actBackward(dpre, dh, h, n, act);
    const pd = this.ptr(dpre, n, 'actBackward dpre', true);
    const pdh = this.ptr(dh, n, 'actBackward dh', false);
    const ph = this.ptr(h, n, 'actBackward h', false);
    if (act === 'tanh') this.exports.act_tanh_backward(pd, pdh, ph, n);
    else this.exports.act_relu_backward(pd, pdh, ph, n);
    this.done();
  }

  actBackwardAdd(dpre: FloatArray, dhA: FloatArray, dhB: FloatArray, h: FloatArray, n: number, act: Activation): number {
    if (!isF32(dpre) || !isF32(dhA) || !isF32(dhB) || !isF32(h)) return jsKernels.actBackwardAdd(dpre, dhA, dhB, h, n, act);
    const pd = this.ptr(dpre, n, 'actBackwardAdd dpre', true);
    const pa = this.ptr(dhA, n, 'actBackwardAdd dhA', false);
    const pb = this.ptr(dhB, n, 'actBackwardAdd dhB', false);
    const ph = this.ptr(h, n, 'actBackwardAdd h', false);
    const sq = act === 'tanh' ? this.exports.act_tanh_backward_add(pd, pa, pb, ph, n) : this.exports.act_relu_backward_add(pd, pa, pb, ph, n);
    this.done();
    return sq;
  }

  countSaturated(h: FloatArray, n: number, act: Activation): number {
    if (!isF32(h)) return jsKernels.countSaturated(h, n, act);
    const ph = this.ptr(h, n, 'countSaturated h', false);
    const count = act === 'tanh' ? this.exports.count_saturated_tanh : this.exports.count_saturated_relu;
    const total = this.splitPass(n, n)
      ? this.pool!.runBands(act === 'tanh' ? 'count-saturated-tanh' : 'count-saturated-relu', n, (i0, len, args) => {
        args.push(ph + 4 * i0, len);
      }, (a) => count(a[0], a[1]))
      : count(ph, n);
    this.done();
    return total;
  }

  // ---- gradient norms -------------------------------------------------------------------------

  sumSquares(x: FloatArray, n: number): number {
    if (!isF32(x) || !this.arena.owns(x)) return jsKernels.sumSquares(x, n);
    need(x, n, 'sumSquares x');
    return this.exports.sum_squares(x.byteOffset, n);
  }

  scaleInPlace(x: FloatArray, n: number, factor: number): void {
    if (!isF32(x) || !this.arena.owns(x)) return jsKernels.scaleInPlace(x, n, factor);
    need(x, n, 'scaleInPlace x');
    this.exports.scale_in_place(x.byteOffset, n, factor);
  }

  // ---- the window recurrence --------------------------------------------------------------

  recurrenceForward(hs: FloatArray, Whh: FloatArray, bhh: FloatArray, K: number, B: number, H: number, act: Activation): boolean {
    if (!this.ownsAll(hs, Whh, bhh)) return false;
    need(hs, (K + 1) * B * H, 'recurrenceForward hs');
    need(Whh, H * H, 'recurrenceForward Whh');
    need(bhh, H, 'recurrenceForward bhh');
    const relu = act === 'relu' ? 1 : 0;
    const [pHs, pW, pB] = [hs.byteOffset, Whh.byteOffset, bhh.byteOffset];
    // from 4 streams the step product runs as h·(Whhᵀ) in outer-product blocks (one transpose a window)
    let pWT = 0;
    if (B >= 4) {
      pWT = this.transposeBlock.atLeast(H * H).byteOffset;
      this.exports.transpose(pWT, pW, H, H);
    }
    const pWTPacked = pWT !== 0 ? this.prepackedWeights(pWT, B, H) : 0;
    if (this.recurrenceInBands(K, B, H)) {
      this.pool!.runBands('rnn-forward', B, (r0, rows, args) => {
        args.push(pHs, pW, pB, K, B, H, relu, r0, rows, pWT, pWTPacked);
      }, (a) => this.exports.rnn_forward_steps(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10]));
    } else {
      this.exports.rnn_forward_steps(pHs, pW, pB, K, B, H, relu, 0, B, pWT, pWTPacked);
    }
    return true;
  }

  recurrenceBackward(
    dhs: FloatArray, dhNext: FloatArray, sumSq: Float64Array, hs: FloatArray, Whh: FloatArray,
    K: number, B: number, H: number, act: Activation,
  ): boolean {
    if (!this.ownsAll(dhs, dhNext, hs, Whh)) return false;
    need(dhs, K * B * H, 'recurrenceBackward dhs');
    need(dhNext, B * H, 'recurrenceBackward dhNext');
    need(hs, (K + 1) * B * H, 'recurrenceBackward hs');
    need(Whh, H * H, 'recurrenceBackward Whh');
    need(sumSq, K, 'recurrenceBackward sumSq');
    const rowSq = this.statsBlock.atLeast(K * B); // (K, B): Σ dh² of each row, whichever thread ran it
    const relu = act === 'relu' ? 1 : 0;
    const [pD, pN, pS, pHs, pW] = [dhs.byteOffset, dhNext.byteOffset, rowSq.byteOffset, hs.byteOffset, Whh.byteOffset];
    const pWPacked = this.prepackedWeights(pW, B, H);
    if (this.recurrenceInBands(K, B, H)) {
      this.pool!.runBands('rnn-backward', B, (r0, rows, args) => {
        args.push(pD, pN, pS, pHs, pW, K, B, H, relu, r0, rows, pWPacked);
      }, (a) => this.exports.rnn_backward_steps(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11]));
    } else {
      this.exports.rnn_backward_steps(pD, pN, pS, pHs, pW, K, B, H, relu, 0, B, pWPacked);
    }
    // rows summed in order in double: the same numbers for any thread count
    for (let t = 0; t < K; t++) {
      let sum = 0;
      for (let b = 0; b < B; b++) sum += rowSq[t * B + b];
      sumSq[t] = sum;
    }
    return true;
  }

  /**
   * The (H, H) step weights at `pW` packed once for the window (wat/gemm.ts pack_b), when the step
   * products pack (H ≥ PACK_MIN_COLS, bands of ≥ PACK_MIN_ROWS rows); 0 otherwise. Every thread's
   * step product then reads these slabs instead of copying the matrix again at each step.
   */
  private prepackedWeights(pW: number, B: number, H: number): number {
    if (H < PACK_MIN_COLS || B < PACK_MIN_ROWS) return 0;
    const packed = this.prepackBlock.atLeast(H * H).byteOffset;
    this.exports.pack_b(packed, pW, H, H, 4 * H);
    return packed;
  }

  /**
   * Whether an elementwise pass over `floats` values is split over the threads, in bands of the
   * `split` dimension (rows or columns) in whole `granule`s, at least one per thread.
   */
  private splitPass(floats: number, split: number, granule = 4): boolean {
    return this.pool !== null && split > granule && floats >= ELEMENTWISE_SPLIT_MIN_FLOATS;
  }

  /** Whether the window recurrence is split over the threads: bands of whole 4-row blocks, enough work to pay. */
  private recurrenceInBands(K: number, B: number, H: number): boolean {
    return this.pool !== null && B >= 8 && 2 * K * B * H * H >= this.parallelMinFlops;
  }

  private ownsAll(...views: FloatArray[]): boolean {
    for (const x of views) if (!isF32(x) || !this.arena.owns(x)) return false;
    return true;
  }

  // ---- optimizer ----------------------------------------------------------------------------

  adamStep(p: FloatArray, g: FloatArray, m: FloatArray, v: FloatArray, n: number, s: AdamStepScalars): boolean {
    const own = (x: FloatArray) => isF32(x) && x.length >= n && this.arena.owns(x);
    if (!own(p) || !own(g) || !own(m) || !own(v)) return false;
    const w = 1 - s.beta1; // torch: exp_avg.lerp_(grad, 1 − β1)
    const scalars = this.scalarBlock;
    scalars[0] = w;
    scalars[1] = 1 - w;
    scalars[2] = s.beta2;
    scalars[3] = 1 - s.beta2;
    scalars[4] = s.bc2Sqrt;
    scalars[5] = s.eps;
    scalars[6] = -s.stepSize;
    scalars[7] = s.decoupled ? 0 : s.weightDecay;
    scalars[8] = s.decoupled ? 1 - s.lr * s.weightDecay : 1;
    const pp = p.byteOffset, pg = g.byteOffset, pm = m.byteOffset, pv = v.byteOffset;
    const ps = scalars.byteOffset, fromEnd = w >= 0.5 ? 1 : 0;
    if (this.splitPass(n, n)) {
      this.pool!.runBands('adam', n, (i0, len, args) => {
        args.push(pp + 4 * i0, pg + 4 * i0, pm + 4 * i0, pv + 4 * i0, len, ps, fromEnd);
      }, (a) => this.exports.adam_step(a[0], a[1], a[2], a[3], a[4], a[5], a[6]));
    } else {
      this.exports.adam_step(pp, pg, pm, pv, n, ps, fromEnd);
    }
    return true;
  }

  // ---- losses ---------------------------------------------------------------------------------

  softmaxCrossEntropyForward(
    probs: FloatArray, losses: FloatArray, logits: FloatArray, targets: Int32Array, N: number, C: number,
  ): void {
    if (!isF32(probs) || !isF32(logits)) return jsKernels.softmaxCrossEntropyForward(probs, losses, logits, targets, N, C);
    need(targets, N, 'targets');
    need(losses, N, 'losses');
    for (let r = 0; r < N; r++) {
      if (targets[r] >= C) throw new RangeError(`target class ${targets[r]} out of range [0, ${C})`);
    }
    const stats = this.statsBlock.atLeast(2 * N);
    const pp = this.ptr(probs, N * C, 'softmaxCrossEntropyForward probs', true);
    const pl = this.ptr(logits, N * C, 'softmaxCrossEntropyForward logits', false);
    const ps = stats.byteOffset;
    if (this.splitPass(N * C, N)) {
      this.pool!.runBands('softmax-rows', N, (r0, rows, args) => {
        args.push(pp + 4 * r0 * C, ps + 8 * r0, pl + 4 * r0 * C, rows, C);
      }, (a) => this.exports.softmax_rows(a[0], a[1], a[2], a[3], a[4]));
    } else {
      this.exports.softmax_rows(pp, ps, pl, N, C);
    }
    this.done();
    // one log per row, in double like the reference: log-sum-exp form, exact even when probs[t] underflows
    for (let r = 0; r < N; r++) {
      const t = targets[r];
      losses[r] = t < 0 ? 0 : Math.log(stats[2 * r + 1]) - (logits[r * C + t] - stats[2 * r]);
    }
  }

  softmaxCrossEntropyBackward(
    dlogits: FloatArray, probs: FloatArray, targets: Int32Array, scale: number, N: number, C: number,
  ): void {
    if (!isF32(dlogits) || !isF32(probs)) return jsKernels.softmaxCrossEntropyBackward(dlogits, probs, targets, scale, N, C);
    for (let r = 0; r < N; r++) {
      if (targets[r] >= C) throw new RangeError(`target class ${targets[r]} out of range [0, ${C})`);
    }
    const pd = this.ptr(dlogits, N * C, 'softmaxCrossEntropyBackward dlogits', true);
    const pp = this.ptr(probs, N * C, 'softmaxCrossEntropyBackward probs', false);
    const pt = this.intPtr(targets, N, 'targets');
    this.scalarBlock[0] = scale;
    const scaleBits = this.scalarBits[0];
    if (this.splitPass(N * C, N)) {
      this.pool!.runBands('softmax-backward', N, (r0, rows, args) => {
        args.push(pd + 4 * r0 * C, pp + 4 * r0 * C, pt + 4 * r0, rows, C, scaleBits);
      }, (a) => this.exports.softmax_xent_backward(a[0], a[1], a[2], a[3], a[4], a[5]));
    } else {
      this.exports.softmax_xent_backward(pd, pp, pt, N, C, scaleBits);
    }
    this.done();
  }

  // Squared error is O(N·C) with N·C = outputs of one window: the reference loops run directly on
  // the memory's views (no copies), so there is nothing for SIMD to win that matters here.
  squaredErrorForward(
    losses: FloatArray, preds: FloatArray, targets: FloatArray, mask: Uint8Array | null, N: number, C: number,
  ): void {
    jsKernels.squaredErrorForward(losses, preds, targets, mask, N, C);
  }

  squaredErrorBackward(
    dpreds: FloatArray, preds: FloatArray, targets: FloatArray, mask: Uint8Array | null, scale: number, N: number, C: number,
  ): void {
    jsKernels.squaredErrorBackward(dpreds, preds, targets, mask, scale, N, C);
  }
}
