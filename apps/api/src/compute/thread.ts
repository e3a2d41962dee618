// A compute thread: runs one task at a time for the pool and answers with its result or our error
// envelope's fields. Reads models and datasets from the blob store itself.
import { parentPort, workerData, type TransferListItem } from 'node:worker_threads';
import { FsBlobStore } from '@unroll/store';
import { toErrorResponse } from '../errors.ts';
import { RnnModel } from '../engine.ts';
import { parseDataset, statsOf } from '../dataset-ingest.ts';
import { runPrediction } from '../inference/predict-output.ts';
import type { ComputeTask, ModelRef, ThreadInit, ThreadReply } from './tasks.ts';

const init = workerData as ThreadInit;
const blobs = new FsBlobStore(init.blobsRoot);

/** Loaded models by cache key (blob key + size + mtime), most recently used last. */
const models = new Map<string, RnnModel>();
const MODEL_CACHE_SIZE = 4;

async function modelOf(ref: ModelRef): Promise<RnnModel> {
  const hit = models.get(ref.cacheKey);
  if (hit) {
    models.delete(ref.cacheKey);
    models.set(ref.cacheKey, hit);
    return hit;
  }
  const bytes = await blobs.get(ref.blobKey);
  if (!bytes) throw new Error(`model blob ${ref.blobKey} is gone`);
  const model = RnnModel.fromSafetensors(bytes);
  models.set(ref.cacheKey, model);
  while (models.size > MODEL_CACHE_SIZE) models.delete(models.keys().next().value!);
  return model;
}

async function execute(task: ComputeTask): Promise<{ value: unknown; transfer: TransferListItem[] }> {
  switch (task.type) {
    case 'predict': {
      const body = runPrediction(await modelOf(task.model), task);
      return { value: body, transfer: [body.buffer as ArrayBuffer] };
    }
    case 'sample': {
      const text = (await modelOf(task.model)).sample(task);
      const body = new TextEncoder().encode(JSON.stringify({ text }));
      return { value: body, transfer: [body.buffer as ArrayBuffer] };
    }
    case 'dataset-stats': {
      const content = await blobs.get(task.blobKey);
      if (!content) throw new Error(`dataset blob ${task.blobKey} is gone`);
      return { value: statsOf(parseDataset(task.kind, content, task.csv)), transfer: [] };
    }
  }
}

parentPort!.on('message', async ({ id, task }: { id: number; task: ComputeTask }) => {
  let reply: ThreadReply;
  let transfer: TransferListItem[] = [];
  try {
    const done = await execute(task);
    reply = { id, ok: true, value: done.value };
    transfer = done.transfer;
  } catch (err) {
    const { statusCode, body } = toErrorResponse(err as Error);
    const { code, message, ...details } = body.error;
    // A 500's real cause goes back to be logged; the client gets our generic envelope.
    reply = statusCode >= 500
      ? { id, ok: false, error: { statusCode, code, message: (err as Error)?.message ?? String(err), details: {}, stack: (err as Error)?.stack } }
      : { id, ok: false, error: { statusCode, code, message, details } };
  }
  parentPort!.postMessage(reply, transfer);
});
