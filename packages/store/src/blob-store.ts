import type { Readable } from 'node:stream';

export interface BlobInfo {
  bytes: number;
  sha256: string;
}

export interface BlobStat {
  bytes: number;
  modifiedAt: Date;
}

export interface PutOptions {
  /** Abort (and leave nothing behind) once more than this many bytes arrived: BlobTooLargeError. */
  maxBytes?: number;
}

/** Where datasets, checkpoints and weights live. Keys are `/`-separated relative paths. */
export interface BlobStore {
  /** Atomic: readers see either nothing or the whole blob, never a partial one. */
  put(key: string, data: Uint8Array | Readable, options?: PutOptions): Promise<BlobInfo>;
  get(key: string): Promise<Buffer | null>;
  stream(key: string): Promise<Readable | null>;
  stat(key: string): Promise<BlobStat | null>;
  /** True when something was deleted. */
  delete(key: string): Promise<boolean>;
  /** Keys starting with `prefix`, sorted. */
  list(prefix: string): Promise<string[]>;
}

export class BlobKeyError extends Error {
  override name = 'BlobKeyError';
}

export class BlobTooLargeError extends Error {
  override name = 'BlobTooLargeError';
  constructor(readonly maxBytes: number) {
    super(`blob exceeds the limit of ${maxBytes} bytes`);
  }
}

const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/;

/** Rejects anything that could escape the store's root: `..`, absolute paths, hidden names, odd characters. */
export function assertValidBlobKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0 || key.length > 1000) throw new BlobKeyError(`invalid blob key: ${JSON.stringify(key)}`);
  for (const segment of key.split('/')) {
    if (!SEGMENT.test(segment) || segment === '.' || segment === '..') {
      throw new BlobKeyError(`invalid blob key segment ${JSON.stringify(segment)} in ${JSON.stringify(key)}`);
    }
  }
}
