// The API's compute pool on real worker threads: bounded queue (503 compute_busy), a crashed
// thread answered 500 compute_failed and replaced, aborts that free their slot, idempotent close.
import { afterEach, describe, expect, it } from 'vitest';
import { ComputePool } from '../src/compute/pool.ts';
import { ComputeAbortedError } from '../src/compute/errors.ts';
import { toErrorResponse } from '../src/errors.ts';

const ENTRY = new URL('./fixtures/compute-thread.mjs', import.meta.url);
const pools: ComputePool[] = [];
const poolOf = (threads: number, maxQueue: number) => {
  const pool = new ComputePool({ threads, maxQueue, init: { blobsRoot: '/nonexistent' }, entry: ENTRY });
  pools.push(pool);
  return pool;
};
// The fixture's tasks are not the API's: typed loosely here.
const run = (pool: ComputePool, task: Record<string, unknown>, options: { signal?: AbortSignal } = {}) => pool.run(task as never, options) as Promise<unknown>;
const envelopeOf = async (promise: Promise<unknown>) => {
  const err = await promise.then(
    () => null,
    (e: Error) => e,
  );
  expect(err).not.toBeNull();
  return toErrorResponse(err!);
};

afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});

describe('ComputePool', () => {
  it('a full queue answers 503 compute_busy at once; the pool accepts again once it drains', async () => {
    const pool = poolOf(1, 2);
    const running = [run(pool, { type: 'spin', ms: 300 }), run(pool, { type: 'spin', ms: 10 }), run(pool, { type: 'spin', ms: 10 })];
    const started = performance.now();
    const refused = await envelopeOf(run(pool, { type: 'spin', ms: 10 }));
    expect(performance.now() - started).toBeLessThan(50);
    expect(refused).toMatchObject({ statusCode: 503, body: { error: { code: 'compute_busy' } } });
    expect(await Promise.all(running)).toEqual(['done', 'done', 'done']);
    expect(await run(pool, { type: 'spin', ms: 1, value: 'again' })).toBe('again');
  });

  it('a thread that throws or exits: its task gets 500 compute_failed, a replacement runs the next task', async () => {
    const pool = poolOf(1, 4);
    const crashed = run(pool, { type: 'crash' });
    const queued = run(pool, { type: 'spin', ms: 1, value: 'after crash' });
    expect(await envelopeOf(crashed)).toMatchObject({ statusCode: 500, body: { error: { code: 'compute_failed', message: expect.stringContaining('boom in the thread') } } });
    expect(await queued).toBe('after crash');
    expect(await envelopeOf(run(pool, { type: 'exit' }))).toMatchObject({ statusCode: 500, body: { error: { code: 'compute_failed', message: expect.stringContaining('code 7') } } });
    expect(await run(pool, { type: 'spin', ms: 1, value: 'after exit' })).toBe('after exit');
    expect(pool.load.threads).toBe(1);
  });

  it('a thread answering a client error passes our envelope through (status, code, fields)', async () => {
    const pool = poolOf(1, 1);
    expect(await envelopeOf(run(pool, { type: 'bad-request' }))).toEqual({
      statusCode: 400,
      body: { error: { code: 'invalid_request', message: 'bad field', param: 'text', position: 3 } },
    });
  });

  it('an abort frees the slot: a queued task leaves the queue, a running one has its thread replaced', async () => {
    const pool = poolOf(1, 1);
    const running = new AbortController();
    const queued = new AbortController();
    const long = run(pool, { type: 'spin', ms: 10_000 }, { signal: running.signal });
    const waiting = run(pool, { type: 'spin', ms: 1 }, { signal: queued.signal });
    queued.abort();
    await expect(waiting).rejects.toBeInstanceOf(ComputeAbortedError);
    expect(pool.load).toMatchObject({ queued: 0, running: 1 });
    const next = run(pool, { type: 'spin', ms: 1, value: 'next' }); // the queue has room again
    const started = performance.now();
    running.abort();
    await expect(long).rejects.toBeInstanceOf(ComputeAbortedError);
    expect(await next).toBe('next');
    expect(performance.now() - started).toBeLessThan(3000); // not the 10 s the aborted task would take
  });

  it('close rejects queued and running tasks with 503, refuses new ones, and is idempotent', async () => {
    const pool = poolOf(1, 2);
    const runningTask = run(pool, { type: 'spin', ms: 2000 });
    const queuedTask = run(pool, { type: 'spin', ms: 1 });
    const outcomes = [envelopeOf(runningTask), envelopeOf(queuedTask)];
    await new Promise((r) => setTimeout(r, 100));
    await Promise.all([pool.close(), pool.close()]);
    await pool.close();
    for (const outcome of [...(await Promise.all(outcomes)), await envelopeOf(run(pool, { type: 'spin', ms: 1 }))]) {
      expect(outcome).toMatchObject({ statusCode: 503, body: { error: { code: 'compute_busy' } } });
    }
    expect(pool.load).toEqual({ queued: 0, running: 0, threads: 0 });
  });
});
