import { describe, expect, it } from 'vitest';
import { parseCsvSeries } from '../src/data/csv.ts';
import { DatasetError, datasetStats, splitForValidation, type SequenceSet, type TokenStream, type VectorStream } from '../src/data/dataset.ts';
import { MAX_SEQUENCE_LENGTH, MAX_SEQUENCES, parseJsonSequences } from '../src/data/json.ts';
import { decodeTokens, encodeText, parseTextCorpus } from '../src/data/text.ts';

/** The DatasetError thrown by fn, with its location. */
function caught(fn: () => unknown): { code: string; line?: number; column?: number; field?: string; message: string } {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(DatasetError);
    const e = err as DatasetError;
    return { code: e.code, line: e.line, column: e.column, field: e.field, message: e.message };
  }
  throw new Error('expected a DatasetError');
}

describe('text corpora', () => {
  it('vocabulary is the sorted set of code points (an emoji is one token)', () => {
    const ds = parseTextCorpus('hello 😀 hé');
    expect(ds.vocab).toEqual([' ', 'e', 'h', 'l', 'o', 'é', '😀']);
    expect(ds.tokens.length).toBe(10);
    expect(decodeTokens(ds.tokens, ds.vocab)).toBe('hello 😀 hé');
    expect(Array.from(encodeText('olé', ds.vocab))).toEqual([4, 3, 5]);
  });

  it('with a given vocabulary, unknown characters name line and column', () => {
    const e = caught(() => parseTextCorpus('abc\nab😀x', { vocab: ['a', 'b', 'c', '\n', '😀'] }));
    expect(e).toMatchObject({ code: 'unknown_token', line: 2, column: 4 });
    expect(e.message).toMatch(/line 2, column 4: character "x" \(U\+0078\)/);
  });

  it('rejects empty, too short and malformed vocabularies', () => {
    expect(caught(() => parseTextCorpus('')).code).toBe('empty');
    expect(caught(() => parseTextCorpus('a')).code).toBe('too_short');
    expect(caught(() => parseTextCorpus('ab', { vocab: ['a', 'b', 'a'] }))).toMatchObject({ code: 'invalid_vocab', field: 'vocab[2]' });
    expect(caught(() => parseTextCorpus('ab', { vocab: ['ab'] }))).toMatchObject({ code: 'invalid_vocab', field: 'vocab[0]' });
    expect(caught(() => decodeTokens([0, 5], ['a']))).toMatchObject({ code: 'token_out_of_range', field: 'ids[1]' });
  });
});

