import type { CsvOptions, DatasetFormat, DatasetStats } from '@unroll/protocol';
import { datasetStats, parseCsvSeries, parseJsonSequences, parseTextCorpus, type Dataset } from './engine.ts';

/** Parses dataset content with the engine's parsers; throws DatasetError (line / column / field). */
export function parseDataset(kind: DatasetFormat, text: string, csv: CsvOptions | null): Dataset {
  switch (kind) {
    case 'text':
      return parseTextCorpus(text);
    case 'json':
      return parseJsonSequences(text);
    case 'csv':
      return parseCsvSeries(text, { targetColumns: csv?.targetColumns, horizon: csv?.horizon, normalize: csv?.normalize });
  }
}

/** The engine's stats in the API's shape: length, sequences, vocabulary or feature counts. */
export function statsOf(ds: Dataset): DatasetStats {
  const s = datasetStats(ds);
  switch (s.kind) {
    case 'token-stream':
      return { length: s.tokens, sequences: 1, vocabularySize: s.vocabSize, outputSize: s.vocabSize };
    case 'vector-stream':
      return { length: s.rows, sequences: 1, featureCount: s.inputSize, outputSize: s.outputSize, columns: s.columns, targetColumns: s.targetColumns };
    case 'sequences':
      return {
        length: s.steps,
        sequences: s.sequences,
        ...(s.inputKind === 'tokens' ? { vocabularySize: s.inputSize } : { featureCount: s.inputSize }),
        outputSize: s.outputSize,
        task: s.task,
        targetMode: s.targetMode,
        inputKind: s.inputKind,
        minLength: s.minLength,
        maxLength: s.maxLength,
      };
  }
}
