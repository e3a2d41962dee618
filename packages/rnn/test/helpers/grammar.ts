// A small stochastic grammar for language-model tests, with its exact entropy rate.
//
//   S → DET ' ' NOUN ' ' VERB '. '      (sentences drawn independently)
//
// Every alternative of a slot starts with a different letter and the rest of the word is then
// determined, so the text parses uniquely and its entropy rate in bits per character is
// (H(DET) + H(NOUN) + H(VERB)) / E[sentence length].

import { Prng } from '../../src/prng.ts';

type Slot = [word: string, p: number][];

export const GRAMMAR: Slot[] = [
  [['the', 0.6], ['a', 0.4]],
  [['cat', 0.5], ['dog', 0.3], ['bird', 0.2]],
  [['sat', 0.5], ['ran', 0.25], ['flew', 0.25]],
];
const SEPARATORS = [' ', ' ', '. '];

export function generateCorpus(sentences: number, seed: number): string {
  const rng = new Prng(seed);
  let out = '';
  for (let s = 0; s < sentences; s++) {
    GRAMMAR.forEach((slot, i) => {
      let u = rng.nextFloat();
      let word = slot[slot.length - 1][0];
      for (const [w, p] of slot) {
        if (u < p) {
          word = w;
          break;
        }
        u -= p;
      }
      out += word + SEPARATORS[i];
    });
  }
  return out;
}

/** Exact entropy rate of the grammar's text, bits per character. */
export function entropyRateBitsPerChar(): number {
  let bits = 0;
  let length = SEPARATORS.join('').length;
  for (const slot of GRAMMAR) {
    for (const [w, p] of slot) {
      bits -= p * Math.log2(p);
      length += p * w.length;
    }
  }
  return bits / length;
}
