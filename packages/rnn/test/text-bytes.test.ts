import { describe, expect, it } from 'vitest';
import { DatasetError } from '../src/data/dataset.ts';
import { parseTextCorpus, parseTextCorpusBytes, textCorpusBuffer } from '../src/data/text.ts';
import * as engine from '../src/index.ts';

const utf8 = (s: string) => new TextEncoder().encode(s);
const bytesOf = (...b: number[]) => Uint8Array.from(b);

/** The DatasetError thrown by fn. */
function caught(fn: () => unknown): DatasetError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DatasetError);
    return err as DatasetError;
  }
  throw new Error('expected a DatasetError');
}

/** What the string path gives for the same bytes: the result, or the error's code/line/column/message. */
function viaString(bytes: Uint8Array, vocab?: string[]) {
  return parseTextCorpus(new TextDecoder().decode(bytes), vocab ? { vocab } : {});
}

function expectSame(bytes: Uint8Array, vocab?: string[]): void {
  const a = parseTextCorpusBytes(bytes, vocab ? { vocab } : {});
  const b = viaString(bytes, vocab);
  expect(a.kind).toBe('token-stream');
  expect(a.vocab).toEqual(b.vocab);
  expect(a.tokens).toBeInstanceOf(Int32Array);
  expect(a.tokens.length).toBe(b.tokens.length);
  expect(Buffer.from(a.tokens.buffer, a.tokens.byteOffset, a.tokens.byteLength).equals(Buffer.from(b.tokens.buffer, b.tokens.byteOffset, b.tokens.byteLength))).toBe(true);
}

// xorshift32, so the random texts are the same on every run
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

const POOL = [
  ...'abcxyzABC 019.,;!?\t',
  '\n', '\r\n', '\r',
  ...'éßøñüçÆ', // 2-byte
  ...'Жжыщ', ...'αβγΩ', ...'שלום', ...'مرحبا', // 2-byte
  ...'日本語中文한국어', ...'कखग', ...'€…—“”', '\u{FFFD}', '\u{FEFF}', '\u{FFFF}', '\u{0800}', '\u{D7FF}', '\u{E000}', // 3-byte
  '😀', '🎉', '𝄞', '𠀀', '🇫🇷', '\u{10000}', '\u{10FFFF}', // 4-byte (a flag is two)
  '\u0000', '\u007F', '\u0080', '\u07FF',
];

function randomText(next: () => number, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += POOL[Math.floor(next() * POOL.length)];
  return s;
}

