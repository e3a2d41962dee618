import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Queue } from 'bullmq';
import { createRedis, QUEUE_NAME, QUEUE_PREFIX } from '@unroll/store';
import { startTestApp, uploadText, createJob, type TestApp } from './helpers.ts';

let t: TestApp;
let textId: string;
let queue: Queue;
beforeAll(async () => {
  t = await startTestApp();
  textId = await uploadText(t);
  queue = new Queue(QUEUE_NAME, { connection: createRedis(t.config.REDIS_URL, 'blocking'), prefix: QUEUE_PREFIX });
});
afterAll(async () => {
  await queue?.close();
  await t?.close();
});

describe('POST /v1/jobs', () => {
  it('queues the job (record + BullMQ entry) and echoes the defaults', async () => {
    const res = await createJob(t, { datasetId: textId, task: 'lm', model: { hiddenSize: 32 }, training: { epochs: 3 } });
    expect(res.statusCode, res.body).toBe(202);
    const job = res.json();
    expect(job).toMatchObject({ status: 'queued', task: 'lm', datasetId: textId, attempt: 0, cancelRequested: false, progress: null, metrics: null, error: null });
    expect(job.spec.model).toEqual({ hiddenSize: 32, activation: 'tanh', init: { scheme: 'pytorch' } });
    expect(job.spec.training).toMatchObject({ epochs: 3, batchSize: 16, bptt: { mode: 'truncated', k1: 25, k2: 25 }, seed: 0, validationSplit: 0.1 });
    expect(job.spec.training.optimizer).toEqual({ name: 'adam', lr: 0.001, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, amsgrad: false });
    expect(job.timestamps.queued).toBe(job.createdAt);
    expect(job).not.toHaveProperty('tenant');
    expect(job).not.toHaveProperty('fence');
    const entry = await queue.getJob(job.id);
    expect(entry?.data).toEqual({ jobId: job.id });
    expect(entry?.opts.attempts).toBe(t.config.JOB_ATTEMPTS);
    const got = await t.app.inject({ url: `/v1/jobs/${job.id}`, headers: t.auth() });
    // GET adds where the queued job stands: first in line, no worker connected in this test.
    expect(got.json()).toEqual({ ...job, queue: { state: 'waiting', position: 1, liveWorkers: 0 } });
  });

  it('400 invalid_request naming the offending field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ datasetId: textId, task: 'lm', training: { epochs: 100000 } }, 'training.epochs'],
      [{ datasetId: textId, task: 'lm', training: { epochs: 2, bogus: true } }, 'training.bogus'],
      [{ datasetId: textId, task: 'lm', surprise: 1 }, 'surprise'],
      [{ datasetId: textId, task: 'lm', model: { hiddenSize: 0 } }, 'model.hiddenSize'],
      [{ datasetId: textId, task: 'lm', training: { optimizer: { name: 'adam', lr: -1 } } }, 'training.optimizer.lr'],
      [{ datasetId: textId, task: 'lm', training: { bptt: { mode: 'truncated', k1: 50, k2: 10 } } }, 'training.bptt.k1'],
      [{ datasetId: textId, task: 'poetry' }, 'task'],
      [{ task: 'lm' }, 'datasetId'],
      [{ datasetId: 'not-an-id', task: 'lm' }, 'datasetId'],
    ];
    for (const [body, param] of cases) {
      const res = await createJob(t, body);
      expect(res.statusCode, JSON.stringify(body)).toBe(400);
      expect(res.json().error, JSON.stringify(body)).toMatchObject({ code: 'invalid_request', param });
    }
    const notJson = await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: { ...t.auth(), 'content-type': 'application/json' }, payload: '{oops' });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json().error.code).toBe('invalid_request');
  });

  it('checks the dataset exists for the tenant and suits the task', async () => {
    const missing = await createJob(t, { datasetId: 'ds_0000000000000000', task: 'lm' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.param).toBe('datasetId');
    const foreign = await createJob(t, { datasetId: textId, task: 'lm' }, 'other');
    expect(foreign.statusCode).toBe(404);
    const wrong = await createJob(t, { datasetId: textId, task: 'regression' });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().error).toMatchObject({ code: 'incompatible_dataset', param: 'task' });
  });

  it('accepts a small inline dataset and validates it with line / column', async () => {
    const res = await createJob(t, { task: 'regression', inline: { format: 'csv', content: 'x,y\n1,2\n2,3\n3,4\n' } });
    expect(res.statusCode, res.body).toBe(202);
    const ds = await t.app.inject({ url: `/v1/datasets/${res.json().datasetId}`, headers: t.auth() });
    expect(ds.json()).toMatchObject({ kind: 'csv', name: 'inline', csv: { horizon: 1, normalize: true } });
    const bad = await createJob(t, { task: 'regression', inline: { format: 'csv', content: 'x,y\n1,2\n2,zz\n' } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'invalid_dataset', param: 'inline.content', line: 3, column: 2 });
    const wrongTask = await createJob(t, { task: 'lm', inline: { format: 'csv', content: 'x,y\n1,2\n2,3\n' } });
    expect(wrongTask.json().error.code).toBe('incompatible_dataset');
  });
});

