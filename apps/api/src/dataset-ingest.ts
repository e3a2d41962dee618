import type { CsvOptions, DatasetFormat, DatasetStats } from '@unroll/protocol';
import type { ComputePool } from './compute/pool.ts';
import { datasetStats, parseCsvSeries, parseJsonSequences, parseTextCorpus, parseTextCorpusBytes, type Dataset } from './engine.ts';

/**
 * Parses dataset content with the engine's parsers; throws DatasetError (line / column / field).
 * Stored content comes as its UTF-8 bytes: a text corpus is then decoded straight into its token
 * array (as the worker does, so the stats describe what it trains on: a leading byte order mark
 * dropped, ill-formed UTF-8 rejected), never as a string of the whole corpus.
 */
export function parseDataset(kind: DatasetFormat, content: string | Uint8Array, csv: CsvOptions | null): Dataset {
  if (kind === 'text') return typeof content === 'string' ? parseTextCorpus(content) : parseTextCorpusBytes(content);
  const text = typeof content === 'string' ? content : new TextDecoder('utf-8').decode(content);
  switch (kind) {
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

/**
 * The stats of a stored upload, parsed in a compute thread that reads the blob itself: parsing a
 * 50 MB JSON or a 190 MB corpus takes seconds, during which the event loop must keep answering.
 */
export function datasetStatsInPool(pool: ComputePool, kind: DatasetFormat, blobKey: string, csv: CsvOptions | null, signal?: AbortSignal): Promise<DatasetStats> {
  return pool.run({ type: 'dataset-stats', kind, blobKey, csv }, { signal });
}
