import { join } from 'node:path';
import { FsBlobStore } from './fs-blob-store.ts';

/** The blob store the API and the worker share: DATA_DIR/blobs (api-keys.json stays beside it). */
export function createBlobStore(config: { DATA_DIR: string }): FsBlobStore {
  return new FsBlobStore(join(config.DATA_DIR, 'blobs'));
}
