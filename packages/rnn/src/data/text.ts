// Plain-text corpora for character language models. Tokens are Unicode code points (not
// UTF-16 code units), so an emoji is one token.

import { DatasetError, type TokenStream } from './dataset.ts';

/** Line and column (1-based, column in code points) of every code point, computed lazily on error. */
function locate(text: string, codePointIndex: number): { line: number; column: number } {
  let line = 1;
  let column = 1;
  let i = 0;
  for (const ch of text) {
    if (i === codePointIndex) break;
    if (ch === '\n') {
      line++;
      column = 1;
    } else column++;
    i++;
  }
  return { line, column };
}

function checkVocab(vocab: readonly string[]): Map<string, number> {
  const index = new Map<string, number>();
  vocab.forEach((ch, i) => {
    if (typeof ch !== 'string' || [...ch].length !== 1) {
      throw new DatasetError('invalid_vocab', `vocabulary entry ${JSON.stringify(ch)} must be exactly one character`, { field: `vocab[${i}]` });
    }
    if (index.has(ch)) throw new DatasetError('invalid_vocab', `vocabulary entry ${JSON.stringify(ch)} appears twice`, { field: `vocab[${i}]` });
    index.set(ch, i);
  });
  return index;
}

/** Token ids of `text` under `vocab`; a character outside it throws 'unknown_token' with line/column. */
export function encodeText(text: string, vocab: string[]): Int32Array {
  const index = checkVocab(vocab);
  const ids = new Int32Array(text.length); // code points ≤ UTF-16 units
  let n = 0;
  for (const ch of text) {
    const id = index.get(ch);
    if (id === undefined) {
      const where = locate(text, n);
      throw new DatasetError('unknown_token', `character ${JSON.stringify(ch)} (U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}) is not in the vocabulary`, where);
    }
    ids[n++] = id;
  }
  return n === ids.length ? ids : ids.slice(0, n);
}

/** The text spelled by token ids; an id outside the vocabulary throws 'token_out_of_range'. */
export function decodeTokens(ids: ArrayLike<number>, vocab: string[]): string {
  let out = '';
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= vocab.length) {
      throw new DatasetError('token_out_of_range', `token id ${id} is outside the vocabulary of ${vocab.length}`, { field: `ids[${i}]` });
    }
    out += vocab[id];
  }
  return out;
}

/**
 * A text corpus as a token stream. Without `vocab`, the vocabulary is the sorted (by code point)
 * set of distinct characters. A corpus needs at least 2 characters (one next-token prediction).
 */
export function parseTextCorpus(text: string, options: { vocab?: string[] } = {}): TokenStream {
  if (text.length === 0) throw new DatasetError('empty', 'text corpus is empty');
  const vocab =
    options.vocab !== undefined
      ? [...options.vocab]
      : [...new Set(text)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  const tokens = encodeText(text, vocab);
  if (tokens.length < 2) throw new DatasetError('too_short', `text corpus has ${tokens.length} character; at least 2 are needed`);
  return { kind: 'token-stream', tokens, vocab };
}
