// Memory probe for `pnpm bench`, run once per corpus size in a fresh child process so that its
// peak RSS (process.resourceUsage().maxRSS) belongs to this training run alone.
//   node --import tsx bench/memory.ts --bytes N [--path tokens|text] [--backend wasm|js] [--steps S]
// Trains S optimizer steps of the character LM at config M (B 32, H 128, K 64, V 65, Adam, clip 5,
// TBPTT k1 = k2 = K) on a generated corpus of N characters, then prints one JSON line.
// --path tokens: the corpus is generated straight into its Int32Array token array (what the
//   engine itself holds); the growth criterion is about this path.
// --path text: the worker's path (apps/worker/src/training-thread.ts): the corpus as UTF-8 bytes,
//   in a textCorpusBuffer, decoded in place into its token array by parseTextCorpusBytes, trained on.

import { parseArgs } from 'node:util';
import { fillRandomWalk } from './random-walk.ts';
import { type TokenStream, Trainer, parseTextCorpusBytes, textCorpusBuffer } from '../packages/rnn/src/index.ts';
import type { Kernels } from '../packages/rnn/src/kernels/kernels.ts';
import { jsKernels } from '../packages/rnn/src/kernels/js.ts';

const V = 65;
const { values } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    bytes: { type: 'string' },
    path: { type: 'string', default: 'tokens' },
    backend: { type: 'string', default: 'wasm' },
    steps: { type: 'string', default: '5' },
  },
});
const bytes = Number(values.bytes);
const steps = Number(values.steps);
if (!Number.isSafeInteger(bytes) || bytes < 2) throw new RangeError(`--bytes must be an integer >= 2, got '${values.bytes}'`);
if (!Number.isSafeInteger(steps) || steps < 1) throw new RangeError(`--steps must be a positive integer, got '${values.steps}'`);
if (values.path !== 'tokens' && values.path !== 'text') throw new RangeError(`--path must be tokens or text, got '${values.path}'`);
if (values.backend !== 'wasm' && values.backend !== 'js') throw new RangeError(`--backend must be wasm or js, got '${values.backend}'`);

const mib = (n: number) => +(n / 2 ** 20).toFixed(1);
const rssNow = () => process.memoryUsage().rss;
const peakRss = () => process.resourceUsage().maxRSS * 1024; // maxRSS is in KiB
const marks: Record<string, { rssMiB: number; peakMiB: number }> = {};
const mark = (name: string) => (marks[name] = { rssMiB: mib(rssNow()), peakMiB: mib(peakRss()) });

const kernels: Kernels =
  values.backend === 'wasm' ? await (await import('../packages/rnn/src/kernels/wasm/index.ts')).createWasmKernels() : jsKernels;
mark('started');

// the corpus: the reference benchmarks' random walk over V ids; as text, id is '0' + id (ASCII,
// one UTF-8 byte each)
const WALK_STATE = 0x9e3779b9;

let corpus: TokenStream;
if (values.path === 'tokens') {
  const tokens = new Int32Array(bytes);
  fillRandomWalk(tokens, V, WALK_STATE);
  corpus = { kind: 'token-stream', tokens, vocab: Array.from({ length: V }, (_, id) => String.fromCharCode(48 + id)) };
} else {
  // as the worker holds them (apps/worker/src/processor.ts, training-thread.ts): the dataset's
  // bytes in a textCorpusBuffer, decoded in place, then the reference to them dropped
  const dataset: { bytes: Uint8Array } = { bytes: textCorpusBuffer(bytes) };
  fillRandomWalk(dataset.bytes, V, WALK_STATE, 48);
  mark('bytes');
  corpus = parseTextCorpusBytes(dataset.bytes, { inPlace: true });
  dataset.bytes = new Uint8Array(0);
}
mark('corpus');

const trainer = Trainer.create(
  {
    task: 'lm',
    model: { inputKind: 'tokens', inputSize: V, hiddenSize: 128, outputSize: V, activation: 'tanh' },
    init: { scheme: 'pytorch' },
    optimizer: { name: 'adam', lr: 2e-3 },
    schedule: { kind: 'constant' },
    clip: { mode: 'norm', maxNorm: 5 },
    bptt: { mode: 'truncated', k1: 64, k2: 64 },
    reduction: 'mean',
    batchSize: 32,
    epochs: 1,
    seed: 1,
  },
  corpus,
  { kernels },
);
mark('trainer');
let loss = 0;
for (let i = 0; i < steps; i++) {
  const m = trainer.step();
  if (m === null) throw new Error(`the corpus of ${bytes} characters ran out after ${i} steps`);
  loss = m.loss;
}
mark('trained');

process.stdout.write(
  `${JSON.stringify({
    corpusChars: bytes,
    path: values.path,
    backend: trainer.kernels.name,
    steps,
    tokenArrayBytes: corpus.tokens.byteLength,
    peakRssBytes: peakRss(),
    marks,
    finalLoss: +loss.toFixed(4),
  })}\n`,
);
// helper threads (if any) would keep the process alive
process.exit(0);