describe('parseTextCorpusBytes', () => {
  it('is exported from the package entry', () => {
    expect(engine.parseTextCorpusBytes).toBe(parseTextCorpusBytes);
  });

  it('matches parseTextCorpus(new TextDecoder().decode(bytes)) on random multilingual text', () => {
    const next = rng(42);
    for (let trial = 0; trial < 200; trial++) {
      const text = randomText(next, 2 + Math.floor(next() * 300));
      expectSame(utf8(text));
      // with a leading byte order mark, which TextDecoder drops
      expectSame(utf8(`\u{FEFF}${text}`));
    }
  });

  it('matches with a given vocabulary (in an order that is not sorted)', () => {
    const next = rng(7);
    for (let trial = 0; trial < 50; trial++) {
      const text = randomText(next, 2 + Math.floor(next() * 200));
      const vocab = [...new Set([...text, 'q', '🙂'])].reverse();
      expectSame(utf8(text), vocab);
      expectSame(utf8(`\u{FEFF}${text}`), vocab);
    }
  });

  it('handles the byte order mark as TextDecoder does: only a leading one is dropped', () => {
    expectSame(utf8('\u{FEFF}ab'));
    expect(parseTextCorpusBytes(utf8('\u{FEFF}ab')).vocab).toEqual(['a', 'b']);
    expectSame(utf8('\u{FEFF}\u{FEFF}ab')); // the second one is a character
    expect(parseTextCorpusBytes(utf8('\u{FEFF}\u{FEFF}ab')).vocab).toEqual(['a', 'b', '\u{FEFF}']);
    expectSame(utf8('a\u{FEFF}b'));
    expect(caught(() => parseTextCorpusBytes(utf8('\u{FEFF}'))).code).toBe('empty');
    expect(caught(() => parseTextCorpusBytes(utf8('\u{FEFF}a'))).code).toBe('too_short');
  });

  it('keeps CRLF as two tokens, as the string path does', () => {
    const ds = parseTextCorpusBytes(utf8('a\r\nb\r\n'));
    expect(ds.vocab).toEqual(['\n', '\r', 'a', 'b']);
    expect([...ds.tokens]).toEqual([2, 1, 0, 3, 1, 0]);
    expectSame(utf8('a\r\nb\r\n'));
  });

  it('a 4-byte code point is one token', () => {
    const ds = parseTextCorpusBytes(utf8('hello 😀 hé'));
    expect(ds).toEqual(parseTextCorpus('hello 😀 hé'));
    expect(ds.tokens.length).toBe(10);
  });

  it('empty and too short, as parseTextCorpus', () => {
    expect(caught(() => parseTextCorpusBytes(new Uint8Array(0))).code).toBe('empty');
    expect(caught(() => parseTextCorpusBytes(utf8('a'))).code).toBe('too_short');
    expect(caught(() => parseTextCorpusBytes(utf8('😀'))).code).toBe('too_short');
    expect(caught(() => parseTextCorpusBytes(utf8('a'))).message).toBe(caught(() => parseTextCorpus('a')).message);
    expect(caught(() => parseTextCorpusBytes(new Uint8Array(0), { vocab: ['a', 'a'] })).code).toBe('empty');
  });

  it('rejects a bad vocabulary as parseTextCorpus does', () => {
    expect(caught(() => parseTextCorpusBytes(utf8('ab'), { vocab: ['a', 'b', 'a'] }))).toMatchObject({ code: 'invalid_vocab', field: 'vocab[2]' });
    expect(caught(() => parseTextCorpusBytes(utf8('ab'), { vocab: ['ab'] }))).toMatchObject({ code: 'invalid_vocab', field: 'vocab[0]' });
  });

  it('an unknown token throws the same error, line and column (in code points) as the string path', () => {
    const cases: [string, string[]][] = [
      ['abc\nab😀x', ['a', 'b', 'c', '\n', '😀']],
      ['😀😀\n日本z', ['😀', '\n', '日', '本']],
      ['\u{FEFF}ab\r\nq', ['a', 'b', '\r', '\n']],
      ['x', ['a']],
      ['ab€', ['a', 'b']],
    ];
    for (const [text, vocab] of cases) {
      const a = caught(() => parseTextCorpusBytes(utf8(text), { vocab }));
      const b = caught(() => viaString(utf8(text), vocab));
      expect(a.code).toBe('unknown_token');
      expect({ line: a.line, column: a.column, message: a.message }).toEqual({ line: b.line, column: b.column, message: b.message });
    }
    expect(caught(() => parseTextCorpusBytes(utf8('abc\nab😀x'), { vocab: ['a', 'b', 'c', '\n', '😀'] }))).toMatchObject({ line: 2, column: 4 });
  });

  it('ill-formed UTF-8 throws invalid_utf8 with the line and column (in code points) of the bad byte', () => {
    const prefix = utf8('ab\n😀c'); // the bad byte is at line 2, column 3
    const cases: number[][] = [
      [0xff], // never valid
      [0xfe],
      [0x80], // a stray continuation byte
      [0xbf],
      [0xc0, 0xaf], // overlong 2-byte
      [0xc1, 0xbf],
      [0xe0, 0x80, 0xaf], // overlong 3-byte
      [0xf0, 0x80, 0x80, 0xaf], // overlong 4-byte
      [0xed, 0xa0, 0x80], // a surrogate (U+D800)
      [0xed, 0xbf, 0xbf], // U+DFFF
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0xf5, 0x80, 0x80, 0x80],
      [0xc3, 0x41], // a lead byte without its continuation
      [0xe6, 0x97, 0x41],
      [0xf0, 0x9f, 0x98, 0x41],
    ];
    for (const bad of cases) {
      const bytes = new Uint8Array([...prefix, ...bad, ...utf8('zz')]);
      const e = caught(() => parseTextCorpusBytes(bytes));
      expect(e.code, bad.map((b) => b.toString(16)).join(' ')).toBe('invalid_utf8');
      expect({ line: e.line, column: e.column }).toEqual({ line: 2, column: 3 });
      expect(e.message).toContain(`byte offset ${prefix.length}`);
      // the string path would have substituted U+FFFD instead
      expect(new TextDecoder().decode(bytes)).toContain('\u{FFFD}');
    }
  });

  it('a truncated sequence at the end is ill-formed', () => {
    for (const tail of [[0xc3], [0xe6, 0x97], [0xf0, 0x9f], [0xf0, 0x9f, 0x98]]) {
      const e = caught(() => parseTextCorpusBytes(new Uint8Array([...utf8('ab\r\ncd'), ...tail])));
      expect(e).toMatchObject({ code: 'invalid_utf8', line: 2, column: 3 });
    }
    expect(caught(() => parseTextCorpusBytes(bytesOf(0xef, 0xbb)))).toMatchObject({ code: 'invalid_utf8', line: 1, column: 1 });
  });

  it('ill-formed UTF-8 is reported even with a vocabulary, at the first problem', () => {
    const bytes = new Uint8Array([...utf8('ab'), 0xff, ...utf8('q')]);
    expect(caught(() => parseTextCorpusBytes(bytes, { vocab: ['a', 'b'] }))).toMatchObject({ code: 'invalid_utf8', line: 1, column: 3 });
    const unknownFirst = new Uint8Array([...utf8('aq'), 0xff]);
    expect(caught(() => parseTextCorpusBytes(unknownFirst, { vocab: ['a', 'b'] }))).toMatchObject({ code: 'unknown_token', line: 1, column: 2 });
  });

  it('reads a subarray view without touching the bytes around it', () => {
    const whole = utf8('XXhello wörld😀YY');
    const view = whole.subarray(2, whole.length - 2);
    expect(parseTextCorpusBytes(view)).toEqual(parseTextCorpus('hello wörld😀'));
  });

  it('every code point, one at a time, decodes as TextDecoder does', () => {
    const step = 97; // a sample across all planes, plus the edges
    const cps: number[] = [];
    for (let cp = 0; cp <= 0x10ffff; cp += step) if (cp < 0xd800 || cp > 0xdfff) cps.push(cp);
    cps.push(0x7f, 0x80, 0x7ff, 0x800, 0xd7ff, 0xe000, 0xffff, 0x10000, 0x10ffff);
    const text = String.fromCodePoint(...cps);
    expectSame(utf8(text));
  });
});