describe('GET /v1/jobs', () => {
  it('pages newest first and filters by status', async () => {
    const fresh = await startTestApp();
    try {
      const ds = await uploadText(fresh);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await createJob(fresh, { datasetId: ds, task: 'lm' })).json().id);
      await fresh.app.inject({ method: 'POST', url: `/v1/jobs/${ids[1]}/cancel`, headers: fresh.auth() });
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: { json(): unknown; statusCode: number; body: string } = await fresh.app.inject({ url: `/v1/jobs?limit=2${cursor ? `&cursor=${cursor}` : ''}`, headers: fresh.auth() });
        const page = res.json() as { items: { id: string }[]; nextCursor: string | null };
        seen.push(...page.items.map((j: { id: string }) => j.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen).toEqual([...ids].sort().reverse());
      const cancelled = (await fresh.app.inject({ url: '/v1/jobs?status=cancelled', headers: fresh.auth() })).json();
      expect(cancelled.items.map((j: { id: string }) => j.id)).toEqual([ids[1]]);
      const queued = (await fresh.app.inject({ url: '/v1/jobs?status=queued&limit=100', headers: fresh.auth() })).json();
      expect(queued.items).toHaveLength(4);
      expect((await fresh.app.inject({ url: '/v1/jobs', headers: fresh.auth('other') })).json().items).toEqual([]);
      const bad = await fresh.app.inject({ url: '/v1/jobs?status=paused', headers: fresh.auth() });
      expect(bad.json().error).toMatchObject({ code: 'invalid_request', param: 'status' });
    } finally {
      await fresh.close();
    }
  });
});

describe('POST /v1/jobs/:id/cancel', () => {
  it('queued → cancelled at once, removed from the queue; repeated cancel is harmless', async () => {
    const job = (await createJob(t, { datasetId: textId, task: 'lm' })).json();
    expect(await queue.getJob(job.id)).toBeDefined();
    const res = await t.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: t.auth() });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'cancelled', cancelRequested: true });
    expect(res.json().timestamps.cancelled).toBeDefined();
    expect(await queue.getJob(job.id)).toBeUndefined();
    const again = await t.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: t.auth() });
    expect(again.statusCode).toBe(200);
  });

  it('running → cancel requested (202), the worker finishes it; finished → 409', async () => {
    const job = (await createJob(t, { datasetId: textId, task: 'lm' })).json();
    // Play the worker's part through the store, holding the job's BullMQ lock as a live worker does.
    const fence = await t.app.jobs.claimAttempt(job.id);
    await t.app.jobs.transition(job.id, 'running', { fence });
    await t.app.redis.set(`unroll:bull:unroll-train:${job.id}:lock`, 'a-live-worker', 'PX', 30_000);
    const res = await t.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: t.auth() });
    expect(res.statusCode).toBe(202);
    expect(res.json()).toMatchObject({ status: 'running', cancelRequested: true });
    expect(await t.app.jobs.isCancelRequested(job.id)).toBe(true);
    await t.app.jobs.transition(job.id, 'cancelled', { fence });
    const after = await t.app.inject({ url: `/v1/jobs/${job.id}`, headers: t.auth() });
    expect(after.json().history.map((h: { status: string }) => h.status)).toEqual(['queued', 'running', 'cancelled']);

    const done = (await createJob(t, { datasetId: textId, task: 'lm' })).json();
    const f2 = await t.app.jobs.claimAttempt(done.id);
    await t.app.jobs.transition(done.id, 'running', { fence: f2 });
    await t.app.jobs.transition(done.id, 'succeeded', { fence: f2 });
    const late = await t.app.inject({ method: 'POST', url: `/v1/jobs/${done.id}/cancel`, headers: t.auth() });
    expect(late.statusCode).toBe(409);
    expect(late.json().error.code).toBe('job_finished');
  });

  it('running with no live worker holding it (orphaned) → cancelled at once (200), dataset released', async () => {
    const job = (await createJob(t, { datasetId: textId, task: 'lm' })).json();
    // Its worker died: the record reads running, but no BullMQ lock is held for it.
    const fence = await t.app.jobs.claimAttempt(job.id);
    await t.app.jobs.transition(job.id, 'running', { fence });
    const res = await t.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: t.auth() });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toMatchObject({ status: 'cancelled', cancelRequested: true });
    expect(await t.app.redis.sismember(`unroll:dataset:${textId}:active-jobs`, job.id)).toBe(0);
    expect(await queue.getJob(job.id)).toBeUndefined();
  });
});
