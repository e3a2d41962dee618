// Both cores for the big products and the big elementwise passes: helper threads instantiate the
// same kernel module on the same shared memory and each computes a band of output rows (or
// columns), while the calling thread computes the first band itself. Helpers spin briefly and
// then sleep on a futex (Atomics.wait) between calls, so the back-to-back calls of a BPTT window
// do not pay a wake-up each time.
//
// Each output element is computed by exactly the code the single-threaded kernel runs for it
// (same K order, same chunks), so results are bit-identical to one thread. The same bands carry
// the window recurrence (wat/recurrence.ts): each thread runs all K steps for its own streams;
// and the elementwise passes over a window's rows, each split where no element's additions
// change order (rows for row-wise work, columns for sums down the rows).

import { Worker } from 'node:worker_threads';
import type { KernelExports } from './exports.ts';
import type { WasmMemory, WasmModule } from './wasm-api.ts';

export type GemmKind = 'nt' | 'nn' | 'tn';
export type BandKind =
  | GemmKind | 'rnn-forward' | 'rnn-backward'
  | 'gather-rows' | 'scatter-columns' | 'bias-grad' | 'add-bias' | 'softmax-rows' | 'softmax-backward'
  | 'count-saturated-tanh' | 'count-saturated-relu' | 'adam';
// the export each kind runs, by its index in this list (the helper's `run` table below)
const KIND_EXPORTS = [
  ['nt', 'gemm_nt_ld'], ['nn', 'gemm_nn_ld'], ['tn', 'gemm_tn_ld'],
  ['rnn-forward', 'rnn_forward_steps'], ['rnn-backward', 'rnn_backward_steps'],
  ['gather-rows', 'gather_rows_add'], ['scatter-columns', 'scatter_columns_band'], ['bias-grad', 'bias_grad_add'],
  ['add-bias', 'add_bias'], ['softmax-rows', 'softmax_rows'], ['softmax-backward', 'softmax_xent_backward'],
  ['count-saturated-tanh', 'count_saturated_tanh'], ['count-saturated-relu', 'count_saturated_relu'], ['adam', 'adam_step'],
] as const satisfies readonly (readonly [BandKind, keyof KernelExports])[];
const KIND_CODE = Object.fromEntries(KIND_EXPORTS.map(([kind], i) => [kind, i])) as Record<BandKind, number>;

// control slot per helper (Int32 words): request sequence, kind (-1 = stop), up to 12 arguments
// (a GEMM: o, a, b, M, N, K, lda, ldb, ldo, acc), completed sequence, the export's i32 result
const SLOT_WORDS = 16;
const SEQ = 0, KIND = 1, ARGS = 2, MAX_ARGS = 12, DONE = 14, RESULT = 15;
const HELPER_TIMEOUT_MS = 60_000;

