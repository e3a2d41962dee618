// GEMM micro-benchmark: GFLOP/s of the WASM SIMD kernels on the products BPTT runs at
// (B, H) = (32, 128) and (64, 512) (V = O = 65, window T = 64), in both builds (f32x4 mul + add,
// and relaxed-SIMD fused multiply-add where available), the plain TS reference on the same
// shapes, and the machine's WASM SIMD peak for each build (independent f32x4 multiply-add
// chains, no memory traffic), plus each product split over two threads. Brief by design
// (about 30 s); the best of short batches is reported, since the 2 cores are shared.
//
//   node --import tsx packages/rnn/bench/gemm.ts [--json] [--no-fma] [--sweep 'MR,NV,DR,DC,KC,MC;...']

import { cpus, loadavg } from 'node:os';
import { jsKernels } from '../src/kernels/js.ts';
import { WasmArena } from '../src/kernels/wasm/arena.ts';
import { NT_AS_NN_MIN_ROWS, PACK_BUFFER_BYTES } from '../src/kernels/wasm/backend.ts';
import { type KernelExports, instantiateKernels } from '../src/kernels/wasm/exports.ts';
import { BandThreads } from '../src/kernels/wasm/band-threads.ts';
import { loadKernelModule } from '../src/kernels/wasm/load.ts';
import { relaxedSimdAvailable } from '../src/kernels/wasm/relaxed-simd.ts';
import { type WasmMemory, type WasmModule, wasmApi } from '../src/kernels/wasm/wasm-api.ts';
import { type GemmBlocking, DEFAULT_BLOCKING } from '../src/kernels/wasm/wat/gemm.ts';
import { type KernelVariant, MAX_PAGES } from '../src/kernels/wasm/wat/module.ts';
import { PEAK_CHAINS } from '../src/kernels/wasm/wat/peak.ts';

type Kind = 'nt' | 'nn' | 'tn';
interface Shape {
  label: string;
  kind: Kind;
  M: number;
  N: number;
  K: number;
}

const V = 65;
const T = 64;

function bpttShapes(B: number, H: number): Shape[] {
  const at = `B${B} H${H}`;
  return [
    // the engine's forward step multiplies by Whhᵀ made once per window (B ≥ 4): an NN product
    { label: `${at} forward h·(Whhᵀ) (B,H,H)`, kind: 'nn', M: B, N: H, K: H },
    // from NT_AS_NN_MIN_ROWS rows the backend transposes Why and runs NN: timed with the transpose
    { label: `${at} logits hs·Whyᵀ (BT,V,H)`, kind: 'nt', M: B * T, N: V, K: H },
    { label: `${at} dhs dlogits·Why (BT,H,V)`, kind: 'nn', M: B * T, N: H, K: V },
    { label: `${at} dWhy dlogitsᵀ·hs (V,H,BT)`, kind: 'tn', M: V, N: H, K: B * T },
    { label: `${at} dh dpre·Whh (B,H,H)`, kind: 'nn', M: B, N: H, K: H },
    { label: `${at} dWhh per step (H,H,B)`, kind: 'tn', M: H, N: H, K: B },
    { label: `${at} dWhh whole window (H,H,BT)`, kind: 'tn', M: H, N: H, K: B * T },
  ];
}

interface Bench {
  exports: KernelExports;
  arena: WasmArena;
  module: WasmModule;
  memory: WasmMemory;
}

async function setup(variant: KernelVariant): Promise<Bench> {
  const memory = new wasmApi.Memory({ initial: 16, maximum: MAX_PAGES, shared: true });
  const module = await loadKernelModule(variant);
  const bench = { exports: instantiateKernels(module, memory), arena: new WasmArena(memory), module, memory };
  // packing as in the engine (createWasmKernels gives every thread a buffer)
  const pack = packBuffer(bench);
  bench.exports.set_pack_buffer(pack.ptr, pack.bytes);
  return bench;
}

function packBuffer(bench: Bench): { ptr: number; bytes: number } {
  return { ptr: bench.arena.float32(PACK_BUFFER_BYTES / 4).byteOffset, bytes: PACK_BUFFER_BYTES };
}

/**
 * Seconds per call: the best of short batches over `seconds` (after a warm-up that lets V8 tier
 * up). The best batch, not the mean, because the 2 cores are shared and other work only adds time.
 */
function time(fn: () => void, seconds: number): number {
  const warm = performance.now();
  while (performance.now() - warm < seconds * 250) fn();
  let best = Infinity;
  const start = performance.now();
  while (performance.now() - start < seconds * 1000) {
    const t0 = performance.now();
    let calls = 0;
    let now = t0;
    do {
      fn();
      calls++;
      now = performance.now();
    } while (now - t0 < 10);
    best = Math.min(best, (now - t0) / 1000 / calls);
  }
  return best;
}

function gemmGflops(bench: Bench, s: Shape, seconds: number, threads: BandThreads | null = null): number {
  const { arena, exports } = bench;
  const aLen = s.kind === 'tn' ? s.K * s.M : s.M * s.K;
  const bLen = s.kind === 'nt' ? s.N * s.K : s.K * s.N;
  const a = arena.float32(aLen).fill(0.5);
  const b = arena.float32(bLen).fill(0.25);
  const out = arena.float32(s.M * s.N);
  // what the backend's matmulNT does from NT_AS_NN_MIN_ROWS rows: transpose b, then NN
  const viaNN = s.kind === 'nt' && s.M >= NT_AS_NN_MIN_ROWS;
  const bT = arena.float32(viaNN ? bLen : 1);
  const kind: Kind = viaNN ? 'nn' : s.kind;
  const fn = exports[`gemm_${kind}`];
  const [po, pa, pb] = [out.byteOffset, a.byteOffset, viaNN ? bT.byteOffset : b.byteOffset];
  const transpose = () => {
    if (viaNN) exports.transpose(bT.byteOffset, b.byteOffset, s.N, s.K);
  };
  const secs = threads
    ? time(() => (transpose(), threads.run(kind, po, pa, pb, s.M, s.N, s.K, 1)), seconds)
    : time(() => (transpose(), fn(po, pa, pb, s.M, s.N, s.K, 1)), seconds);
  for (const v of [a, b, bT, out]) arena.release(v);
  return (2 * s.M * s.N * s.K) / secs / 1e9;
}