describe('JSON sequences', () => {
  it('regression, many-to-many, vectors (defaults)', () => {
    const ds = parseJsonSequences(
      JSON.stringify({
        task: 'regression',
        sequences: [
          { inputs: [[1, 2], [3, 4], [5, 6]], targets: [[0.5], [1.5], [2.5]] },
          { inputs: [[7, 8]], targets: [[9]], mask: [1] },
        ],
      }),
    );
    expect(ds).toMatchObject({ kind: 'sequences', task: 'regression', targetMode: 'many-to-many', inputKind: 'vectors', inputSize: 2, outputSize: 1 });
    expect(ds.sequences[0].inputs).toEqual(Float32Array.of(1, 2, 3, 4, 5, 6));
    expect(ds.sequences[0].targets).toEqual(Float32Array.of(0.5, 1.5, 2.5));
    expect(ds.sequences[1].mask).toEqual(Uint8Array.of(1));
  });

  it('regression many-to-one, classification many-to-one and many-to-many with tokens', () => {
    const m2o = parseJsonSequences('{"task":"regression","targetMode":"many-to-one","sequences":[{"inputs":[[1],[2]],"targets":[[3,4]]}]}');
    expect(m2o.outputSize).toBe(2);
    expect(m2o.sequences[0].targets).toEqual(Float32Array.of(3, 4));

    const cls = parseJsonSequences(
      '{"task":"classification","targetMode":"many-to-one","sequences":[{"inputs":[[0.1]],"targets":2},{"inputs":[[0.2],[0.3]],"targets":[0]}]}',
    );
    expect(cls.outputSize).toBe(3);
    expect(cls.sequences.map((s) => Array.from(s.targets))).toEqual([[2], [0]]);

    const tok = parseJsonSequences(
      JSON.stringify({
        task: 'classification',
        inputKind: 'tokens',
        vocab: ['a', 'b', 'c', 'd'],
        numClasses: 5,
        sequences: [{ inputs: [0, 3, 1], targets: [1, 1, 4], mask: [0, 1, 1] }],
      }),
    );
    expect(tok).toMatchObject({ inputKind: 'tokens', inputSize: 4, outputSize: 5, vocab: ['a', 'b', 'c', 'd'] });
    expect(tok.sequences[0].inputs).toEqual(Int32Array.of(0, 3, 1));
    expect(tok.sequences[0].targets).toEqual(Int32Array.of(1, 1, 4));
  });

  it('invalid JSON names line and column', () => {
    expect(caught(() => parseJsonSequences('{\n  "task": "regression",\n  "sequences": [1,, 2]\n}'))).toMatchObject({
      code: 'invalid_json',
      line: 3,
      column: 19,
    });
    expect(caught(() => parseJsonSequences('{"task": "regression"'))).toMatchObject({ code: 'invalid_json', line: 1, column: 22 });
    expect(caught(() => parseJsonSequences('{"a": "unterminated}'))).toMatchObject({ code: 'invalid_json', line: 1, column: 7 });
    expect(caught(() => parseJsonSequences('   ')).code).toBe('empty');
  });

  const base = (seqs: unknown[], extra: Record<string, unknown> = {}) => JSON.stringify({ task: 'regression', ...extra, sequences: seqs });

  it.each([
    ['missing_field', base([{ inputs: [[1]] }]), 'sequences[0].targets'],
    ['missing_field', '{"sequences":[]}', 'task'],
    ['unknown_field', base([{ inputs: [[1]], targets: [[1]], weight: 2 }]), 'sequences[0].weight'],
    ['unknown_field', base([], { extra: 1 }), 'extra'],
    ['invalid_value', base([], { task: 'ranking' }), 'task'],
    ['invalid_value', base([], { targetMode: 'one-to-one' }), 'targetMode'],
    ['empty', base([]), 'sequences'],
    ['invalid_type', base([{ inputs: [[1], ['x']], targets: [[1], [2]] }]), 'sequences[0].inputs[1][0]'],
    ['invalid_type', base([5]), 'sequences[0]'],
    ['invalid_shape', base([{ inputs: [[1, 2]], targets: [[1]] }, { inputs: [[1, 2], [3, 4], [5]], targets: [[1], [2], [3]] }]), 'sequences[1].inputs[2]'],
    ['invalid_shape', base([{ inputs: [], targets: [] }]), 'sequences[0].inputs'],
    ['invalid_shape', base([{ inputs: [[1], [2]], targets: [[1]] }]), 'sequences[0].targets'],
    ['invalid_shape', base([{ inputs: [[1]], targets: [[1]] }, { inputs: [[1]], targets: [[1, 2]] }]), 'sequences[1].targets[0]'],
    ['not_finite', '{"task":"regression","sequences":[{"inputs":[[1, 1e999]],"targets":[[1]]}]}', 'sequences[0].inputs[0][1]'],
    ['label_out_of_range', JSON.stringify({ task: 'classification', numClasses: 2, sequences: [{ inputs: [[1], [2]], targets: [0, 2] }] }), 'sequences[0].targets[1]'],
    ['label_out_of_range', JSON.stringify({ task: 'classification', sequences: [{ inputs: [[1]], targets: [-1] }] }), 'sequences[0].targets[0]'],
    ['label_out_of_range', JSON.stringify({ task: 'classification', targetMode: 'many-to-one', sequences: [{ inputs: [[1]], targets: 1.5 }] }), 'sequences[0].targets'],
    ['token_out_of_range', JSON.stringify({ task: 'regression', inputKind: 'tokens', vocabSize: 3, sequences: [{ inputs: [0, 3], targets: [[1], [1]] }] }), 'sequences[0].inputs[1]'],
    ['invalid_mask', base([{ inputs: [[1], [2]], targets: [[1], [2]], mask: [1, 2] }]), 'sequences[0].mask[1]'],
    ['invalid_shape', base([{ inputs: [[1], [2]], targets: [[1], [2]], mask: [1] }]), 'sequences[0].mask'],
    ['invalid_field', base([{ inputs: [[1]], targets: [[1]], mask: [1] }], { targetMode: 'many-to-one' }), 'sequences[0].mask'],
    ['invalid_field', base([], { numClasses: 3 }), 'numClasses'],
    ['invalid_field', base([], { vocabSize: 3 }), 'vocabSize'],
    ['no_targets', base([{ inputs: [[1], [2]], targets: [[1], [2]], mask: [0, 0] }]), 'sequences'],
  ])('%s at %s', (code, text, field) => {
    void field;
    expect(caught(() => parseJsonSequences(text))).toMatchObject({ code, field });
  });

  it('enforces bounds on sequence count and length', () => {
    const many = `{"task":"regression","sequences":[${Array(MAX_SEQUENCES + 1).fill('{"inputs":[[1]],"targets":[[1]]}').join(',')}]}`;
    expect(caught(() => parseJsonSequences(many))).toMatchObject({ code: 'too_many_sequences', field: 'sequences' });
    const long = JSON.stringify({ task: 'regression', inputKind: 'tokens', sequences: [{ inputs: new Array(MAX_SEQUENCE_LENGTH + 1).fill(0), targets: [[1]] }] });
    expect(caught(() => parseJsonSequences(long))).toMatchObject({ code: 'sequence_too_long', field: 'sequences[0].inputs' });
  });
});

