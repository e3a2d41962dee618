// `pnpm bench`: our engine (WASM SIMD and plain JS backends), PyTorch and TensorFlow.js side by
// side on the char-LM configurations S, M, L, then the GEMM micro-benchmark and peak memory on a
// 1 MB and a 100 MB corpus. Prints tables and writes everything to bench/results/latest.json.
//   pnpm bench [-- --quick] [--only engine,gemm,memory] [--configs S,M,L] [--rounds N] [--out FILE]
// Every measurement runs in its own child process (a fresh heap, its own peak RSS, no JIT state
// shared between systems). Ours (WASM) and PyTorch are measured `--rounds` times (default 2),
// interleaved, each with 1 and 2 threads, keeping the best: the 2 cores may be shared, and other
// load only ever slows a run down.
// --quick: tiny step counts, for checking that everything runs (figures meaningless).

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const NODE_TS = [process.execPath, '--import', 'tsx'];
const PYTHON = process.env.PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    quick: { type: 'boolean', default: false },
    only: { type: 'string', default: 'engine,gemm,memory' },
    configs: { type: 'string', default: 'S,M,L' },
    rounds: { type: 'string', default: '2' },
    out: { type: 'string', default: join(ROOT, 'bench/results/latest.json') },
  },
});
const sections = new Set(args.only.split(','));
for (const s of sections) if (!['engine', 'gemm', 'memory'].includes(s)) fail(`--only: unknown section '${s}' (engine, gemm, memory)`);
const rounds = Number(args.rounds);
if (!Number.isSafeInteger(rounds) || rounds < 1) fail(`--rounds must be a positive integer, got '${args.rounds}'`);

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

// ---------------------------------------------------------------------------------------------
// configurations and step counts (warm-up, timed): bounded so the whole run stays near 5 minutes
// on a quiet 2-core machine; TF.js at L runs seconds per step, so it gets very few

interface Steps {
  warmup: number;
  steps: number;
}
interface Config {
  name: 'S' | 'M' | 'L';
  batch: number;
  hidden: number;
  window: number;
  oursWasm: Steps;
  oursJs: Steps;
  torch: Steps;
  tfjsWasm: Steps;
  tfjsCpu: Steps;
}
const ALL_CONFIGS: Config[] = [
  {
    name: 'S', batch: 1, hidden: 100, window: 25,
    oursWasm: { warmup: 200, steps: 3000 }, oursJs: { warmup: 50, steps: 400 }, torch: { warmup: 50, steps: 500 },
    tfjsWasm: { warmup: 5, steps: 40 }, tfjsCpu: { warmup: 5, steps: 30 },
  },
  {
    name: 'M', batch: 32, hidden: 128, window: 64,
    oursWasm: { warmup: 20, steps: 200 }, oursJs: { warmup: 3, steps: 15 }, torch: { warmup: 5, steps: 60 },
    tfjsWasm: { warmup: 1, steps: 5 }, tfjsCpu: { warmup: 1, steps: 3 },
  },
  {
    name: 'L', batch: 64, hidden: 512, window: 64,
    oursWasm: { warmup: 3, steps: 25 }, oursJs: { warmup: 1, steps: 2 }, torch: { warmup: 3, steps: 15 },
    tfjsWasm: { warmup: 1, steps: 2 }, tfjsCpu: { warmup: 1, steps: 1 },
  },
];
const quickSteps = (s: Steps): Steps => ({ warmup: Math.min(s.warmup, 1), steps: Math.min(s.steps, 2) });
const configs = args.configs.split(',').map((name) => {
  const c = ALL_CONFIGS.find((x) => x.name === name);
  if (!c) fail(`--configs: unknown configuration '${name}' (S, M, L)`);
  if (!args.quick) return c;
  return { ...c, oursWasm: quickSteps(c.oursWasm), oursJs: quickSteps(c.oursJs), torch: quickSteps(c.torch), tfjsWasm: quickSteps(c.tfjsWasm), tfjsCpu: quickSteps(c.tfjsCpu) };
});

// ---------------------------------------------------------------------------------------------
// child processes

type Outcome<T> = { ok: true; results: T[]; command: string } | { ok: false; skipped: boolean; message: string; command: string };