function jsGflops(s: Shape, seconds: number): number {
  const a = new Float32Array(s.M * s.K).fill(0.5);
  const b = new Float32Array(s.N * s.K).fill(0.25);
  const out = new Float32Array(s.M * s.N);
  const fn = { nt: jsKernels.matmulNT, nn: jsKernels.matmulNN, tn: jsKernels.matmulTN }[s.kind];
  const secs = time(() => fn(out, a, b, s.M, s.N, s.K, true), seconds);
  return (2 * s.M * s.N * s.K) / secs / 1e9;
}

/** Best over chain counts (too few chains leave the pipes idle, too many spill registers). */
function peakGflops(bench: Bench, fma: boolean, seconds: number): { gflops: number; byChains: Record<number, number> } {
  const iterations = 100_000;
  const byChains: Record<number, number> = {};
  for (const chains of PEAK_CHAINS) {
    const fn = fma ? bench.exports[`simd_peak_fma_${chains}`] : bench.exports[`simd_peak_${chains}`];
    if (!fn) throw new Error('peak kernel missing from this build');
    byChains[chains] = (iterations * chains * 8) / time(() => fn(iterations), seconds) / 1e9;
  }
  return { gflops: Math.max(...Object.values(byChains)), byChains };
}

function parseBlocking(arg: string): GemmBlocking {
  const [outerRows, outerVectors, dotRows, dotCols, kChunk, mChunk] = arg.split(',').map(Number);
  const d = DEFAULT_BLOCKING;
  return { outerRows, outerVectors, dotRows, dotCols, kChunk: kChunk || d.kChunk, mChunk: mChunk || d.mChunk };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const json = args.includes('--json');
  const builds = [false, ...(relaxedSimdAvailable() && !args.includes('--no-fma') ? [true] : [])];

  if (args.includes('--sweep')) {
    const shapes = bpttShapes(64, 512).filter((s) => /forward|dhs|dWhy|dWhh whole/.test(s.label));
    console.log('blocking', shapes.map((s) => s.label).join(' | '));
    const candidates = args[args.indexOf('--sweep') + 1]?.split(';') ?? [];
    // rounds interleave the candidates and keep each one's best: load from other processes
    // comes and goes, and only ever slows a measurement down
    const runs = [];
    for (const fma of builds) {
      for (const candidate of candidates) {
        runs.push({ name: `fma ${fma} ${candidate}`, bench: await setup({ blocking: parseBlocking(candidate), fma }), best: shapes.map(() => 0) });
      }
    }
    for (let round = 0; round < 3; round++) {
      for (const run of runs) shapes.forEach((s, i) => (run.best[i] = Math.max(run.best[i], gemmGflops(run.bench, s, 0.1))));
    }
    for (const run of runs) console.log(run.name, run.best.map((g) => g.toFixed(1)).join('  '));
    return;
  }

  const shapes = [...bpttShapes(32, 128), ...bpttShapes(64, 512)];
  const js = shapes.map((s) => jsGflops(s, 0.1));
  const results = [];
  for (const fma of builds) {
    const bench = await setup({ blocking: DEFAULT_BLOCKING, fma });
    // V8 first runs wasm on its baseline compiler and swaps in optimized code for hot functions
    // from a background thread: run every product before measuring any
    for (const s of shapes) gemmGflops(bench, s, 0.1);
    const peak = peakGflops(bench, fma, 0.3);
    // the same product split over two threads (this thread + one helper), every shape forced
    const pool = await BandThreads.start(bench.module, bench.memory, bench.exports, { helpers: 1, packBuffers: [packBuffer(bench)] });
    const rows = shapes.map((s, i) => {
      const wasm = gemmGflops(bench, s, 0.25);
      const twoThreads = gemmGflops(bench, s, 0.15, pool);
      return {
        ...s, flops: 2 * s.M * s.N * s.K, wasmGflops: wasm, twoThreadsGflops: twoThreads, jsGflops: js[i],
        ofPeak: wasm / peak.gflops, overJs: wasm / js[i],
      };
    });
    await pool.close();
    results.push({ build: fma ? 'fma (f32x4.relaxed_madd)' : 'mul+add', fma, peak, rows });
  }
  const report = { machine: machine(), blocking: DEFAULT_BLOCKING, results };
  if (json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  console.log(report.machine);
  for (const r of results) {
    console.log(`\n${r.build}: WASM SIMD peak ${r.peak.gflops.toFixed(1)} GFLOP/s (${Object.entries(r.peak.byChains).map(([c, g]) => `${c} chains ${g.toFixed(1)}`).join(', ')})`);
    for (const row of r.rows) {
      console.log(
        `  ${row.label.padEnd(40)} ${row.wasmGflops.toFixed(1).padStart(5)} GFLOP/s ${(100 * row.ofPeak).toFixed(0).padStart(4)}% of peak   ` +
          `2 threads ${row.twoThreadsGflops.toFixed(1).padStart(5)}   js ${row.jsGflops.toFixed(2)} (${row.overJs.toFixed(0)}×)`,
      );
    }
  }
}

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  return `${cpu}, ${cpus().length} cores, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, node ${process.version}`;
}

await main();
