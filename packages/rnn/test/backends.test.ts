// Backend selection (createDefaultKernels) and the WASM backend's memory discipline in training:
// every buffer a trainer touches lives in WASM memory, a step allocates nothing there, and
// dispose() gives it all back.

import { afterEach, describe, expect, it } from 'vitest';
import { jsKernels } from '../src/kernels/js.ts';
import { TWO_THREAD_MIN_WINDOW_FLOPS, createDefaultKernels, threadsFor } from '../src/kernels/select.ts';
import { type WasmKernels, createWasmKernels } from '../src/kernels/wasm/backend.ts';
import { relaxedSimdAvailable } from '../src/kernels/wasm/relaxed-simd.ts';
import { Trainer } from '../src/trainer.ts';
import { lmSpec, randomTokens } from './helpers/specs.ts';

describe('createDefaultKernels', () => {
  const savedEnv = process.env.UNROLL_BACKEND;
  afterEach(() => {
    if (savedEnv === undefined) delete process.env.UNROLL_BACKEND;
    else process.env.UNROLL_BACKEND = savedEnv;
  });

  it('defaults to the WASM SIMD kernels (fma where relaxed SIMD runs)', async () => {
    delete process.env.UNROLL_BACKEND;
    const k = (await createDefaultKernels({ hidden: 128 })) as WasmKernels;
    expect(k.name).toBe('wasm-simd');
    expect(k.id).toBe(relaxedSimdAvailable() ? 'wasm-simd-fma' : 'wasm-simd');
    expect(k.threads).toBe(1);
    await k.close();
  });

  it('splits big models over two threads (where there are two cores), small ones not; threads overrides', async () => {
    const cores = (await import('node:os')).availableParallelism();
    const big = (await createDefaultKernels({ hidden: 512 })) as WasmKernels;
    expect(big.threads).toBe(Math.min(2, cores));
    const small = (await createDefaultKernels({ hidden: 128 })) as WasmKernels;
    expect(small.threads).toBe(1);
    const pinned = (await createDefaultKernels({ hidden: 512, threads: 1 })) as WasmKernels;
    expect(pinned.threads).toBe(1);
    await Promise.all([big.close(), small.close(), pinned.close()]);
  });

  it("threads 'auto': two when a window's recurrence is worth splitting and the cores allow", () => {
    const M = { hidden: 128, batch: 32, window: 64 }; // the benchmark's M: 2·K·B·H² = 67 M
    expect(2 * M.window * M.batch * M.hidden ** 2).toBeGreaterThanOrEqual(TWO_THREAD_MIN_WINDOW_FLOPS);
    expect(threadsFor({ ...M, cores: 2 })).toBe(2);
    expect(threadsFor({ ...M, cores: 16 })).toBe(2);
    expect(threadsFor({ ...M, cores: 1 })).toBe(1); // e.g. two jobs at once on two cores
    expect(threadsFor({ hidden: 100, batch: 1, window: 25, cores: 2 })).toBe(1); // S: one stream, nothing to split
    expect(threadsFor({ hidden: 512, batch: 4, window: 64, cores: 2 })).toBe(1); // fewer than 8 streams
    expect(threadsFor({ hidden: 16, batch: 64, window: 32, cores: 2 })).toBe(1); // too little work
    expect(threadsFor({ hidden: 64, batch: 16, window: 32, cores: 2 })).toBe(2); // 2²² flops, 512 rows
    expect(threadsFor({ hidden: 128, batch: 8, window: 16, cores: 2 })).toBe(1); // 2²² flops but only 128 rows
    expect(threadsFor({ hidden: 512, cores: 2 })).toBe(2); // batch / window unknown: by hidden size
    expect(threadsFor({ hidden: 128, cores: 2 })).toBe(1);
    expect(threadsFor({ ...M, threads: 1, cores: 2 })).toBe(1);
    expect(threadsFor({ ...M, threads: 4, cores: 2 })).toBe(2); // never more than the cores
  });

  it('js, exact ids, the UNROLL_BACKEND default, and bad requests', async () => {
    expect(await createDefaultKernels({ backend: 'js' })).toBe(jsKernels);
    const plain = await createDefaultKernels({ backend: 'wasm-simd' });
    expect(plain.id).toBe('wasm-simd');
    process.env.UNROLL_BACKEND = 'js';
    expect(await createDefaultKernels()).toBe(jsKernels);
    expect((await createDefaultKernels({ backend: 'wasm' })).name).toBe('wasm-simd');
    process.env.UNROLL_BACKEND = 'cuda';
    await expect(createDefaultKernels()).rejects.toThrow(/UNROLL_BACKEND must be 'wasm' or 'js'/);
    await expect(createDefaultKernels({ backend: 'gpu' as 'js' })).rejects.toThrow(/backend must be one of/);
    await expect(createDefaultKernels({ backend: 'js', threads: 0 })).resolves.toBe(jsKernels);
    await expect(createDefaultKernels({ backend: 'wasm', threads: 0 })).rejects.toThrow(/threads must be a positive integer or 'auto'/);
  });

  it('falls back to the JS kernels, saying why, where WebAssembly threads are missing', async () => {
    const g = globalThis as { SharedArrayBuffer?: unknown };
    const saved = g.SharedArrayBuffer;
    const reasons: string[] = [];
    g.SharedArrayBuffer = undefined;
    try {
      expect(await createDefaultKernels({ onFallback: (r) => reasons.push(r) })).toBe(jsKernels);
    } finally {
      g.SharedArrayBuffer = saved;
    }
    expect(reasons).toEqual([expect.stringMatching(/SharedArrayBuffer/)]);
  });
});