const shellQuote = (a: string) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`);
function displayCommand(argv: string[]): string {
  const shown = argv.map((a, i) => (i === 0 && a === process.execPath ? 'node' : a.startsWith(ROOT) ? relative(ROOT, a) || '.' : a));
  return shown.map(shellQuote).join(' ');
}

/**
 * Runs `argv`, returning every JSON object line it printed. Exit code 3 means "framework
 * missing" (the reference scripts' convention) and becomes a skip with the child's message.
 */
function runJson<T>(argv: string[], timeoutSeconds: number, env: NodeJS.ProcessEnv = {}): Promise<Outcome<T>> {
  const command = displayCommand(argv);
  return new Promise((done) => {
    const child = spawn(argv[0], argv.slice(1), { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutSeconds * 1000);
    child.on('error', (err) => {
      clearTimeout(timer);
      done({ ok: false, skipped: true, message: `${argv[0]} could not be started: ${err.message}`, command });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      // minified bundles can print one enormous line: keep the end of the last few lines only
      const tail = stderr.trim().split('\n').slice(-4).map((l) => (l.length > 300 ? `…${l.slice(-300)}` : l)).join(' | ');
      if (signal) return done({ ok: false, skipped: false, message: `killed by ${signal} after the ${timeoutSeconds} s limit`, command });
      if (code === 3) return done({ ok: false, skipped: true, message: tail || 'skipped (exit 3)', command });
      if (code !== 0) return done({ ok: false, skipped: false, message: `exit ${code}: ${tail}`, command });
      let results: T[];
      try {
        results = parseJsonOutput<T>(stdout);
      } catch (err) {
        return done({ ok: false, skipped: false, message: `unreadable JSON output: ${(err as Error).message}`, command });
      }
      if (results.length === 0) return done({ ok: false, skipped: false, message: 'printed no JSON result', command });
      done({ ok: true, results, command });
    });
  });
}

/** One JSON document (gemm.ts pretty-prints), or one JSON object per line after any chatter. */
function parseJsonOutput<T>(stdout: string): T[] {
  const whole = stdout.trim();
  if (whole.startsWith('{') && whole.endsWith('}')) {
    try {
      return [JSON.parse(whole) as T];
    } catch {
      // several objects, one per line
    }
  }
  return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as T);
}

function describeFailure(o: Outcome<unknown>): string {
  return o.ok ? '' : `${o.skipped ? 'skipped' : 'FAILED'}: ${o.message}`;
}

// ---------------------------------------------------------------------------------------------
// engine comparison

interface OursResult {
  tokensPerSec: number;
  msPerStep: number;
  backend: string;
  /** Threads the WASM products ran on (engine.ts reports it; the worker's default). */
  threads?: number;
  finalLoss: number;
}
interface TorchResult {
  tokensPerSec: number;
  msPerStep: number;
  variant: 'onehot' | 'gather';
  threads: number;
  finalLoss: number;
  torch: string;
  blas: string;
}
interface TfjsResult {
  tokensPerSec: number;
  msPerStep: number;
  backend: string;
  wasmThreads: number | null;
  finalLoss: number;
  tfjs: string;
}
interface Measured<T> {
  best: T | null;
  runs: T[];
  commands: string[];
  error?: string;
}

function emptyMeasured<T>(): Measured<T> {
  return { best: null, runs: [], commands: [] };
}
function absorb<T extends { tokensPerSec: number }>(into: Measured<T>, o: Outcome<T>): void {
  if (!into.commands.includes(o.command)) into.commands.push(o.command);
  if (!o.ok) {
    into.error ??= describeFailure(o);
    return;
  }
  into.runs.push(...o.results);
  for (const r of o.results) if (into.best === null || r.tokensPerSec > into.best.tokensPerSec) into.best = r;
}

const sizeArgs = (c: Config, s: Steps) => ['--batch', `${c.batch}`, '--hidden', `${c.hidden}`, '--window', `${c.window}`, '--steps', `${s.steps}`, '--warmup', `${s.warmup}`];
const ours = (c: Config, backend: 'wasm' | 'js', s: Steps, threads?: number) =>
  runJson<OursResult>(
    [...NODE_TS, join(ROOT, 'packages/rnn/bench/engine.ts'), ...sizeArgs(c, s), '--backend', backend, ...(threads ? ['--threads', `${threads}`] : []), '--json'],
    300,
  );
const torch = (c: Config) =>
  runJson<TorchResult>([PYTHON, join(ROOT, 'bench/torch_charlm.py'), ...sizeArgs(c, c.torch), '--variants', 'onehot,gather', '--threads', '1,2'], 300);
const tfjs = (c: Config, backend: 'wasm' | 'cpu', s: Steps) =>
  runJson<TfjsResult>([...NODE_TS, join(ROOT, 'bench/tfjs_charlm.ts'), ...sizeArgs(c, s), '--backend', backend], 300);

interface EngineRow {
  config: { name: string; batch: number; hidden: number; window: number; vocab: 65 };
  loadBefore: number[];
  oursWasm: Measured<OursResult>;
  oursJs: Measured<OursResult>;
  pytorch: Measured<TorchResult>;
  tfjs: Measured<TfjsResult>;
  ratios: { oursOverPytorch: number | null; oursOverTfjs: number | null; oursJsOverPytorch: number | null };
}

async function engineSection(): Promise<EngineRow[]> {
  const rows: EngineRow[] = [];
  for (const c of configs) {
    const row: EngineRow = {
      config: { name: c.name, batch: c.batch, hidden: c.hidden, window: c.window, vocab: 65 },
      loadBefore: loadavg(),
      oursWasm: emptyMeasured(), oursJs: emptyMeasured(), pytorch: emptyMeasured(), tfjs: emptyMeasured(),
      ratios: { oursOverPytorch: null, oursOverTfjs: null, oursJsOverPytorch: null },
    };
    log(`config ${c.name} (B ${c.batch}, H ${c.hidden}, K ${c.window}) — load ${fmtLoad(row.loadBefore)}`);
    for (let r = 0; r < rounds; r++) {
      // one and two threads, like PyTorch (the worker's default is two from H = 256)
      for (const threads of [1, 2]) absorb(row.oursWasm, await ours(c, 'wasm', c.oursWasm, threads));
      log(`  round ${r + 1}: ours wasm best ${fmtTps(row.oursWasm.best?.tokensPerSec)}`);
      absorb(row.pytorch, await torch(c));
      log(`  round ${r + 1}: PyTorch best ${fmtTps(row.pytorch.best?.tokensPerSec)}${row.pytorch.error ? ` (${row.pytorch.error})` : ''}`);
    }
    absorb(row.oursJs, await ours(c, 'js', c.oursJs));
    log(`  ours js ${fmtTps(row.oursJs.best?.tokensPerSec)}`);
    absorb(row.tfjs, await tfjs(c, 'wasm', c.tfjsWasm));
    absorb(row.tfjs, await tfjs(c, 'cpu', c.tfjsCpu));
    log(`  TF.js best ${fmtTps(row.tfjs.best?.tokensPerSec)}${row.tfjs.error ? ` (${row.tfjs.error})` : ''}`);
    const w = row.oursWasm.best?.tokensPerSec;
    const j = row.oursJs.best?.tokensPerSec;
    const p = row.pytorch.best?.tokensPerSec;
    const t = row.tfjs.best?.tokensPerSec;
    row.ratios = {
      oursOverPytorch: w && p ? w / p : null,
      oursOverTfjs: w && t ? w / t : null,
      oursJsOverPytorch: j && p ? j / p : null,
    };
    rows.push(row);
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------
// GEMM micro-benchmark (packages/rnn/bench/gemm.ts, reported as it measures)

interface GemmRow {
  label: string;
  M: number;
  N: number;
  K: number;
  wasmGflops: number;
  twoThreadsGflops: number;
  jsGflops: number;
  ofPeak: number;
}
interface GemmReport {
  machine: string;
  results: { build: string; fma: boolean; peak: { gflops: number; byChains: Record<string, number> }; rows: GemmRow[] }[];
}

async function gemmSection(): Promise<{ report: GemmReport | null; command: string; error?: string }> {
  log('GEMM micro-benchmark (about 30 s)');
  const o = await runJson<GemmReport>([...NODE_TS, join(ROOT, 'packages/rnn/bench/gemm.ts'), '--json'], 300);
  if (!o.ok) return { report: null, command: o.command, error: describeFailure(o) };
  return { report: o.results[0], command: o.command };
}

// ---------------------------------------------------------------------------------------------
// memory

interface MemoryProbe {
  corpusChars: number;
  path: 'tokens' | 'text';
  backend: string;
  steps: number;
  tokenArrayBytes: number;
  peakRssBytes: number;
  marks: Record<string, { rssMiB: number; peakMiB: number }>;
}
interface MemoryComparison {
  path: 'tokens' | 'text';
  small: MemoryProbe | null;
  large: MemoryProbe | null;
  peakGrowthBytes: number | null;
  tokenArrayGrowthBytes: number | null;
  growthOverTokenArray: number | null;
  withinTenPercent: boolean | null;
  commands: string[];
  error?: string;
}

const MB = 1_000_000;
async function memorySection(): Promise<MemoryComparison[]> {
  const sizes = args.quick ? [MB, 10 * MB] : [MB, 100 * MB];
  const out: MemoryComparison[] = [];
  for (const path of ['tokens', 'text'] as const) {
    log(`memory: ${path} path, ${sizes.map((s) => `${s / MB} MB`).join(' and ')}`);
    const probes: (MemoryProbe | null)[] = [];
    const commands: string[] = [];
    let error: string | undefined;
    for (const bytes of sizes) {
      const o = await runJson<MemoryProbe>([...NODE_TS, join(ROOT, 'bench/memory.ts'), '--bytes', `${bytes}`, '--path', path, '--backend', 'wasm', '--steps', '5'], 300);
      commands.push(o.command);
      if (o.ok) probes.push(o.results[0]);
      else {
        probes.push(null);
        error ??= describeFailure(o);
      }
    }
    const [small, large] = probes;
    const growth = small && large ? large.peakRssBytes - small.peakRssBytes : null;
    const tokenGrowth = small && large ? large.tokenArrayBytes - small.tokenArrayBytes : null;
    out.push({
      path, small, large, peakGrowthBytes: growth, tokenArrayGrowthBytes: tokenGrowth,
      growthOverTokenArray: growth !== null && tokenGrowth ? growth / tokenGrowth : null,
      withinTenPercent: growth !== null && tokenGrowth !== null ? growth <= 1.1 * tokenGrowth : null,
      commands, ...(error ? { error } : {}),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// printing

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}
/** The report's Markdown, printed as it goes and saved beside the JSON (BENCHMARKS.md quotes it). */
const markdown: string[] = [];
function emit(text: string): void {
  console.log(text);
  markdown.push(text);
}
const fmtLoad = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
function fmtTps(x: number | undefined | null): string {
  if (x === undefined || x === null) return '—';
  return x >= 10_000 ? `${(x / 1000).toFixed(0)} k` : x >= 1000 ? `${(x / 1000).toFixed(1)} k` : `${x}`;
}
const fmtRatio = (x: number | null) => (x === null ? '—' : x >= 10 ? `${x.toFixed(0)}×` : `${x.toFixed(2)}×`);
/** Sustained rate of the necessary products: 6·(H² + H·V) flops per token. */
const flopsPerToken = (c: { hidden: number }) => 6 * (c.hidden * c.hidden + c.hidden * 65);
const fmtGflops = (tps: number | undefined, c: { hidden: number }) => (tps ? ((tps * flopsPerToken(c)) / 1e9).toFixed(1) : '—');
const mibOf = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

/** A Markdown table; the first `textColumns` columns are left-aligned, the rest (figures) right. */
function table(header: string[], rows: string[][], textColumns = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const left = (i: number) => i < textColumns;
  const line = (cells: string[]) => `| ${cells.map((c, i) => (left(i) ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => `${'-'.repeat(w + 1)}${left(i) ? '-' : ':'}`).join('|')}|`;
  return [line(header), rule, ...rows.map(line)].join('\n');
}

function printEngine(rows: EngineRow[]): void {
  emit('\n## Tokens per second (char LM, V 65, Adam, clip 5, TBPTT k1 = k2 = K)\n');
  emit(
    table(
      ['config (B, H, K)', 'ours wasm', 'ours js', 'PyTorch best', 'TF.js best', 'ours ÷ PyTorch', 'ours ÷ TF.js', 'ours GFLOP/s', 'PyTorch GFLOP/s'],
      rows.map((r) => [
        `${r.config.name} (${r.config.batch}, ${r.config.hidden}, ${r.config.window})`,
        r.oursWasm.best ? `${fmtTps(r.oursWasm.best.tokensPerSec)} (${r.oursWasm.best.threads ?? 1}t)` : '—',
        fmtTps(r.oursJs.best?.tokensPerSec),
        r.pytorch.best ? `${fmtTps(r.pytorch.best.tokensPerSec)} (${r.pytorch.best.variant}, ${r.pytorch.best.threads}t)` : 'skipped',
        r.tfjs.best ? `${fmtTps(r.tfjs.best.tokensPerSec)} (${r.tfjs.best.backend})` : 'skipped',
        fmtRatio(r.ratios.oursOverPytorch),
        fmtRatio(r.ratios.oursOverTfjs),
        fmtGflops(r.oursWasm.best?.tokensPerSec, r.config),
        fmtGflops(r.pytorch.best?.tokensPerSec, r.config),
      ]),
    ),
  );
  emit('\nGFLOP/s = tokens/s × 6·(H² + H·V): the products BPTT needs per token (forward h·Whh and logits,');
  emit('backward dh·Whh, dWhh, dlogits·Why, dWhy); the input projection is a gather and is not counted.');
  emit('\nEvery reference run (best of the rounds for PyTorch):\n');
  const detail: string[][] = [];
  for (const r of rows) {
    const bestTorch = new Map<string, TorchResult>();
    for (const t of r.pytorch.runs) {
      const key = `${t.variant} ${t.threads}`;
      const seen = bestTorch.get(key);
      if (!seen || t.tokensPerSec > seen.tokensPerSec) bestTorch.set(key, t);
    }
    for (const t of bestTorch.values()) detail.push([r.config.name, `PyTorch ${t.variant}, ${t.threads} thread${t.threads > 1 ? 's' : ''}`, fmtTps(t.tokensPerSec), `${t.msPerStep}`, `${t.finalLoss}`]);
    for (const t of r.tfjs.runs) detail.push([r.config.name, `TF.js ${t.backend}`, fmtTps(t.tokensPerSec), `${t.msPerStep}`, `${t.finalLoss}`]);
    for (const [name, m] of [['ours wasm', r.oursWasm], ['ours js', r.oursJs]] as const) {
      const bestByThreads = new Map<number, OursResult>();
      for (const o of m.runs) {
        const seen = bestByThreads.get(o.threads ?? 1);
        if (!seen || o.tokensPerSec > seen.tokensPerSec) bestByThreads.set(o.threads ?? 1, o);
      }
      for (const [threads, o] of bestByThreads) {
        detail.push([r.config.name, `${name}, ${threads} thread${threads > 1 ? 's' : ''}`, fmtTps(o.tokensPerSec), `${o.msPerStep}`, `${o.finalLoss}`]);
      }
    }
    for (const [name, m] of [['ours wasm', r.oursWasm], ['ours js', r.oursJs], ['PyTorch', r.pytorch], ['TF.js', r.tfjs]] as const) {
      if (m.error) detail.push([r.config.name, `${name}: ${m.error}`, '', '', '']);
    }
  }
  emit(table(['config', 'system', 'tokens/s', 'ms/step', 'last loss'], detail, 2));
}

function printGemm(g: Awaited<ReturnType<typeof gemmSection>>): void {
  emit('\n## GEMM micro-benchmark (packages/rnn/bench/gemm.ts)\n');
  if (!g.report) {
    emit(g.error ?? 'no report');
    return;
  }
  emit(g.report.machine);
  for (const b of g.report.results) {
    emit(`\n${b.build}: measured WASM SIMD peak ${b.peak.gflops.toFixed(1)} GFLOP/s (one thread)\n`);
    emit(
      table(
        ['product (M, N, K)', 'GFLOP/s', '% of peak', '2 threads', 'plain JS'],
        b.rows.map((r) => [r.label, r.wasmGflops.toFixed(1), `${(100 * r.ofPeak).toFixed(0)} %`, r.twoThreadsGflops.toFixed(1), r.jsGflops.toFixed(2)]),
      ),
    );
  }
}

function printMemory(m: MemoryComparison[]): void {
  emit('\n## Peak RSS, 5 training steps at M (B 32, H 128, K 64) on the wasm backend\n');
  emit(
    table(
      ['corpus path', 'peak, small', 'peak, large', 'growth', 'token array growth', 'growth ÷ token array', '≤ +10 %'],
      m.map((c) => [
        `${c.path}${c.small && c.large ? ` (${c.small.corpusChars / MB} MB → ${c.large.corpusChars / MB} MB)` : ''}`,
        c.small ? mibOf(c.small.peakRssBytes) : '—',
        c.large ? mibOf(c.large.peakRssBytes) : '—',
        c.peakGrowthBytes === null ? '—' : mibOf(c.peakGrowthBytes),
        c.tokenArrayGrowthBytes === null ? '—' : mibOf(c.tokenArrayGrowthBytes),
        c.growthOverTokenArray === null ? '—' : c.growthOverTokenArray.toFixed(3),
        c.withinTenPercent === null ? '—' : c.withinTenPercent ? 'yes' : 'NO',
      ]),
    ),
  );
  for (const c of m) if (c.error) emit(`${c.path}: ${c.error}`);
  emit('\ntokens: the corpus generated straight into its Int32Array (what the engine holds).');
  emit('text: the worker path — UTF-8 bytes in a textCorpusBuffer → parseTextCorpusBytes in place → Trainer.');
}

// ---------------------------------------------------------------------------------------------

function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('model name'));
    if (line) return line.split(':')[1].trim();
  } catch {
    // not Linux: fall through
  }
  return cpus()[0]?.model ?? 'unknown';
}

/** The commit measured, and whether the engine's sources differ from it (read-only git). */
function revision(): { head: string; engineUncommittedChanges: boolean } | null {
  try {
    const git = (...a: string[]) => execFileSync('git', a, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { head: git('rev-parse', 'HEAD'), engineUncommittedChanges: git('status', '--porcelain', '--', 'packages/rnn') !== '' };
  } catch {
    return null; // not a git checkout
  }
}

async function main(): Promise<void> {
  const started = new Date();
  const machine = {
    cpu: cpuModel(),
    logicalCpus: cpus().length,
    memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    loadAtStart: loadavg(),
  };
  const measured = revision();
  log(`pnpm bench — ${machine.cpu}, ${machine.logicalCpus} CPUs, node ${machine.node}, load ${fmtLoad(machine.loadAtStart)}${args.quick ? ' (QUICK: figures meaningless)' : ''}`);
  const engine = sections.has('engine') ? await engineSection() : [];
  if (engine.length > 0) printEngine(engine);
  const gemm = sections.has('gemm') ? await gemmSection() : null;
  if (gemm) printGemm(gemm);
  const memory = sections.has('memory') ? await memorySection() : [];
  if (memory.length > 0) printMemory(memory);

  const versions = {
    torch: engine.flatMap((r) => r.pytorch.runs)[0]?.torch ?? null,
    blas: engine.flatMap((r) => r.pytorch.runs)[0]?.blas ?? null,
    tfjs: engine.flatMap((r) => r.tfjs.runs)[0]?.tfjs ?? null,
  };
  const report = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    quick: args.quick,
    rounds,
    machine: { ...machine, loadAtEnd: loadavg() },
    revision: measured,
    versions,
    engine,
    gemm,
    memory,
  };
  mkdirSync(dirname(resolve(args.out)), { recursive: true });
  writeFileSync(resolve(args.out), `${JSON.stringify(report, null, 2)}\n`);
  const mdPath = resolve(args.out).replace(/\.json$/, '') + '.md';
  emit(`\n${report.finishedAt}: ${machine.cpu}, ${machine.logicalCpus} CPUs, node ${machine.node}, torch ${versions.torch ?? '—'}, tfjs ${versions.tfjs ?? '—'}; load average ${fmtLoad(machine.loadAtStart)} at start, ${fmtLoad(report.machine.loadAtEnd)} at end; commit ${measured ? `${measured.head.slice(0, 7)}${measured.engineUncommittedChanges ? ' + uncommitted changes in packages/rnn' : ''}` : 'unknown'}${args.quick ? ' (QUICK run: figures meaningless)' : ''}`);
  writeFileSync(mdPath, `${markdown.join('\n')}\n`);
  console.log(`JSON: ${relative(process.cwd(), resolve(args.out))}, Markdown: ${relative(process.cwd(), mdPath)}`);
}

await main();
