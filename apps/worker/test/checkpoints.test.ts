import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FsBlobStore, blobKeys } from '@unroll/store';
import { interruptedCheckpointKey, listCheckpoints, loadResumeCandidates, parseCheckpointKey, pruneCheckpoints } from '../src/checkpoints.ts';

describe('checkpoints', () => {
  let dir: string;
  let blobs: FsBlobStore;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'unroll-ckpt-'));
    blobs = new FsBlobStore(dir);
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('parses epoch and mid-epoch checkpoint names', () => {
    expect(parseCheckpointKey('jobs/j/checkpoints/epoch-12.ckpt')).toEqual({ key: 'jobs/j/checkpoints/epoch-12.ckpt', epoch: 12, step: 0 });
    expect(parseCheckpointKey('jobs/j/checkpoints/epoch-3-step-40.ckpt')?.step).toBe(40);
    expect(parseCheckpointKey('jobs/j/best.ckpt')).toBeNull();
    expect(interruptedCheckpointKey('j', 2, 0)).toBe(blobKeys.checkpoint('j', 2));
  });

  it('lists newest first (mid-epoch after its epoch), loads at most N, prunes the oldest', async () => {
    const job = 'job_abcdefgh12';
    for (const key of [blobKeys.checkpoint(job, 1), blobKeys.checkpoint(job, 10), blobKeys.checkpoint(job, 2), interruptedCheckpointKey(job, 2, 5)]) {
      await blobs.put(key, new TextEncoder().encode(key));
    }
    await blobs.put(blobKeys.bestCheckpoint(job), new Uint8Array([1]));
    expect((await listCheckpoints(blobs, job)).map((c) => [c.epoch, c.step])).toEqual([[10, 0], [2, 5], [2, 0], [1, 0]]);
    const loaded = await loadResumeCandidates(blobs, job, 2);
    expect(loaded.map((c) => new TextDecoder().decode(c.bytes))).toEqual([blobKeys.checkpoint(job, 10), interruptedCheckpointKey(job, 2, 5)]);
    await pruneCheckpoints(blobs, job, 2);
    expect((await listCheckpoints(blobs, job)).map((c) => c.key)).toEqual([blobKeys.checkpoint(job, 10), interruptedCheckpointKey(job, 2, 5)]);
    expect(await blobs.get(blobKeys.bestCheckpoint(job))).not.toBeNull();
  });
});
