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

// ---------------------------------------------------------------------------------------------
// Byte-level entry: a UTF-8 corpus straight from its bytes, without the decoded string.

/** Byte length of the UTF-8 sequence decoded by the last `utf8At` call. */
let seqLength = 0;

/**
 * The code point of the well-formed UTF-8 sequence at `bytes[i]` (WHATWG rules: no overlongs, no
 * surrogates, nothing above U+10FFFF, no truncated sequence), setting `seqLength`; -1 if ill-formed.
 */
function utf8At(bytes: Uint8Array, i: number, end: number): number {
  const b0 = bytes[i];
  if (b0 < 0x80) {
    seqLength = 1;
    return b0;
  }
  if (b0 < 0xc2) return -1; // a continuation byte, or an overlong 2-byte lead
  if (b0 < 0xe0) {
    if (i + 1 >= end) return -1;
    const b1 = bytes[i + 1];
    if ((b1 & 0xc0) !== 0x80) return -1;
    seqLength = 2;
    return ((b0 & 0x1f) << 6) | (b1 & 0x3f);
  }
  if (b0 < 0xf0) {
    if (i + 2 >= end) return -1;
    const b1 = bytes[i + 1];
    if (b1 < (b0 === 0xe0 ? 0xa0 : 0x80) || b1 > (b0 === 0xed ? 0x9f : 0xbf)) return -1;
    const b2 = bytes[i + 2];
    if ((b2 & 0xc0) !== 0x80) return -1;
    seqLength = 3;
    return ((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f);
  }
  if (b0 < 0xf5) {
    if (i + 3 >= end) return -1;
    const b1 = bytes[i + 1];
    if (b1 < (b0 === 0xf0 ? 0x90 : 0x80) || b1 > (b0 === 0xf4 ? 0x8f : 0xbf)) return -1;
    const b2 = bytes[i + 2];
    const b3 = bytes[i + 3];
    if ((b2 & 0xc0) !== 0x80 || (b3 & 0xc0) !== 0x80) return -1;
    seqLength = 4;
    return ((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f);
  }
  return -1;
}

/** Line and column (1-based, column in code points) of byte `at`; the bytes before it are well-formed. */
function locateByte(bytes: Uint8Array, start: number, at: number): { line: number; column: number } {
  let line = 1;
  let column = 1;
  for (let i = start; i < at; ) {
    const cp = utf8At(bytes, i, at);
    if (cp === -1) break; // cannot happen: everything before `at` was decoded already
    i += seqLength;
    if (cp === 0x0a) {
      line++;
      column = 1;
    } else column++;
  }
  return { line, column };
}

/** Code point → token id: a dense table over the BMP part of the vocabulary, a map above it. */
interface CodePointIds {
  direct: Int32Array;
  astral: Map<number, number>;
}

function codePointIds(vocab: readonly string[]): CodePointIds {
  let max = 0x7f; // ASCII is always looked up directly
  for (const ch of vocab) {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x10000) max = Math.max(max, cp);
  }
  const direct = new Int32Array(max + 1).fill(-1);
  const astral = new Map<number, number>();
  vocab.forEach((ch, id) => {
    const cp = ch.codePointAt(0)!;
    if (cp < 0x10000) direct[cp] = id;
    else astral.set(cp, id);
  });
  return { direct, astral };
}

function idOf(ids: CodePointIds, cp: number): number {
  return cp < ids.direct.length ? ids.direct[cp] : (ids.astral.get(cp) ?? -1);
}

function hexCodePoint(cp: number): string {
  return `U+${cp.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * A place for the UTF-8 bytes of a text corpus of `byteLength` bytes that parseTextCorpusBytes
 * with `inPlace` decodes without a second buffer: the last quarter of an ArrayBuffer four times
 * that size, whose front then receives the token array. The front's pages are never touched
 * before the tokens are written (a fresh ArrayBuffer is zero pages), so the corpus costs at most
 * its bytes plus its token array, and for one-byte text just its token array. Falls back to a
 * plain Uint8Array when a buffer four times the size cannot be had.
 */
export function textCorpusBuffer(byteLength: number): Uint8Array {
  if (!Number.isSafeInteger(byteLength) || byteLength < 0) throw new RangeError(`byteLength must be a non-negative integer, got ${byteLength}`);
  if (byteLength === 0) return new Uint8Array(0);
  try {
    return new Uint8Array(new ArrayBuffer(4 * byteLength), 3 * byteLength, byteLength);
  } catch (err) {
    if (err instanceof RangeError) return new Uint8Array(byteLength); // past the largest ArrayBuffer
    throw err;
  }
}

/** Whether `bytes` has textCorpusBuffer's layout. */
function decodableInPlace(bytes: Uint8Array): boolean {
  const n = bytes.byteLength;
  return n > 0 && bytes.byteOffset === 3 * n && bytes.buffer.byteLength === 4 * n;
}

/**
 * A UTF-8 text corpus as a token stream, decoded straight from its bytes: the same result as
 * `parseTextCorpus(new TextDecoder().decode(bytes), options)` (a leading byte order mark is
 * dropped, as TextDecoder does), but the decoded string never exists. Two passes over the bytes:
 * the first validates, counts the code points and collects the vocabulary; the second fills the
 * token array, allocated once at its final size. So a large corpus costs its bytes plus its token
 * array, not also a string of it. Ill-formed UTF-8 throws 'invalid_utf8' with line/column (where
 * TextDecoder would substitute U+FFFD).
 *
 * `inPlace`, for bytes in a textCorpusBuffer: the token array is written over the front of their
 * ArrayBuffer (a view of it is returned) and the bytes are overwritten, so they cost nothing
 * beside the token array. Only once the first pass has succeeded: an error leaves them intact.
 * Bytes without that layout are decoded into a new array as without `inPlace`.
 */
export function parseTextCorpusBytes(bytes: Uint8Array, options: { vocab?: string[]; inPlace?: boolean } = {}): TokenStream {
  const end = bytes.length;
  const start = end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;
  if (start === end) throw new DatasetError('empty', 'text corpus is empty');
  const given = options.vocab !== undefined ? [...options.vocab] : null;

  // code point → token id, for a given vocabulary
  let ids: CodePointIds | null = null;
  if (given !== null) {
    checkVocab(given);
    ids = codePointIds(given);
  }

  // pass 1: validate, count, and collect the code points present
  const present = given === null ? new Uint32Array(0x110000 >>> 5) : null;
  let count = 0;
  for (let i = start; i < end; ) {
    const cp = utf8At(bytes, i, end);
    if (cp === -1) {
      const where = locateByte(bytes, start, i);
      throw new DatasetError('invalid_utf8', `invalid UTF-8 at byte offset ${i} (byte 0x${bytes[i].toString(16).toUpperCase().padStart(2, '0')})`, where);
    }
    if (ids !== null && idOf(ids, cp) === -1) {
      const where = locateByte(bytes, start, i);
      const ch = String.fromCodePoint(cp);
      throw new DatasetError('unknown_token', `character ${JSON.stringify(ch)} (${hexCodePoint(cp)}) is not in the vocabulary`, where);
    }
    if (present !== null) present[cp >>> 5] |= 1 << (cp & 31);
    i += seqLength;
    count++;
  }

  let vocab: string[];
  if (given !== null) vocab = given;
  else {
    // sorted by code point, as parseTextCorpus sorts its distinct characters
    vocab = [];
    for (let w = 0; w < present!.length; w++) {
      for (let bits = present![w]; bits !== 0; bits &= bits - 1) {
        vocab.push(String.fromCodePoint((w << 5) | (31 - Math.clz32(bits & -bits))));
      }
    }
    ids = codePointIds(vocab);
  }

  if (count < 2) throw new DatasetError('too_short', `text corpus has ${count} character; at least 2 are needed`);

  // pass 2: fill the token array (every sequence is known well-formed and in the vocabulary). In
  // place, token n lands on bytes [4n, 4n + 4) of the buffer while the sequence it came from
  // starts at 3·length + j with j ≥ n, so no write reaches a byte not yet read.
  const tokens = options.inPlace === true && decodableInPlace(bytes) ? new Int32Array(bytes.buffer, 0, count) : new Int32Array(count);
  const table = ids!;
  const direct = table.direct;
  let n = 0;
  for (let i = start; i < end; ) {
    const b0 = bytes[i];
    if (b0 < 0x80) {
      tokens[n++] = direct[b0];
      i++;
    } else {
      tokens[n++] = idOf(table, utf8At(bytes, i, end));
      i += seqLength;
    }
  }
  return { kind: 'token-stream', tokens, vocab };
}
