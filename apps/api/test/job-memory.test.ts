// POST /v1/jobs refuses a job that cannot fit in a worker (400 job_too_large with the estimate
// and the limit) instead of accepting it to fail after every retry; a job that fits carries its
// estimate in the record. Real Redis (startTestApp), real uploads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_DATASET_STATS, EXAMPLE_JOB_SPEC, EXAMPLE_JOB_TOO_LARGE_ERROR, EXAMPLE_MEMORY_ESTIMATE, JobSpec, MemoryEstimate } from '@unroll/protocol';
import { checkJobFits, estimateJobMemory } from '../src/job-memory.ts';
import { createJob, startTestApp, uploadText, type TestApp } from './helpers.ts';

const GiB = 1024 ** 3;
let t: TestApp;
let longId: string; // 1.2 M characters, 40-character vocabulary
let wideId: string; // a 100 000-character vocabulary
let smallId: string;

/** `n` characters over `v` distinct code points (from U+10000: no surrogate pairs to avoid). */
function corpus(n: number, v: number, base = 0x10000): string {
  const parts: string[] = [];
  for (let i = 0; i < n; i++) parts.push(String.fromCodePoint(base + ((i * 7919) % v)));
  return parts.join('');
}

beforeAll(async () => {
  t = await startTestApp();
  longId = await uploadText(t, 'acme', corpus(1_200_000, 40, 0x61));
  wideId = await uploadText(t, 'acme', corpus(200_000, 100_000));
  smallId = await uploadText(t);
});
afterAll(async () => {
  await t?.close();
});

async function datasetCount(): Promise<number> {
  const res = await t.app.inject({ url: '/v1/datasets?limit=100', headers: t.auth() });
  return res.json().items.length;
}

describe('POST /v1/jobs memory check', () => {
  it.each([
    ['hidden 1024, batch 1024, k 1000', () => longId, { hiddenSize: 1024 }, { batchSize: 1024, bptt: { mode: 'truncated', k1: 1000, k2: 1000 } }, 'training.batchSize'],
    ['a 100 000-character vocabulary with batch 64', () => wideId, {}, { batchSize: 64 }, 'training.batchSize'],
    ['full BPTT with hidden 1024 over a long sequence', () => longId, { hiddenSize: 1024 }, { batchSize: 1, bptt: { mode: 'full' } }, 'training.bptt'],
  ] as const)('400 job_too_large for %s, with the estimate and the limit', async (_name, id, model, training, param) => {
    const before = await datasetCount();
    const res = await createJob(t, { datasetId: id(), task: 'lm', model, training });
    expect(res.statusCode, res.body).toBe(400);
    const error = res.json().error;
    expect(error).toMatchObject({ code: 'job_too_large', param });
    const estimate = MemoryEstimate.parse(error.memoryEstimate);
    expect(estimate.limit).toBe(Math.min(GiB, t.config.WORKER_MEMORY_BUDGET_BYTES));
    expect(estimate.bytes).toBeGreaterThan(estimate.limit);
    expect(error.message).toMatch(/needs an estimated .* GiB of engine memory, over the limit of 1\.00 GiB/);
    // nothing queued, nothing stored
    const jobs = await t.app.inject({ url: '/v1/jobs', headers: t.auth() });
    expect(jobs.json().items).toHaveLength(0);
    expect(await datasetCount()).toBe(before);
  });

  it('202 with memoryEstimate on a job that fits, kept in the job record', async () => {
    const res = await createJob(t, { datasetId: smallId, task: 'lm', model: { hiddenSize: 32 }, training: { epochs: 1 } });
    expect(res.statusCode, res.body).toBe(202);
    const job = res.json();
    const estimate = MemoryEstimate.parse(job.memoryEstimate);
    expect(estimate.bytes).toBeGreaterThan(0);
    expect(estimate.bytes).toBeLessThanOrEqual(estimate.limit);
    expect(estimate.window).toEqual({ steps: 25, batch: 16 });
    const got = await t.app.inject({ url: `/v1/jobs/${job.id}`, headers: t.auth() });
    expect(got.json().memoryEstimate).toEqual(job.memoryEstimate);
    const cancel = await t.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: t.auth() });
    expect(cancel.statusCode).toBe(200);
  });

  it('an inline dataset too large for its job is refused before it is stored', async () => {
    const before = await datasetCount();
    const res = await createJob(t, {
      inline: { format: 'text', content: corpus(200_000, 100_000) },
      task: 'lm',
      training: { batchSize: 64 },
    });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'job_too_large', param: 'training.batchSize' });
    expect(await datasetCount()).toBe(before);
  });
});

describe('WORKER_MEMORY_BUDGET_BYTES', () => {
  it('a budget below the estimate refuses a job that the engine could hold; the limit is the budget', async () => {
    const small = await startTestApp({ WORKER_MEMORY_BUDGET_BYTES: String(2 * 1024 * 1024) });
    try {
      const id = await uploadText(small);
      const res = await createJob(small, { datasetId: id, task: 'lm', model: { hiddenSize: 256 }, training: { batchSize: 64 } });
      expect(res.statusCode, res.body).toBe(400);
      const error = res.json().error;
      expect(error.code).toBe('job_too_large');
      expect(error.memoryEstimate.limit).toBe(2 * 1024 * 1024);
      expect(error.memoryEstimate.budget).toBe(2 * 1024 * 1024);
    } finally {
      await small.close();
    }
  });
});

describe('OpenAPI examples carry real estimates', () => {
  it('EXAMPLE_MEMORY_ESTIMATE is what the estimate gives for EXAMPLE_JOB_SPEC on EXAMPLE_DATASET_STATS', () => {
    const spec = JobSpec.parse(EXAMPLE_JOB_SPEC);
    const { fits, dominantParam: _d, ...estimate } = estimateJobMemory(spec, { kind: 'text', stats: EXAMPLE_DATASET_STATS }, 2 * GiB);
    expect(fits).toBe(true);
    expect(estimate).toEqual(EXAMPLE_MEMORY_ESTIMATE);
  });

  it('EXAMPLE_JOB_TOO_LARGE_ERROR is the real answer for its job', () => {
    const spec = JobSpec.parse({ ...EXAMPLE_JOB_SPEC, model: { hiddenSize: 64 }, training: { batchSize: 64 } });
    const stats = { length: 1_000_000, sequences: 1, vocabularySize: 100_000, outputSize: 100_000 };
    let thrown: { statusCode?: number; code?: string; message?: string; details?: unknown } | null = null;
    try {
      checkJobFits(spec, { kind: 'text', stats }, 2 * GiB);
    } catch (e) {
      thrown = e as typeof thrown;
    }
    expect(thrown).toMatchObject({ statusCode: 400, code: 'job_too_large' });
    const { code: _c, message, ...details } = EXAMPLE_JOB_TOO_LARGE_ERROR.error;
    expect(thrown!.message).toBe(message);
    expect(thrown!.details).toEqual(details);
  });
});
