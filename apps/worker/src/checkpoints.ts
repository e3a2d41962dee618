// Finding what to resume from: a job's checkpoints in the blob store, newest first. The training
// thread verifies each one's checksum (Trainer.restore) and falls back to the next.
//
// Two kinds live under jobs/{id}/checkpoints/: `epoch-{n}.ckpt` after each completed epoch, and
// `epoch-{n}-step-{s}.ckpt` written when a worker shut down s steps into epoch n + 1.
import { blobKeys, type BlobStore } from '@unroll/store';
import type { CheckpointCandidate } from './thread-protocol.ts';

/** Candidates loaded per attempt: the newest, then older ones in case the newest is corrupt. */
export const MAX_RESUME_CANDIDATES = 3;

export interface CheckpointRef {
  key: string;
  /** Completed epochs in the checkpoint. */
  epoch: number;
  /** Steps into the next epoch (0 for an end-of-epoch checkpoint). */
  step: number;
}

const CHECKPOINT_NAME = /\/checkpoints\/epoch-(\d+)(?:-step-(\d+))?\.ckpt$/;

export function parseCheckpointKey(key: string): CheckpointRef | null {
  const m = CHECKPOINT_NAME.exec(key);
  return m ? { key, epoch: Number(m[1]), step: m[2] === undefined ? 0 : Number(m[2]) } : null;
}

/** Key of the checkpoint a shutting-down worker leaves `step` steps after `epoch` completed epochs. */
export function interruptedCheckpointKey(jobId: string, epoch: number, step: number): string {
  return step === 0 ? blobKeys.checkpoint(jobId, epoch) : `${blobKeys.checkpointsPrefix(jobId)}epoch-${epoch}-step-${step}.ckpt`;
}

/** A job's checkpoints, newest (most training done) first. */
export async function listCheckpoints(blobs: BlobStore, jobId: string): Promise<CheckpointRef[]> {
  const found: CheckpointRef[] = [];
  for (const key of await blobs.list(blobKeys.checkpointsPrefix(jobId))) {
    const ref = parseCheckpointKey(key);
    if (ref) found.push(ref);
  }
  return found.sort((a, b) => b.epoch - a.epoch || b.step - a.step);
}

/** The newest checkpoints' bytes (at most `limit`), skipping any that vanished or are empty. */
export async function loadResumeCandidates(blobs: BlobStore, jobId: string, limit = MAX_RESUME_CANDIDATES): Promise<CheckpointCandidate[]> {
  const out: CheckpointCandidate[] = [];
  for (const { key, epoch } of await listCheckpoints(blobs, jobId)) {
    if (out.length >= limit) break;
    const bytes = await blobs.get(key);
    // A private copy: its ArrayBuffer is transferred to the thread, and a Buffer may share a pool.
    if (bytes && bytes.length > 0) out.push({ key, epoch, bytes: new Uint8Array(bytes) });
  }
  return out;
}

/** Deletes all but the newest `keep` checkpoints. */
export async function pruneCheckpoints(blobs: BlobStore, jobId: string, keep: number): Promise<void> {
  const all = await listCheckpoints(blobs, jobId);
  for (const { key } of all.slice(Math.max(keep, 1))) await blobs.delete(key);
}
