// What the API hands its compute threads, and what comes back: plain, structured-cloneable data
// (typed arrays are transferred, not copied).
import type { CsvOptions, DatasetFormat, DatasetStats, PredictOutput } from '@unroll/protocol';
import type { ApiError } from '../errors.ts';

/** Where a thread finds a model: its blob key, and the cache key (key + size + mtime) the API resolved. */
export interface ModelRef {
  blobKey: string;
  cacheKey: string;
}

export interface PredictTask {
  type: 'predict';
  model: ModelRef;
  /** One per input sequence: token ids, or T·I features flat. */
  sequences: (Int32Array | Float32Array)[];
  output: PredictOutput | 'values';
  k: number;
  positions: 'all' | 'last';
}

export interface SampleTask {
  type: 'sample';
  model: ModelRef;
  prime: string;
  length: number;
  temperature: number;
  topK?: number;
  seed: number;
}

export interface DatasetStatsTask {
  type: 'dataset-stats';
  blobKey: string;
  kind: DatasetFormat;
  csv: CsvOptions | null;
}

export type ComputeTask = PredictTask | SampleTask | DatasetStatsTask;

/** The value each task resolves with: a response body already serialized to JSON (so the event loop never stringifies it), or the stats. */
export interface ComputeResults {
  predict: Uint8Array;
  sample: Uint8Array;
  'dataset-stats': DatasetStats;
}

/** Thread → API: one answer per task id. An error carries our envelope's status and fields. */
export type ThreadReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { statusCode: number; code: string; message: string; details: ApiError['details']; stack?: string } };

export interface ThreadInit {
  /** DATA_DIR/blobs: threads read models and datasets themselves, so big blobs never pass through the event loop. */
  blobsRoot: string;
}
