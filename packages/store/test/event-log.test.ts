import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { startRedis, type RedisServer } from '@unroll/testing';
import { JobSpec, type EpochEvent } from '@unroll/protocol';
import { createRedis, DatasetStore, EventLog, JobStore, newDatasetId, tailEvents } from '../src/index.ts';

let server: RedisServer;
let redis: Redis;
let blocking: Redis;
let jobs: JobStore;
let log: EventLog;

beforeAll(async () => {
  server = await startRedis();
  redis = createRedis(server.url, 'command');
  blocking = createRedis(server.url, 'blocking');
  await new Promise((r) => redis.once('ready', r));
  jobs = new JobStore(redis, { eventRetention: 1000, jobRetentionSeconds: 0 });
  log = new EventLog(redis, { eventRetention: 1000 });
});
afterAll(async () => {
  redis.disconnect();
  blocking.disconnect();
  await server.stop();
});

async function newJob() {
  const datasetId = newDatasetId();
  await new DatasetStore(redis).create({
    id: datasetId, tenant: 't', kind: 'text', name: null, blobKey: 'k', bytes: 1, sha256: 'x',
    stats: { length: 1, sequences: 1 }, csv: null, createdAt: new Date().toISOString(),
  });
  return jobs.create({ tenant: 't', spec: JobSpec.parse({ datasetId, task: 'lm', model: {}, training: {} }) });
}

export function epochEvent(epoch: number, trainLoss = 2): EpochEvent {
  return {
    type: 'epoch', epoch, trainLoss, valLoss: trainLoss + 0.1, gradNormPreClip: 1, gradNormPostClip: 1, clipRate: 0,
    paramGradNorms: { Whh: 0.5 }, paramNorms: { Whh: 3 }, timeProfile: [1, 0.5], whhSpectralNorm: 1.1,
    saturation: 0.1, tokensPerSec: 1000, lr: 0.001, etaSeconds: 10,
  };
}

describe('EventLog', () => {
  it('appends and reads in order, resuming strictly after an id', async () => {
    const job = await newJob();
    const a = await log.append(job.id, { type: 'progress', epoch: 1, step: 1, stepsInEpoch: 4, loss: 3, tokensPerSec: 10 });
    const b = await log.append(job.id, epochEvent(1));
    const c = await log.append(job.id, { type: 'checkpoint', epoch: 1 });
    const all = await log.read(job.id, { count: 100 });
    expect(all.map((m) => m.id)).toEqual([all[0].id, a, b, c]);
    expect(all[0].event).toMatchObject({ type: 'status', status: 'queued' });
    expect((await log.read(job.id, { after: a!, count: 100 })).map((m) => m.id)).toEqual([b, c]);
    expect(await log.read(job.id, { after: c!, count: 100 })).toEqual([]);
    expect(await log.read(job.id, { count: 2 })).toHaveLength(2);
    expect(await log.lastId(job.id)).toBe(c);
    const record = (await jobs.get(job.id))!;
    expect(record.progress).toEqual({ epoch: 1, step: 1, stepsInEpoch: 4, loss: 3, tokensPerSec: 10, at: expect.any(String) });
    expect(record.metrics).toMatchObject({ epoch: 1, trainLoss: 2 });
    expect(record.lastEpoch).toBe(1);
  });

  it('writes each epoch event once', async () => {
    const job = await newJob();
    expect(await log.append(job.id, epochEvent(1))).not.toBeNull();
    expect(await log.append(job.id, epochEvent(1, 9))).toBeNull();
    expect(await log.append(job.id, epochEvent(2))).not.toBeNull();
    expect(await log.append(job.id, epochEvent(1))).toBeNull();
    const epochs = (await log.read(job.id, { count: 100 })).filter((m) => m.event.type === 'epoch');
    expect(epochs.map((m) => (m.event as EpochEvent).epoch)).toEqual([1, 2]);
    expect((await jobs.get(job.id))!.metrics).toMatchObject({ epoch: 2 });
  });

  it('validates events and keeps lifecycle events to JobStore.transition', async () => {
    const job = await newJob();
    await expect(log.append(job.id, { type: 'epoch', epoch: 0 } as never)).rejects.toThrow();
    await expect(log.append(job.id, { type: 'status', status: 'running', at: new Date().toISOString() })).rejects.toThrow(/transition/);
    await expect(log.append('job_missing000000', { type: 'checkpoint', epoch: 1 })).rejects.toThrow(/not found/);
  });

  it('tails with a blocking read that wakes on append', async () => {
    const job = await newJob();
    const last = (await log.lastId(job.id))!;
    const started = Date.now();
    const pending = tailEvents(blocking, job.id, last, { blockMs: 5000, count: 10 });
    await new Promise((r) => setTimeout(r, 100));
    const id = await log.append(job.id, { type: 'checkpoint', epoch: 3 });
    const got = await pending;
    expect(got).toEqual([{ id, event: { type: 'checkpoint', epoch: 3, at: expect.any(String) } }]);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(await tailEvents(blocking, job.id, id!, { blockMs: 50, count: 10 })).toEqual([]);
  });
});
