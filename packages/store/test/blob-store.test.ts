import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BlobKeyError, BlobTooLargeError, FsBlobStore } from '../src/index.ts';

let root: string;
let store: FsBlobStore;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'unroll-blobs-'));
  store = new FsBlobStore(root);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('FsBlobStore', () => {
  it('puts bytes and streams, reporting size and sha256', async () => {
    const data = Buffer.from('hello blob');
    const info = await store.put('datasets/ds_1', data);
    expect(info).toEqual({ bytes: data.length, sha256: createHash('sha256').update(data).digest('hex') });
    expect((await store.get('datasets/ds_1'))?.toString()).toBe('hello blob');
    const streamed = await store.put('jobs/j1/final.safetensors', Readable.from([Buffer.from('ab'), Buffer.from('cd')]));
    expect(streamed.bytes).toBe(4);
    const s = await store.stream('jobs/j1/final.safetensors');
    const chunks: Buffer[] = [];
    for await (const c of s!) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('abcd');
    expect((await store.stat('jobs/j1/final.safetensors'))?.bytes).toBe(4);
  });

  it('answers null / false for missing blobs', async () => {
    expect(await store.get('nope')).toBeNull();
    expect(await store.stream('nope')).toBeNull();
    expect(await store.stat('a/b/c')).toBeNull();
    expect(await store.delete('nope')).toBe(false);
  });

  it('replaces atomically and leaves no temp file behind', async () => {
    await store.put('k', Buffer.from('old'));
    await store.put('k', Buffer.from('new'));
    expect((await store.get('k'))?.toString()).toBe('new');
    expect(await readdir(root)).toEqual(['k']);
  });

  it('a failed streamed put keeps the previous content and removes the partial file', async () => {
    // Repeated: a source that fails before the temp file's asynchronous open completes used to
    // leave the file behind (the rm ran first), a few times in a hundred.
    for (let i = 0; i < 100; i++) {
      await store.put(`d${i}/k`, Buffer.from('previous'));
      const failing = new Readable({
        read() {
          this.push(Buffer.alloc(1000, 1));
          this.destroy(new Error('client went away'));
        },
      });
      await expect(store.put(`d${i}/k`, failing)).rejects.toThrow('client went away');
      expect((await store.get(`d${i}/k`))?.toString()).toBe('previous');
      expect(await readdir(join(root, `d${i}`))).toEqual(['k']);
    }
  });

  it('aborts past maxBytes before reading the whole stream', async () => {
    let produced = 0;
    const endless = new Readable({
      read() {
        produced += 64 * 1024;
        this.push(Buffer.alloc(64 * 1024));
      },
    });
    await expect(store.put('big', endless, { maxBytes: 1024 * 1024 })).rejects.toBeInstanceOf(BlobTooLargeError);
    expect(produced).toBeLessThan(4 * 1024 * 1024);
    expect(await store.get('big')).toBeNull();
    expect(await readdir(root)).toEqual([]);
  });

  it('rejects keys that could escape the root', async () => {
    for (const bad of ['../x', 'a/../../x', '/etc/passwd', 'a//b', '.hidden', 'a/./b', 'a\\b', '', 'a/b/', 'ü']) {
      await expect(store.put(bad, Buffer.from('x')), bad).rejects.toBeInstanceOf(BlobKeyError);
      await expect(store.get(bad), bad).rejects.toBeInstanceOf(BlobKeyError);
    }
  });

  it('lists by prefix, sorted, skipping in-flight temp files', async () => {
    await store.put('jobs/j1/checkpoints/epoch-2.ckpt', Buffer.from('2'));
    await store.put('jobs/j1/checkpoints/epoch-1.ckpt', Buffer.from('1'));
    await store.put('jobs/j1/final.safetensors', Buffer.from('f'));
    await store.put('jobs/j2/final.safetensors', Buffer.from('f'));
    expect(await store.list('jobs/j1/checkpoints/')).toEqual(['jobs/j1/checkpoints/epoch-1.ckpt', 'jobs/j1/checkpoints/epoch-2.ckpt']);
    expect(await store.list('jobs/j1/')).toHaveLength(3);
    expect(await store.list('jobs/none/')).toEqual([]);
    expect(await store.delete('jobs/j1/final.safetensors')).toBe(true);
    expect(await store.list('jobs/j1/f')).toEqual([]);
  });
});