describe('a trainer on the WASM backend', () => {
  const data = randomTokens(4 * 30 + 1, 7, 3);

  it('keeps parameters, gradients, optimizer moments and the workspace in WASM memory', async () => {
    const wk = await createWasmKernels();
    const base = wk.arena.bytesInUse;
    const sgd = Trainer.create(lmSpec(7, { optimizer: { name: 'sgd', lr: 0.1 } }), data, { kernels: wk });
    const sgdBytes = wk.arena.bytesInUse - base;
    const adam = Trainer.create(lmSpec(7), data, { kernels: wk });
    const adamBytes = wk.arena.bytesInUse - base - sgdBytes;
    expect(wk.owns(adam.params as Float32Array)).toBe(true);
    // Adam's two moment buffers (exp_avg, exp_avg_sq), 64-byte aligned blocks, are the only difference
    const P = adam.layout.total;
    expect(adamBytes - sgdBytes).toBe(2 * Math.ceil((4 * P) / 64) * 64);
    // params + grads + moments + the window workspace at least
    expect(adamBytes).toBeGreaterThan(4 * 4 * P);
    sgd.dispose();
    adam.dispose();
    expect(wk.arena.bytesInUse).toBe(base);
  });

  it('allocates nothing in WASM memory while training (steps, epoch ends, validation), and dispose frees it all', async () => {
    const wk = await createWasmKernels();
    const create = () => Trainer.create(lmSpec(7, { epochs: 3 }), data, { kernels: wk, validation: randomTokens(50, 7, 4) });
    // the backend's own scratch (transposed weights, row statistics) grows to its working size
    // once and is kept for the next calls: count from there
    const warm = create();
    warm.runEpoch();
    warm.dispose();
    const base = wk.arena.bytesInUse;
    const t = create();
    t.runEpoch(); // the first validation builds the evaluation workspace, once
    const settled = wk.arena.bytesInUse;
    while (!t.done) {
      t.step();
      expect(wk.arena.bytesInUse).toBe(settled);
    }
    t.serialize();
    expect(wk.arena.bytesInUse).toBe(settled);
    t.dispose();
    expect(wk.arena.bytesInUse).toBe(base);
    expect(() => t.step()).toThrow(/disposed/);
    t.dispose(); // idempotent
  });
});

describe('two-thread training', () => {
  it('gives bitwise the weights of one thread (every product split, accumulate and overwrite)', async () => {
    const spec = lmSpec(7, { epochs: 2, model: { inputKind: 'tokens', inputSize: 7, hiddenSize: 24, outputSize: 7, activation: 'tanh' } });
    const data = randomTokens(6 * 40 + 1, 7, 5);
    const weights: Buffer[] = [];
    for (const threads of [1, 2]) {
      const kernels = await createWasmKernels({ threads, parallelMinFlops: 0 });
      const t = Trainer.create(spec, data, { kernels });
      while (!t.done) t.runEpoch();
      weights.push(Buffer.from(Float32Array.from(t.params).buffer));
      t.dispose();
      await kernels.close();
    }
    expect(Buffer.compare(weights[0], weights[1])).toBe(0);
  });

  it('splits the window recurrence by streams with bitwise the same weights and diagnostics (B = 9, 16)', async () => {
    for (const batchSize of [9, 16]) {
      const spec = lmSpec(7, { batchSize, epochs: 1, model: { inputKind: 'tokens', inputSize: 7, hiddenSize: 36, outputSize: 7, activation: 'tanh' } });
      const data = randomTokens(batchSize * 60 + 1, 7, 3);
      const runs: { weights: Buffer; metrics: unknown }[] = [];
      for (const threads of [1, 2]) {
        const kernels = await createWasmKernels({ threads, parallelMinFlops: 0 });
        const t = Trainer.create(spec, data, { kernels });
        const metrics = t.runEpoch();
        runs.push({ weights: Buffer.from(Float32Array.from(t.params).buffer), metrics: { ...metrics, durationMs: 0, tokensPerSec: 0 } });
        t.dispose();
        await kernels.close();
      }
      expect(Buffer.compare(runs[0].weights, runs[1].weights), `B ${batchSize}`).toBe(0);
      expect(runs[1].metrics, `B ${batchSize}`).toEqual(runs[0].metrics);
    }
  });
});