describe('parseTextCorpusBytes in place (textCorpusBuffer)', () => {
  function inBuffer(content: Uint8Array): Uint8Array {
    const bytes = textCorpusBuffer(content.length);
    bytes.set(content);
    return bytes;
  }

  it('lays the bytes out in the last quarter of a buffer four times their size', () => {
    const b = textCorpusBuffer(10);
    expect({ offset: b.byteOffset, length: b.byteLength, buffer: b.buffer.byteLength }).toEqual({ offset: 30, length: 10, buffer: 40 });
    expect(textCorpusBuffer(0).byteLength).toBe(0);
    expect(() => textCorpusBuffer(-1)).toThrow(RangeError);
  });

  it('gives the same tokens and vocabulary as the string path, written over the bytes\' own buffer', () => {
    const next = rng(99);
    for (let trial = 0; trial < 200; trial++) {
      const text = randomText(next, 2 + Math.floor(next() * 300));
      for (const content of [utf8(text), utf8(`\u{FEFF}${text}`), utf8('a'.repeat(trial + 2))]) {
        const expected = viaString(content);
        const bytes = inBuffer(content);
        const got = parseTextCorpusBytes(bytes, { inPlace: true });
        expect(got.tokens.buffer).toBe(bytes.buffer);
        expect(got.tokens.byteOffset).toBe(0);
        expect(got.vocab).toEqual(expected.vocab);
        expect([...got.tokens]).toEqual([...expected.tokens]);
      }
      const vocab = [...new Set([...text, 'q'])].reverse();
      const got = parseTextCorpusBytes(inBuffer(utf8(text)), { vocab, inPlace: true });
      expect([...got.tokens]).toEqual([...viaString(utf8(text), vocab).tokens]);
    }
  });

  it('leaves the bytes intact when it throws', () => {
    const content = new Uint8Array([...utf8('ab\ncd'), 0xff]);
    const bytes = inBuffer(content);
    expect(caught(() => parseTextCorpusBytes(bytes, { inPlace: true })).code).toBe('invalid_utf8');
    expect([...bytes]).toEqual([...content]);
    const unknown = inBuffer(utf8('abcz'));
    expect(caught(() => parseTextCorpusBytes(unknown, { vocab: ['a', 'b', 'c'], inPlace: true })).code).toBe('unknown_token');
    expect(new TextDecoder().decode(unknown)).toBe('abcz');
    expect(caught(() => parseTextCorpusBytes(inBuffer(utf8('a')), { inPlace: true })).code).toBe('too_short');
  });

  it('decodes bytes without that layout into a new array, leaving them as they were', () => {
    const bytes = utf8('hello wörld 😀');
    const got = parseTextCorpusBytes(bytes, { inPlace: true });
    expect(got.tokens.buffer).not.toBe(bytes.buffer);
    expect(new TextDecoder().decode(bytes)).toBe('hello wörld 😀');
    expect(got).toEqual(parseTextCorpus('hello wörld 😀'));
  });

  it('without inPlace, bytes in a textCorpusBuffer are left as they were', () => {
    const bytes = inBuffer(utf8('abcabc'));
    const got = parseTextCorpusBytes(bytes);
    expect(got.tokens.buffer).not.toBe(bytes.buffer);
    expect(new TextDecoder().decode(bytes)).toBe('abcabc');
  });
});
