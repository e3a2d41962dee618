// Locates the first syntax error in a JSON text that JSON.parse rejected. JSON.parse's own
// messages carry a position only sometimes (and differ between V8 versions), so we re-scan
// with a small RFC 8259 syntax checker that reports line and column (1-based, UTF-16 units).

export interface JsonSyntaxProblem {
  offset: number;
  line: number;
  column: number;
  message: string;
}

class Fail {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

/** The first syntax problem in `text`, or null if it is valid JSON. */
export function locateJsonSyntaxError(text: string): JsonSyntaxProblem | null {
  let pos = 0;
  const n = text.length;

  const describe = (at: number) => (at >= n ? 'end of input' : `character ${JSON.stringify(text[at])}`);
  const skipWs = () => {
    while (pos < n) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) pos++;
      else break;
    }
  };
  const expectLiteral = (word: string) => {
    if (text.startsWith(word, pos)) pos += word.length;
    else throw new Fail(pos, `unexpected ${describe(pos)}`);
  };
  const string = () => {
    const start = pos;
    pos++; // opening quote
    while (pos < n) {
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        pos++;
        return;
      }
      if (c < 0x20) throw new Fail(pos, 'control character inside a string');
      if (c === 0x5c) {
        const e = text[pos + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(pos + 2, pos + 6))) throw new Fail(pos, 'invalid \\u escape');
          pos += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) pos += 2;
        else throw new Fail(pos, 'invalid escape in a string');
      } else pos++;
    }
    throw new Fail(start, 'unterminated string');
  };
  const number = () => {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(text.slice(pos, pos + 400));
    if (!m || m[0].length === 0) throw new Fail(pos, `invalid number`);
    pos += m[0].length;
  };
  const value = (depth: number): void => {
    if (depth > 2_000) throw new Fail(pos, 'nesting too deep');
    skipWs();
    if (pos >= n) throw new Fail(pos, 'unexpected end of input, expected a value');
    const c = text[pos];
    if (c === '{') {
      pos++;
      skipWs();
      if (text[pos] === '}') {
        pos++;
        return;
      }
      for (;;) {
        skipWs();
        if (text[pos] !== '"') throw new Fail(pos, `expected a property name in double quotes, found ${describe(pos)}`);
        string();
        skipWs();
        if (text[pos] !== ':') throw new Fail(pos, `expected ':' after a property name, found ${describe(pos)}`);
        pos++;
        value(depth + 1);
        skipWs();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === '}') {
          pos++;
          return;
        }
        throw new Fail(pos, `expected ',' or '}' in an object, found ${describe(pos)}`);
      }
    }
    if (c === '[') {
      pos++;
      skipWs();
      if (text[pos] === ']') {
        pos++;
        return;
      }
      for (;;) {
        value(depth + 1);
        skipWs();
        if (text[pos] === ',') {
          pos++;
          continue;
        }
        if (text[pos] === ']') {
          pos++;
          return;
        }
        throw new Fail(pos, `expected ',' or ']' in an array, found ${describe(pos)}`);
      }
    }
    if (c === '"') return string();
    if (c === 't') return expectLiteral('true');
    if (c === 'f') return expectLiteral('false');
    if (c === 'n') return expectLiteral('null');
    if (c === '-' || (c >= '0' && c <= '9')) return number();
    throw new Fail(pos, `unexpected ${describe(pos)}, expected a value`);
  };

  try {
    if (text.charCodeAt(0) === 0xfeff) pos = 1; // tolerate a byte-order mark position-wise
    value(0);
    skipWs();
    if (pos < n) throw new Fail(pos, `unexpected ${describe(pos)} after the JSON value`);
    return null;
  } catch (err) {
    if (!(err instanceof Fail)) throw err;
    return { offset: err.offset, ...lineColumn(text, err.offset), message: err.message };
  }
}
