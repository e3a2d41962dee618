import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '@unroll/testing';
import { JobSpec } from '@unroll/protocol';
import {
  createRedis,
  DatasetStore,
  EventLog,
  IllegalTransitionError,
  JobStore,
  StaleFenceError,
  DatasetNotFoundError,
  keys,
  newDatasetId,
} from '../src/index.ts';

let server: RedisServer;
let redis: Redis;
let jobs: JobStore;
let events: EventLog;
let datasets: DatasetStore;
let datasetId: string;

beforeAll(async () => {
  server = await startRedis();
  redis = createRedis(server.url, 'command');
  await new Promise((r) => redis.once('ready', r));
  jobs = new JobStore(redis, { eventRetention: 1000, jobRetentionSeconds: 3600 });
  events = new EventLog(redis, { eventRetention: 1000 });
  datasets = new DatasetStore(redis);
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});
beforeEach(async () => {
  datasetId = newDatasetId();
  await datasets.create({
    id: datasetId, tenant: 't1', kind: 'text', name: null, blobKey: `datasets/${datasetId}`, bytes: 3, sha256: 'x',
    stats: { length: 3, sequences: 1, vocabularySize: 2 }, csv: null, createdAt: new Date().toISOString(),
  });
});

const spec = () => JobSpec.parse({ datasetId, task: 'lm', model: {}, training: {} });

