import type { JobSpec } from '@unroll/protocol';
import { blobKeys, type BlobStore, type DatasetRecord } from '@unroll/store';
import { parseDataset } from './dataset-ingest.ts';
import { RnnModel, splitForValidation, Trainer } from './engine.ts';

export type WeightsChoice = 'final' | 'best' | number;

/**
 * Safetensors bytes for a job's final weights, best weights, or one epoch's checkpoint
 * (converted through Trainer.restore, which needs the training split the worker used:
 * the dataset parsed the same way, minus the validation tail). Null when absent.
 */
export async function loadWeightsBytes(
  blobs: BlobStore,
  jobId: string,
  which: WeightsChoice,
  context?: { spec: JobSpec; dataset: DatasetRecord | null; weightsKey?: string | null },
): Promise<Uint8Array | null> {
  // The key the winning attempt recorded (a zombie attempt's weights are never served).
  if (which === 'final') return blobs.get(context?.weightsKey ?? blobKeys.finalWeights(jobId));
  if (which === 'best') {
    const best = await blobs.get(blobKeys.bestWeights(jobId));
    if (best) return best;
  }
  const checkpoint = await blobs.get(which === 'best' ? blobKeys.bestCheckpoint(jobId) : blobKeys.checkpoint(jobId, which));
  if (!checkpoint || !context?.dataset) return null;
  const content = await blobs.get(context.dataset.blobKey);
  if (!content) return null;
  const parsed = parseDataset(context.dataset.kind, content, context.dataset.csv);
  const { train } = splitForValidation(parsed, context.spec.training.validationSplit);
  return Trainer.restore(checkpoint, train).model.toSafetensors();
}

/** A small LRU of loaded models, keyed by job, weights choice and blob identity (size + mtime). */
export class ModelCache {
  private readonly entries = new Map<string, RnnModel>();
  constructor(private readonly capacity = 8) {}

  async get(key: string, load: () => Promise<RnnModel | null>): Promise<RnnModel | null> {
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit); // most recently used last
      return hit;
    }
    const model = await load();
    if (!model) return null;
    this.entries.set(key, model);
    while (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value!);
    return model;
  }

  get size(): number {
    return this.entries.size;
  }
}

/** The model (cached) and the keys a compute thread loads the same bytes by. */
export async function loadModelWithRef(
  blobs: BlobStore,
  jobId: string,
  which: 'final' | 'best',
  cache: ModelCache,
  weightsKey: string | null = null,
): Promise<{ model: RnnModel; ref: { blobKey: string; cacheKey: string } } | null> {
  const blobKey = which === 'final' ? (weightsKey ?? blobKeys.finalWeights(jobId)) : blobKeys.bestWeights(jobId);
  const stat = await blobs.stat(blobKey);
  if (!stat) return null;
  const cacheKey = `${blobKey}:${stat.bytes}:${stat.modifiedAt.getTime()}`;
  const model = await cache.get(cacheKey, async () => {
    const bytes = await blobs.get(blobKey);
    return bytes ? RnnModel.fromSafetensors(bytes) : null;
  });
  return model ? { model, ref: { blobKey, cacheKey } } : null;
}
