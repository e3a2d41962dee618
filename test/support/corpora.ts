// Text corpora small enough that a job trains in seconds on one core.

/** ~11 KB of one repeated sentence: ~0.1 s per epoch for lmJobBody's model. */
export const CORPUS = 'the quick brown fox jumps over the lazy dog. '.repeat(240);

/** A small character corpus: `lines` distinct-enough lines, trains in well under a second per epoch. */
export function smallCorpus(lines = 60): string {
  const words = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'and', 'runs', 'away'];
  let out = '';
  for (let i = 0; i < lines; i++) out += `${words.map((_, j) => words[(i * 7 + j * 3) % words.length]).join(' ')}.\n`;
  return out;
}
