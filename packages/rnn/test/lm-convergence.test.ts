// A character language model learns a stochastic grammar: held-out loss falls to within 0.09
// bits/char of the grammar's exact entropy rate (0.3128 bits/char; threshold 0.40), far below
// the unigram entropy (~3.4 bits/char), and samples are grammatical.

import { expect, it } from 'vitest';
import { parseTextCorpus } from '../src/data/text.ts';
import { BACKENDS } from './helpers/backends.ts';
import { entropyRateBitsPerChar, GRAMMAR, generateCorpus } from './helpers/grammar.ts';

const THRESHOLD_BITS_PER_CHAR = 0.4;

it.each(BACKENDS)('TBPTT char-LM reaches < 0.40 bits/char on held-out text from a grammar with entropy rate 0.3128 ($name kernels)', (backend) => {
  const rate = entropyRateBitsPerChar();
  expect(rate).toBeCloseTo(0.31276, 4);
  const train = parseTextCorpus(generateCorpus(800, 1));
  const validation = parseTextCorpus(generateCorpus(150, 2), { vocab: train.vocab });
  const V = train.vocab.length;

  const counts = new Map<number, number>();
  for (const id of train.tokens) counts.set(id, (counts.get(id) ?? 0) + 1);
  let unigram = 0;
  for (const c of counts.values()) unigram -= (c / train.tokens.length) * Math.log2(c / train.tokens.length);
  expect(unigram).toBeGreaterThan(3);

  const t = backend.create(
    {
      task: 'lm',
      model: { inputKind: 'tokens', inputSize: V, hiddenSize: 32, outputSize: V, activation: 'tanh' },
      init: { scheme: 'pytorch' },
      optimizer: { name: 'adam', lr: 0.02 },
      schedule: { kind: 'constant' },
      clip: { mode: 'norm', maxNorm: 5 },
      bptt: { mode: 'truncated', k1: 20, k2: 20 },
      reduction: 'mean',
      batchSize: 16,
      epochs: 3,
      seed: 1,
    },
    train,
    { validation },
  );
  const epochs = [];
  while (!t.done) epochs.push(t.runEpoch());
  const last = epochs[epochs.length - 1];
  expect(last.validation!.bitsPerChar!).toBeLessThan(THRESHOLD_BITS_PER_CHAR);
  expect(last.validation!.bitsPerChar!).toBeGreaterThan(rate - 0.05); // sanity: cannot beat the source by much
  expect(epochs[0].bitsPerChar!).toBeGreaterThan(last.bitsPerChar!);

  // samples parse as grammar sentences
  const text = t.model.sample({ prime: 'the ', length: 400, temperature: 1, seed: 3 });
  const alt = (slot: (typeof GRAMMAR)[number]) => `(?:${slot.map(([w]) => w).join('|')})`;
  const sentence = new RegExp(`^${alt(GRAMMAR[0])} ${alt(GRAMMAR[1])} ${alt(GRAMMAR[2])}$`);
  const sentences = text.split('. ').slice(0, -1); // the last one may be cut off
  const ok = sentences.filter((s) => sentence.test(s)).length;
  expect(sentences.length).toBeGreaterThan(20);
  expect(ok / sentences.length).toBeGreaterThan(0.9);
});