describe('CSV series', () => {
  it('parses quoted headers, CRLF and a trailing blank line; forecasting with horizon 1', () => {
    const ds = parseCsvSeries('"temp, °C",load\r\n1,10\r\n2,20\r\n3, 30 \r\n\r\n');
    expect(ds.columns).toEqual(['temp, °C', 'load']);
    expect(ds.targetColumns).toEqual(['temp, °C', 'load']);
    expect(ds.inputs).toEqual(Float32Array.of(1, 10, 2, 20));
    expect(ds.targets).toEqual(Float32Array.of(2, 20, 3, 30));
    expect(ds.normalization).toBeUndefined();
  });

  it('target columns and horizon: targets[t] = row t + h', () => {
    const ds = parseCsvSeries('a,b,c\n1,2,3\n4,5,6\n7,8,9\n10,11,12\n', { targetColumns: ['c', 'a'], horizon: 2 });
    expect(ds).toMatchObject({ inputSize: 3, outputSize: 2, targetColumns: ['c', 'a'] });
    expect(ds.inputs).toEqual(Float32Array.of(1, 2, 3, 4, 5, 6));
    expect(ds.targets).toEqual(Float32Array.of(9, 7, 12, 10));
  });

  it('normalize standardises every column and records mean/std', () => {
    const ds = parseCsvSeries('x,k\n1,5\n2,5\n3,5\n', { normalize: true });
    expect(ds.normalization!.mean).toEqual([2, 5]);
    expect(ds.normalization!.std[0]).toBeCloseTo(Math.sqrt(2 / 3), 15);
    expect(ds.normalization!.std[1]).toBe(1); // constant column
    expect(ds.inputs[0]).toBeCloseTo(-1 / Math.sqrt(2 / 3), 6);
    expect(ds.inputs[1]).toBe(0);
    expect(ds.targets[2]).toBeCloseTo(1 / Math.sqrt(2 / 3), 6);
  });

  it('quoted fields with newlines and escaped quotes count physical lines', () => {
    const e = caught(() => parseCsvSeries('a,"b\nwith ""newline"""\n1,2\n3,oops\n'));
    expect(e).toMatchObject({ code: 'not_a_number', line: 4, column: 2, field: 'b\nwith "newline"' });
  });

  it.each([
    ['empty', '', { line: 1, column: 1 }],
    ['empty', '\n\n', { line: 1, column: 1 }],
    ['not_a_number', 'a,b\n1,2\n3,\n', { line: 3, column: 2, field: 'b' }],
    ['not_a_number', 'a,b\n1,2\n0x10,4\n', { line: 3, column: 1, field: 'a' }],
    ['not_finite', 'a\n1\n1e400\n', { line: 3, column: 1, field: 'a' }],
    ['wrong_column_count', 'a,b\n1,2\n3\n', { line: 3, column: 2 }],
    ['wrong_column_count', 'a,b\n1,2,3\n4,5\n', { line: 2, column: 3 }],
    ['blank_line', 'a,b\n1,2\n\n3,4\n', { line: 3, column: 1 }],
    ['unterminated_quote', 'a,b\n1,"2\n', { line: 2, column: 2 }],
    ['invalid_quote', 'a,b\n1,"2"x\n', { line: 2, column: 2 }],
    ['invalid_quote', 'a,b\n1,2"\n', { line: 2, column: 2 }],
    ['duplicate_column', 'a,b,a\n1,2,3\n', { line: 1, column: 3, field: 'a' }],
    ['empty_column_name', 'a,,c\n1,2,3\n', { line: 1, column: 2 }],
    ['missing_header', '1,2\n3,4\n', { line: 1, column: 1 }],
    ['too_few_rows', 'a\n1\n', {}],
  ])('%s: %j', (code, text, where) => {
    expect(caught(() => parseCsvSeries(text))).toMatchObject({ code, ...where });
  });

  it('option errors', () => {
    expect(caught(() => parseCsvSeries('a,b\n1,2\n3,4\n', { targetColumns: ['c'] }))).toMatchObject({ code: 'unknown_column', line: 1, field: 'c' });
    expect(caught(() => parseCsvSeries('a\n1\n2\n', { horizon: 0 }))).toMatchObject({ code: 'invalid_option', field: 'horizon' });
    expect(caught(() => parseCsvSeries('a\n1\n2\n', { targetColumns: [] }))).toMatchObject({ code: 'invalid_option', field: 'targetColumns' });
    expect(caught(() => parseCsvSeries('a\n1\n2\n', { horizon: 2 })).code).toBe('too_few_rows');
  });
});

