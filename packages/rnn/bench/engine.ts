// Engine benchmark: the real training path (Trainer.step) of a character language model.
//   pnpm bench:engine -- --batch B --hidden H --window K --steps N [--warmup W] [--backend wasm|js] [--threads T|auto] [--json] [--profile] [--wat FILE]
// The backend comes from createDefaultKernels, exactly as the worker trains: WASM SIMD, two
// threads when the window recurrence is worth splitting (--threads auto, the default; see
// kernels/select.ts), else one; --threads N overrides.
// Setting: V = 65 (tiny-shakespeare-sized vocabulary), Adam, clip norm 5, TBPTT k1 = k2 = K,
// synthetic corpus long enough that the timed steps never wrap an epoch.
// --profile also reports each kernel's time per step (bench/kernel-profile.ts; the timers add
// a little to tokens/s) and, with two threads, each split call's own band vs wait for the helper.
// --wat FILE writes the exact WebAssembly text this run's wasm kernels were assembled from (the
// same as `unroll-rnn wat`), so a result can be read next to the code that produced it.

import { parseArgs } from 'node:util';
import { cpus } from 'node:os';
import type { TokenStream } from '../src/data/dataset.ts';
import { Prng } from '../src/prng.ts';
import { createDefaultKernels } from '../src/kernels/select.ts';
import { Trainer } from '../src/trainer.ts';
import { profileKernels } from './kernel-profile.ts';
import { writeFileSync } from 'node:fs';
import { kernelSource } from '../src/kernels/wasm/build.ts';
import { defaultVariant } from '../src/kernels/wasm/load.ts';

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    batch: { type: 'string', default: '32' },
    hidden: { type: 'string', default: '128' },
    window: { type: 'string', default: '64' },
    steps: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '10' },
    seed: { type: 'string', default: '1' },
    backend: { type: 'string', default: 'wasm' },
    threads: { type: 'string' },
    json: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    wat: { type: 'string' },
  },
});
const int = (name: keyof typeof values) => {
  const v = Number(values[name]);
  if (!Number.isSafeInteger(v) || v < (name === 'warmup' ? 0 : 1)) {
    process.stderr.write(`error: --${name} must be a positive integer, got '${values[name]}'\n`);
    process.exit(2);
  }
  return v;
};
const B = int('batch');
const H = int('hidden');
const K = int('window');
const steps = int('steps');
const warmup = int('warmup');
const V = 65;
if (values.backend !== 'js' && values.backend !== 'wasm') {
  process.stderr.write(`error: --backend must be js or wasm, got '${values.backend}'\n`);
  process.exit(2);
}
let threads: number | 'auto' | undefined;
if (values.threads !== undefined) {
  threads = values.threads === 'auto' ? 'auto' : Number(values.threads);
  if (threads !== 'auto' && (!Number.isSafeInteger(threads) || threads < 1)) {
    process.stderr.write(`error: --threads must be a positive integer or auto, got '${values.threads}'\n`);
    process.exit(2);
  }
}
if (values.wat !== undefined) {
  const source = kernelSource(defaultVariant());
  writeFileSync(values.wat, source.text);
  process.stderr.write(`wasm kernel text (fma ${defaultVariant().fma ? 'on' : 'off'}, sha256 ${source.hash}) written to ${values.wat}\n`);
}
const kernels = await createDefaultKernels({
  backend: values.backend,
  hidden: H,
  batch: B,
  window: K,
  ...(threads !== undefined ? { threads } : {}),
  onFallback: (reason) => process.stderr.write(`warning: using the JS kernels: ${reason}\n`),
});
const profile = values.profile ? profileKernels(kernels) : null;

// synthetic corpus: a random walk over the vocabulary (some structure, no file needed)
const total = B * K * (steps + warmup + 1) + 1;
const rng = new Prng(int('seed'));
const tokens = new Int32Array(total);
let cur = 0;
for (let i = 0; i < total; i++) {
  cur = (cur + 1 + (rng.nextUint32() % 5)) % V;
  tokens[i] = cur;
}
const corpus: TokenStream = { kind: 'token-stream', tokens, vocab: Array.from({ length: V }, (_, i) => String.fromCharCode(48 + i)) };

const trainer = Trainer.create(
  {
    task: 'lm',
    model: { inputKind: 'tokens', inputSize: V, hiddenSize: H, outputSize: V, activation: 'tanh' },
    init: { scheme: 'pytorch' },
    optimizer: { name: 'adam', lr: 2e-3 },
    schedule: { kind: 'constant' },
    clip: { mode: 'norm', maxNorm: 5 },
    bptt: { mode: 'truncated', k1: K, k2: K },
    reduction: 'mean',
    batchSize: B,
    epochs: 1,
    seed: 1,
  },
  corpus,
  { kernels: profile?.kernels ?? kernels },
);

for (let i = 0; i < warmup; i++) trainer.step();
profile?.start();
let lastLoss = 0;
const t0 = performance.now();
for (let i = 0; i < steps; i++) {
  const m = trainer.step();
  if (m === null) throw new Error('corpus exhausted during timing');
  lastLoss = m.loss;
}
const ms = performance.now() - t0;
const result = {
  tokensPerSec: Math.round((B * K * steps * 1000) / ms),
  msPerStep: +(ms / steps).toFixed(3),
  config: { batch: B, hidden: H, window: K, vocab: V, steps, warmup, optimizer: 'adam', clipNorm: 5, bptt: { k1: K, k2: K }, dtype: 'float32' },
  backend: trainer.kernels.name,
  kernelsId: trainer.backend,
  threads: 'threads' in kernels ? (kernels as { threads: number }).threads : 1,
  params: trainer.layout.total,
  finalLoss: +lastLoss.toFixed(4),
  node: process.version,
  cpu: cpus()[0]?.model ?? 'unknown',
  ...(profile !== null ? { profile: profile.report(steps) } : {}),
};
if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
else process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
trainer.dispose();
await kernels.close?.();