// Plain JavaScript (an eval worker needs no TypeScript loader, under tsx and vitest alike).
const HELPER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { module, memory, control, slot, spinMicros, pack } = workerData;
const ex = new WebAssembly.Instance(module, { env: { memory } }).exports;
if (pack) ex.set_pack_buffer(pack.ptr, pack.bytes);
const c = new Int32Array(control, slot * ${SLOT_WORDS} * 4, ${SLOT_WORDS});
const run = [${KIND_EXPORTS.map(([, name]) => `ex.${name}`).join(', ')}];
let seen = 0;
for (;;) {
  const spinUntil = performance.now() + spinMicros / 1000;
  while (Atomics.load(c, ${SEQ}) === seen && performance.now() < spinUntil);
  // sleep until the sequence really moves: a wake-up can be a late notify of the request this
  // helper already ran (the caller was preempted between its store and its notify), and running
  // that request twice would add its band twice
  while (Atomics.load(c, ${SEQ}) === seen) Atomics.wait(c, ${SEQ}, seen);
  seen = Atomics.load(c, ${SEQ});
  const kind = c[${KIND}];
  if (kind < 0) break;
  c[${RESULT}] = run[kind](c[2], c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13]) | 0;
  Atomics.store(c, ${DONE}, seen);
  Atomics.notify(c, ${DONE});
}
`;

/** Where a kind's time went (BandThreads.recordTimings): the caller's own band, and the rest of the call (hand-off and waiting). */
export interface BandTiming {
  calls: number;
  totalMs: number;
  ownMs: number;
}

export interface BandThreadsOptions {
  /** Helper threads besides the caller (default 1: two cores). */
  helpers?: number;
  /** How long an idle helper polls before sleeping, in µs (default 200). */
  spinMicros?: number;
  /** Each helper's GEMM packing buffer in the shared memory (see wat/gemm.ts); none: no packing. */
  packBuffers?: { ptr: number; bytes: number }[];
}

export class BandThreads {
  readonly helpers: number;
  private readonly control: Int32Array;
  private readonly slots: Int32Array[] = [];
  private readonly workers: Worker[] = [];
  private seq = 0;
  private readonly args: number[] = []; // reused: no allocation per call
  private timings: Map<BandKind, BandTiming> | null = null;

  private constructor(
    private readonly exports: KernelExports,
    helpers: number,
  ) {
    this.helpers = helpers;
    this.control = new Int32Array(new SharedArrayBuffer(helpers * SLOT_WORDS * 4));
    for (let h = 0; h < helpers; h++) this.slots.push(this.control.subarray(h * SLOT_WORDS, (h + 1) * SLOT_WORDS));
  }

  static async start(module: WasmModule, memory: WasmMemory, exports: KernelExports, opts: BandThreadsOptions = {}): Promise<BandThreads> {
    const pool = new BandThreads(exports, opts.helpers ?? 1);
    for (let slot = 0; slot < pool.helpers; slot++) {
      const worker = new Worker(HELPER_SOURCE, {
        eval: true,
        workerData: { module, memory, control: pool.control.buffer, slot, spinMicros: opts.spinMicros ?? 200, pack: opts.packBuffers?.[slot] ?? null },
      });
      pool.workers.push(worker);
      await new Promise<void>((resolve, reject) => {
        worker.once('online', resolve);
        worker.once('error', reject);
      });
      worker.unref(); // once running, an idle pool never keeps the process alive
    }
    return pool;
  }

  /**
   * out(M, N) (+)= op(a) · op(b) over dense row-major operands at byte addresses, the M rows
   * split into bands over the caller and the helpers.
   */
  run(kind: GemmKind, o: number, a: number, b: number, M: number, N: number, K: number, acc: number): void {
    const lda = 4 * (kind === 'tn' ? M : K);
    const ldb = 4 * (kind === 'nt' ? K : N);
    const ldo = 4 * N;
    // a's rows of band start m0: (m0, 0) for NT / NN, column m0 of the (K, M) matrix for TN
    const aAt = (m0: number): number => a + (kind === 'tn' ? 4 * m0 : m0 * lda);
    const fn = kind === 'nt' ? this.exports.gemm_nt_ld : kind === 'nn' ? this.exports.gemm_nn_ld : this.exports.gemm_tn_ld;
    this.runBands(kind, M, (m0, rows, args) => {
      args.push(o + m0 * ldo, aAt(m0), b, rows, N, K, lda, ldb, ldo, acc);
    }, (args) => fn(args[0], args[1], args[2], args[3], args[4], args[5], args[6], args[7], args[8], args[9]));
  }

  /**
   * [0, M) (rows, columns or elements, as the kind reads its arguments) in bands of whole
   * `granule`s — by default 4, the GEMMs' register-block rows: band h + 1 goes to helper h, band 0
   * to the caller (`own`), each as `kind` with the arguments `argsFor` pushes; returns when all are
   * done, with the sum of the bands' i32 results (`own`'s return value and the helpers').
   * Column bands whose threads write the same rows use a cache line (16 floats) or more.
   */
  runBands(
    kind: BandKind, M: number, argsFor: (r0: number, rows: number, args: number[]) => void,
    own: (args: number[]) => number | void, granule = 4,
  ): number {
    const parts = this.helpers + 1;
    const band = Math.max(granule, Math.ceil(M / parts / granule) * granule);
    const start = this.timings === null ? 0 : performance.now();
    const seq = ++this.seq;
    const args = this.args;
    let posted = 0;
    for (let h = 0; h < this.helpers; h++) {
      const m0 = band * (h + 1);
      if (m0 >= M) break;
      const c = this.slots[h];
      args.length = 0;
      argsFor(m0, Math.min(band, M - m0), args);
      if (args.length > MAX_ARGS) throw new RangeError(`${kind}: ${args.length} arguments, at most ${MAX_ARGS} fit a slot`);
      c[KIND] = KIND_CODE[kind];
      for (let i = 0; i < args.length; i++) c[ARGS + i] = args[i];
      Atomics.store(c, SEQ, seq);
      Atomics.notify(c, SEQ);
      posted++;
    }
    args.length = 0;
    argsFor(0, Math.min(band, M), args);
    const ownStart = this.timings === null ? 0 : performance.now();
    let result = own(args) ?? 0;
    const ownMs = this.timings === null ? 0 : performance.now() - ownStart;
    for (let h = 0; h < posted; h++) {
      const c = this.slots[h];
      // bands are equal, so the helper usually finishes within microseconds of this thread:
      // poll a little before paying for a futex sleep and wake-up
      for (let spin = 0; spin < 4096 && Atomics.load(c, DONE) !== seq; spin++);
      const deadline = Date.now() + HELPER_TIMEOUT_MS;
      for (;;) {
        const done = Atomics.load(c, DONE);
        if (done === seq) break;
        // a dead helper would otherwise hang the caller (its 'error' event cannot run meanwhile)
        if (Date.now() > deadline) throw new Error(`wasm helper thread ${h} did not answer in ${HELPER_TIMEOUT_MS} ms`);
        Atomics.wait(c, DONE, done, 100);
      }
      result += c[RESULT];
    }
    if (this.timings !== null) {
      const t = this.timings.get(kind) ?? { calls: 0, totalMs: 0, ownMs: 0 };
      t.calls++;
      t.totalMs += performance.now() - start;
      t.ownMs += ownMs;
      this.timings.set(kind, t);
    }
    return result;
  }

  /** Starts recording per-kind timings (benchmarks: bench/engine.ts --profile) into the map it returns, cleared. */
  recordTimings(): Map<BandKind, BandTiming> {
    this.timings = new Map();
    return this.timings;
  }

  /** Stops the helpers. */
  async close(): Promise<void> {
    for (let h = 0; h < this.workers.length; h++) {
      this.workers[h].ref(); // keep the loop alive until its 'exit' arrives
      const c = this.slots[h];
      c[KIND] = -1;
      Atomics.store(c, SEQ, ++this.seq);
      Atomics.notify(c, SEQ);
    }
    await Promise.all(this.workers.map((w) => new Promise((resolve) => w.once('exit', resolve))));
    this.workers.length = 0;
  }
}