describe('JobStore', () => {
  it('creates a queued job with its first status event', async () => {
    const job = await jobs.create({ tenant: 't1', spec: spec() });
    expect(job.status).toBe('queued');
    expect(job.tenant).toBe('t1');
    expect(job.timestamps.queued).toBe(job.createdAt);
    expect(job.spec.training.epochs).toBe(10);
    const stream = await events.read(job.id, { count: 10 });
    expect(stream.map((m) => m.event)).toEqual([{ type: 'status', status: 'queued', at: job.createdAt }]);
    expect(await jobs.getForTenant(job.id, 't2')).toBeNull();
    expect(await datasets.activeJobs(datasetId)).toEqual([job.id]);
  });

  it('refuses a dataset of another tenant', async () => {
    await expect(jobs.create({ tenant: 't2', spec: spec() })).rejects.toBeInstanceOf(DatasetNotFoundError);
  });

  it('walks the lifecycle with timestamps and refuses illegal moves', async () => {
    const job = await jobs.create({ tenant: 't1', spec: spec() });
    const fence = await jobs.claimAttempt(job.id);
    expect(fence).toBe(1);
    await jobs.transition(job.id, 'running', { fence });
    await expect(jobs.transition(job.id, 'running', { fence })).rejects.toBeInstanceOf(IllegalTransitionError);
    await jobs.transition(job.id, 'succeeded', {
      fence,
      event: { type: 'completed', weights: { safetensors: '/s', json: '/j' }, bestEpoch: null, finalLoss: 1.5 },
    });
    const done = (await jobs.get(job.id))!;
    expect(done.status).toBe('succeeded');
    expect(Object.keys(done.timestamps).sort()).toEqual(['queued', 'running', 'succeeded']);
    expect(done.history.map((h) => h.status)).toEqual(['queued', 'running', 'succeeded']);
    expect(done.history[1].attempt).toBe(1);
    const err = await jobs.transition(job.id, 'running').catch((e) => e);
    expect(err).toBeInstanceOf(IllegalTransitionError);
    expect(err.from).toBe('succeeded');
    const types = (await events.read(job.id, { count: 10 })).map((m) => (m.event.type === 'status' ? m.event.status : m.event.type));
    expect(types).toEqual(['queued', 'running', 'completed', 'succeeded']);
    // Terminal: dataset released, retention clock running.
    expect(await datasets.activeJobs(datasetId)).toEqual([]);
    expect(await redis.ttl(keys.job(job.id))).toBeGreaterThan(3000);
    expect(await redis.ttl(keys.jobEvents(job.id))).toBeGreaterThan(3000);
  });

  it('allows running → queued on retry, and a new attempt fences out the old one', async () => {
    const job = await jobs.create({ tenant: 't1', spec: spec() });
    const first = await jobs.claimAttempt(job.id);
    await jobs.transition(job.id, 'running', { fence: first });
    await jobs.transition(job.id, 'queued', { fence: first });
    const second = await jobs.claimAttempt(job.id);
    expect(second).toBe(first + 1);
    await jobs.transition(job.id, 'running', { fence: second });
    // The zombie first attempt can no longer write anything.
    await expect(jobs.transition(job.id, 'succeeded', { fence: first })).rejects.toBeInstanceOf(StaleFenceError);
    await expect(jobs.setProgress(job.id, { epoch: 1, step: 1, stepsInEpoch: 2, loss: 1, tokensPerSec: 5 }, { fence: first })).rejects.toBeInstanceOf(StaleFenceError);
    await expect(
      events.append(job.id, { type: 'checkpoint', epoch: 1 }, { fence: first }),
    ).rejects.toBeInstanceOf(StaleFenceError);
    await jobs.setError(job.id, { code: 'x', message: 'y' }, { fence: second });
    await jobs.transition(job.id, 'failed', { fence: second, error: { code: 'non_finite_loss', message: 'NaN' }, event: { type: 'failed', code: 'non_finite_loss', message: 'NaN' } });
    const failed = (await jobs.get(job.id))!;
    expect(failed.error).toEqual({ code: 'non_finite_loss', message: 'NaN' });
    expect(failed.attempt).toBe(2);
    expect(failed.history.map((h) => h.status)).toEqual(['queued', 'running', 'queued', 'running', 'failed']);
  });

  it('cancel: flags queued/running jobs, leaves terminal ones alone', async () => {
    const job = await jobs.create({ tenant: 't1', spec: spec() });
    expect(await jobs.isCancelRequested(job.id)).toBe(false);
    expect(await jobs.requestCancel(job.id)).toBe('queued');
    expect(await jobs.isCancelRequested(job.id)).toBe(true);
    await jobs.transition(job.id, 'cancelled');
    expect(await jobs.requestCancel(job.id)).toBe('cancelled');
    await expect(jobs.transition(job.id, 'running')).rejects.toBeInstanceOf(IllegalTransitionError);
  });

  it('lists newest first with a cursor and a status filter', async () => {
    const tenant = `list-${Date.now()}`;
    await datasets.create({
      id: datasetId + 'x', tenant, kind: 'text', name: null, blobKey: 'k', bytes: 1, sha256: 'x',
      stats: { length: 1, sequences: 1 }, csv: null, createdAt: new Date().toISOString(),
    });
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      const s = JobSpec.parse({ datasetId: datasetId + 'x', task: 'lm' , model: {}, training: {} });
      // Same millisecond for several jobs: the cursor must still neither skip nor repeat.
      const job = await jobs.create({ tenant, spec: s, now: new Date(1_700_000_000_000 + Math.floor(i / 3)) });
      ids.push(job.id);
    }
    await jobs.transition(ids[2], 'cancelled');
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const page = await jobs.list(tenant, { cursor, limit: 2 });
      expect(page.items.length).toBeLessThanOrEqual(2);
      seen.push(...page.items.map((j) => j.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    // Newest first; ties within one millisecond in descending id order.
    expect(seen).toEqual([...ids].sort().reverse());
    expect(new Set(seen).size).toBe(ids.length);
    const cancelled = await jobs.list(tenant, { status: 'cancelled', limit: 10 });
    expect(cancelled.items.map((j) => j.id)).toEqual([ids[2]]);
    expect(cancelled.nextCursor).toBeNull();
    // An expired record drops out of the listing.
    await redis.del(keys.job(ids[6]));
    const first = await jobs.list(tenant, { limit: 1 });
    expect(first.items[0].id).toBe([...ids.slice(0, 6)].sort().reverse()[0]);
  });

  it('dataset delete is refused while a job uses it', async () => {
    const job = await jobs.create({ tenant: 't1', spec: spec() });
    expect(await datasets.delete(datasetId, 't2')).toBe('missing');
    expect(await datasets.delete(datasetId, 't1')).toBe('in_use');
    await jobs.transition(job.id, 'cancelled');
    expect(await datasets.delete(datasetId, 't1')).toBe('deleted');
    expect(await datasets.get(datasetId)).toBeNull();
  });
});
