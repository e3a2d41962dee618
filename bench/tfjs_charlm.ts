// TensorFlow.js reference for `pnpm bench`: the same work as packages/rnn/bench/engine.ts.
//   node --import tsx bench/tfjs_charlm.ts --batch B --hidden H --window K --steps N [--warmup W] [--backend wasm|cpu]
// Character language model, V = 65, Elman RNN (tanh) + dense output, every tensor initialised
// U(−1/√H, 1/√H) (PyTorch's scheme), Adam lr 2e-3 (0.9, 0.999, 1e-8), softmax cross-entropy
// averaged over the B·K positions of a window, global-norm clipping at 5 (PyTorch's rule),
// truncated BPTT k1 = k2 = K with the hidden state carried between windows as a constant (no
// gradient flows into it), B parallel streams over one synthetic corpus (stream b covers
// positions [b·L, (b+1)·L)). The cell is written with tf ops; the input projection is one
// one-hot product per window, (B·K, V)·(V, H): a gather (tf.gather, what an embedding layer does)
// would be cheaper, but its gradient needs UnsortedSegmentSum, which the wasm backend lacks.
// Prints one JSON line {tokensPerSec, msPerStep, backend, ...}. Exits 3 with a message when
// @tensorflow/tfjs (or the wasm backend, for --backend wasm) cannot be loaded.

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { fillRandomWalk } from './random-walk.ts';

const V = 65;
const LR = 2e-3;
const CLIP_NORM = 5;

const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    batch: { type: 'string', default: '32' },
    hidden: { type: 'string', default: '128' },
    window: { type: 'string', default: '64' },
    steps: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    seed: { type: 'string', default: '1' },
    backend: { type: 'string', default: 'wasm' },
  },
});
function int(name: 'batch' | 'hidden' | 'window' | 'steps' | 'warmup' | 'seed'): number {
  const v = Number(values[name]);
  if (!Number.isSafeInteger(v) || v < (name === 'warmup' || name === 'seed' ? 0 : 1)) {
    process.stderr.write(`error: --${name} must be a positive integer, got '${values[name]}'\n`);
    process.exit(2);
  }
  return v;
}
const B = int('batch');
const H = int('hidden');
const K = int('window');
const steps = int('steps');
const warmup = int('warmup');
const backendName = values.backend;
if (backendName !== 'wasm' && backendName !== 'cpu') {
  process.stderr.write(`error: --backend must be wasm or cpu, got '${backendName}'\n`);
  process.exit(2);
}

type Tf = typeof import('@tensorflow/tfjs');
let tf: Tf;
try {
  tf = await import('@tensorflow/tfjs');
} catch (err) {
  process.stderr.write(`@tensorflow/tfjs is not installed (${(err as Error).message}); it is a root devDependency: pnpm install\n`);
  process.exit(3);
}
let wasmThreads: number | null = null;
if (backendName === 'wasm') {
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    // the .wasm files ship inside the npm package: load them from node_modules, never the network
    const require = createRequire(import.meta.url);
    wasm.setWasmPaths(`${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/')}`);
    await tf.setBackend('wasm');
    wasmThreads = wasm.getThreadsCount();
  } catch (err) {
    process.stderr.write(`@tensorflow/tfjs-backend-wasm could not be loaded (${(err as Error).message})\n`);
    process.exit(3);
  }
} else {
  await tf.setBackend('cpu');
}
await tf.ready();

// synthetic corpus: a random walk over the vocabulary, the engine bench's rule (xorshift here;
// the ids only need some structure)
const total = B * K * (steps + warmup + 1) + 1;
const tokens = new Int32Array(total);
fillRandomWalk(tokens, V, (int('seed') * 2654435761) >>> 0 || 1);
const L = Math.floor((total - 1) / B);

/** Window `w`'s (B, K) inputs and targets: stream b reads positions b·L + w·K + t. */
function windowIds(w: number): { inputs: Int32Array; targets: Int32Array } {
  const inputs = new Int32Array(B * K);
  const targets = new Int32Array(B * K);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < K; t++) {
      const p = b * L + w * K + t;
      inputs[b * K + t] = tokens[p];
      targets[b * K + t] = tokens[p + 1];
    }
  }
  return { inputs, targets };
}

