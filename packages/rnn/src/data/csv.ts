// CSV time series for forecasting.
//
// The first row is a header of column names; every other row is one time step of numbers.
// Quoting follows RFC 4180 (fields in double quotes may hold commas, newlines and "" for a
// quote); lines end with LF or CRLF; trailing blank lines are ignored. With horizon h (default
// 1), step t's inputs are all columns of row t and its targets are the target columns (default:
// all) of row t + h, so N = rows − h. `normalize` standardises every column with its mean and
// population standard deviation over all rows (a constant column gets std 1) and records them
// in `normalization`, in column order.
//
// Errors are DatasetError with a 1-based `line` (physical line in the file) and `column` (the
// 1-based CSV field number), and `field` = the column name when known.

import { DatasetError, type VectorStream } from './dataset.ts';

export const MAX_CSV_VALUES = 50_000_000;

interface CsvRecord {
  line: number; // physical line where the record starts
  fields: string[];
  fieldLines: number[]; // physical line where each field starts
}

/** Splits RFC 4180 text into records; blank lines are kept as records with one empty field. */
function tokenize(text: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const record: CsvRecord = { line, fields: [], fieldLines: [] };
    for (;;) {
      // one field
      const column = record.fields.length + 1;
      record.fieldLines.push(line);
      let value = '';
      if (text[i] === '"') {
        const openLine = line;
        i++;
        for (;;) {
          if (i >= n) throw new DatasetError('unterminated_quote', 'quoted field is never closed', { line: openLine, column });
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') {
              value += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          value += c;
          i++;
        }
        if (i < n && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          throw new DatasetError('invalid_quote', `unexpected ${JSON.stringify(text[i])} after a closing quote`, { line, column });
        }
      } else {
        const start = i;
        while (i < n && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          if (text[i] === '"') throw new DatasetError('invalid_quote', 'a quote inside an unquoted field (quote the whole field and double the quote)', { line, column });
          i++;
        }
        value = text.slice(start, i);
      }
      record.fields.push(value);
      if (i < n && text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    // end of record
    if (text[i] === '\r') i++;
    if (text[i] === '\n') {
      i++;
      line++;
    }
    records.push(record);
  }
  return records;
}

const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

function isBlank(r: CsvRecord): boolean {
  return r.fields.length === 1 && r.fields[0].trim() === '';
}

/** Parses a CSV time series into a forecasting VectorStream. */
export function parseCsvSeries(
  text: string,
  options: { targetColumns?: string[]; horizon?: number; normalize?: boolean } = {},
): VectorStream {
  const horizon = options.horizon ?? 1;
  if (!Number.isSafeInteger(horizon) || horizon < 1) {
    throw new DatasetError('invalid_option', `horizon must be a positive integer, got ${horizon}`, { field: 'horizon' });
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records = tokenize(text);
  while (records.length > 0 && isBlank(records[records.length - 1])) records.pop();
  if (records.length === 0) throw new DatasetError('empty', 'CSV is empty: a header row is required', { line: 1, column: 1 });

  const header = records[0];
  const columns = header.fields.map((f) => f.trim());
  const seen = new Map<string, number>();
  columns.forEach((name, c) => {
    const where = { line: header.fieldLines[c], column: c + 1 };
    if (name === '') throw new DatasetError('empty_column_name', 'header has an empty column name', where);
    if (NUMBER.test(name)) throw new DatasetError('missing_header', `first row looks like data (${JSON.stringify(name)}); a header row of column names is required`, where);
    if (seen.has(name)) throw new DatasetError('duplicate_column', `column ${JSON.stringify(name)} appears twice (also column ${seen.get(name)! + 1})`, { ...where, field: name });
    seen.set(name, c);
  });
  const C = columns.length;

  const targetColumns = options.targetColumns ?? columns;
  if (targetColumns.length === 0) throw new DatasetError('invalid_option', 'targetColumns must name at least one column', { field: 'targetColumns' });
  const targetIndex = targetColumns.map((name) => {
    const c = seen.get(name);
    if (c === undefined) throw new DatasetError('unknown_column', `target column ${JSON.stringify(name)} is not in the header (${columns.join(', ')})`, { line: 1, field: name });
    return c;
  });
  if (new Set(targetColumns).size !== targetColumns.length) {
    throw new DatasetError('invalid_option', 'targetColumns lists a column twice', { field: 'targetColumns' });
  }

  const rows = records.length - 1;
  if (rows * C > MAX_CSV_VALUES) throw new DatasetError('too_large', `CSV holds more than ${MAX_CSV_VALUES} values`);
  const values = new Float64Array(rows * C); // (rows, C)
  for (let r = 0; r < rows; r++) {
    const rec = records[r + 1];
    if (isBlank(rec) && C > 1) throw new DatasetError('blank_line', 'blank line inside the data', { line: rec.line, column: 1 });
    if (rec.fields.length !== C) {
      throw new DatasetError('wrong_column_count', `row has ${rec.fields.length} fields, the header has ${C}`, {
        line: rec.line,
        column: rec.fields.length < C ? rec.fields.length + 1 : C + 1, // first missing or first extra field
      });
    }
    for (let c = 0; c < C; c++) {
      const raw = rec.fields[c].trim();
      const where = { line: rec.fieldLines[c], column: c + 1, field: columns[c] };
      if (!NUMBER.test(raw)) {
        throw new DatasetError('not_a_number', raw === '' ? 'empty value, expected a number' : `${JSON.stringify(raw)} is not a number`, where);
      }
      const v = Number(raw);
      if (!Number.isFinite(v)) throw new DatasetError('not_finite', `${raw} is out of range`, where);
      values[r * C + c] = v;
    }
  }
  if (rows - horizon < 1) {
    throw new DatasetError('too_few_rows', `${rows} data rows with horizon ${horizon} leave no (input, target) pair; at least ${horizon + 1} rows are needed`);
  }

  let normalization: { mean: number[]; std: number[] } | undefined;
  if (options.normalize) {
    const mean = new Array<number>(C).fill(0);
    const std = new Array<number>(C).fill(0);
    for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) mean[c] += values[r * C + c];
    for (let c = 0; c < C; c++) mean[c] /= rows;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < C; c++) {
        const d = values[r * C + c] - mean[c];
        std[c] += d * d;
      }
    }
    for (let c = 0; c < C; c++) {
      const s = Math.sqrt(std[c] / rows);
      std[c] = s > 0 ? s : 1;
    }
    for (let r = 0; r < rows; r++) for (let c = 0; c < C; c++) values[r * C + c] = (values[r * C + c] - mean[c]) / std[c];
    normalization = { mean, std };
  }

  const N = rows - horizon;
  const O = targetIndex.length;
  const inputs = new Float32Array(N * C); // (N, I)
  const targets = new Float32Array(N * O); // (N, O)
  inputs.set(values.subarray(0, N * C));
  for (let t = 0; t < N; t++) {
    for (let o = 0; o < O; o++) targets[t * O + o] = values[(t + horizon) * C + targetIndex[o]];
  }
  const out: VectorStream = {
    kind: 'vector-stream',
    inputs,
    targets,
    inputSize: C,
    outputSize: O,
    columns,
    targetColumns: [...targetColumns],
  };
  if (normalization) out.normalization = normalization;
  return out;
}