describe('datasetStats and splitForValidation', () => {
  const text: TokenStream = parseTextCorpus('abcdefghij');
  const csv: VectorStream = parseCsvSeries('a,b\n' + Array.from({ length: 11 }, (_, i) => `${i},${-i}`).join('\n'));
  const seqs: SequenceSet = parseJsonSequences(
    JSON.stringify({ task: 'regression', sequences: [1, 2, 3, 4].map((T) => ({ inputs: Array(T).fill([1]), targets: Array(T).fill([0]) })) }),
  );

  it('summarises each kind', () => {
    expect(datasetStats(text)).toEqual({ kind: 'token-stream', tokens: 10, vocabSize: 10 });
    expect(datasetStats(csv)).toEqual({ kind: 'vector-stream', rows: 10, inputSize: 2, outputSize: 2, columns: ['a', 'b'], targetColumns: ['a', 'b'] });
    expect(datasetStats(seqs)).toMatchObject({ kind: 'sequences', sequences: 4, steps: 10, minLength: 1, maxLength: 4, inputSize: 1, outputSize: 1 });
  });

  it('streams: contiguous tail as subarray views', () => {
    const { train, validation } = splitForValidation(text, 0.3);
    const t = train as TokenStream, v = validation as TokenStream;
    expect(decodeTokens(t.tokens, t.vocab)).toBe('abcdefg');
    expect(decodeTokens(v.tokens, v.vocab)).toBe('hij');
    expect(t.tokens.buffer).toBe(text.tokens.buffer);
    expect(v.tokens.buffer).toBe(text.tokens.buffer);

    const s = splitForValidation(csv, 0.2);
    const ct = s.train as VectorStream, cv = s.validation as VectorStream;
    expect(ct.inputs.length).toBe(16);
    expect(cv.inputs).toEqual(Float32Array.of(8, -8, 9, -9));
    expect(cv.targets).toEqual(Float32Array.of(9, -9, 10, -10));
    expect(cv.inputs.buffer).toBe(csv.inputs.buffer);
  });

  it('sequences: the last fraction of the list', () => {
    const { train, validation } = splitForValidation(seqs, 0.5);
    expect((train as SequenceSet).sequences).toEqual(seqs.sequences.slice(0, 2));
    expect((validation as SequenceSet).sequences).toEqual(seqs.sequences.slice(2));
  });

  it('no validation when the tail would be empty; errors for bad fractions', () => {
    expect(splitForValidation(text, 0)).toEqual({ train: text, validation: null });
    expect(splitForValidation(text, 0.1).validation).toBeNull(); // 1 token cannot be evaluated
    expect(splitForValidation(seqs, 0.2).validation).toBeNull();
    expect(caught(() => splitForValidation(text, 1))).toMatchObject({ code: 'invalid_option' });
    expect(caught(() => splitForValidation(text, 0.9))).toMatchObject({ code: 'validation_split_too_large' });
  });
});