const bound = 1 / Math.sqrt(H);
const uniform = (shape: number[], name: string) => tf.variable(tf.randomUniform(shape, -bound, bound, 'float32', 1), true, name);
const Wxh = uniform([V, H], 'Wxh'); // W_ih transposed
const Whh = uniform([H, H], 'Whh');
const bih = uniform([H], 'bih');
const bhh = uniform([H], 'bhh');
const Why = uniform([H, V], 'Why');
const by = uniform([V], 'by');
const params = [Wxh, Whh, bih, bhh, Why, by];
const optimizer = tf.train.adam(LR, 0.9, 0.999, 1e-8);
let h: import('@tensorflow/tfjs').Tensor2D = tf.zeros([B, H]); // (B, H), carried between windows

function trainStep(w: number): number {
  const { inputs, targets } = windowIds(w);
  const lossValue = tf.tidy(() => {
    const oneHotInputs = tf.oneHot(tf.tensor1d(inputs, 'int32'), V); // (B·K, V), row b·K + t
    const labels = tf.oneHot(tf.tensor1d(targets, 'int32'), V); // (B·K, V)
    const h0 = h;
    let hLast: import('@tensorflow/tfjs').Tensor2D = h0;
    const { value, grads } = tf.variableGrads(() => {
      // the input projection of the whole window as one product (B·K, V)·(V, H)
      const x = tf.matMul(oneHotInputs, Wxh).add(bih).reshape([B, K, H]);
      const xs = tf.unstack(x, 1); // K × (B, H)
      let hs: import('@tensorflow/tfjs').Tensor2D = h0;
      const outs: import('@tensorflow/tfjs').Tensor2D[] = [];
      for (let t = 0; t < K; t++) {
        hs = tf.tanh(xs[t].add(tf.matMul(hs, Whh)).add(bhh)) as import('@tensorflow/tfjs').Tensor2D;
        outs.push(hs);
      }
      hLast = tf.keep(hs); // variableGrads disposes everything else its function made
      const logits = tf.matMul(tf.stack(outs, 1).reshape([B * K, H]), Why).add(by); // (B·K, V)
      return tf.losses.softmaxCrossEntropy(labels, logits) as import('@tensorflow/tfjs').Scalar; // mean
    }, params);
    // global-norm clipping, PyTorch's clip_grad_norm_ rule
    const names = Object.keys(grads);
    const norm = tf.sqrt(tf.addN(names.map((n) => tf.sum(tf.square(grads[n])))));
    const scale = tf.minimum(tf.scalar(1), tf.div(tf.scalar(CLIP_NORM), tf.add(norm, 1e-6)));
    optimizer.applyGradients(names.map((name) => ({ name, tensor: tf.mul(grads[name], scale) })));
    h = hLast; // detached: the next window's tape sees it as a constant
    h0.dispose();
    return value.dataSync()[0];
  });
  return lossValue;
}

for (let i = 0; i < warmup; i++) trainStep(i);
let lastLoss = 0;
const t0 = performance.now();
for (let i = warmup; i < warmup + steps; i++) lastLoss = trainStep(i);
const ms = performance.now() - t0;
const result = {
  tokensPerSec: Math.round((B * K * steps * 1000) / ms),
  msPerStep: +(ms / steps).toFixed(3),
  backend: tf.getBackend(),
  wasmThreads,
  config: { batch: B, hidden: H, window: K, vocab: V, steps, warmup, optimizer: 'adam', lr: LR, clipNorm: CLIP_NORM, bptt: { k1: K, k2: K }, dtype: 'float32' },
  finalLoss: +lastLoss.toFixed(4),
  tfjs: tf.version.tfjs,
  tensorsAlive: tf.memory().numTensors,
};
process.stdout.write(`${JSON.stringify(result)}\n`);
