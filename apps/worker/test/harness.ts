// A real Redis (private redis-server), real stores, a temp blob dir and a BullMQ queue with a
// unique name: what one worker test needs, and a teardown that leaves nothing behind.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { pino } from 'pino';
import { JobSpec, type CreateJobRequestInput, type CsvOptions, type JobEvent, type JobStatus } from '@unroll/protocol';
import { blobKeys, createRedis, DatasetStore, EventLog, FsBlobStore, JobStore, newDatasetId, type JobRecord } from '@unroll/store';
import { startRedis, type RedisServer } from '@unroll/testing';
import { createTrainingWorker, type TrainingWorker, type TrainingWorkerConfig } from '../src/worker.ts';

export const TENANT = 'acme';
export const CORPUS = 'the quick brown fox jumps over the lazy dog. '.repeat(12);

export interface Harness {
  redis: RedisServer;
  store: Redis;
  blobs: FsBlobStore;
  jobs: JobStore;
  events: EventLog;
  datasets: DatasetStore;
  queue: Queue;
  queueName: string;
  startWorker(config?: Partial<TrainingWorkerConfig>): TrainingWorker;
  addTextDataset(text?: string): Promise<string>;
  /** Stores a dataset record + blob the way the API does (stats are not used by the worker). */
  addDataset(kind: 'text' | 'json' | 'csv', content: string | Uint8Array, csv?: CsvOptions | null): Promise<string>;
  createJob(datasetId: string, request: Omit<CreateJobRequestInput, 'datasetId' | 'inline'>, attempts?: number): Promise<JobRecord>;
  waitForStatus(jobId: string, statuses: JobStatus[], timeoutMs?: number): Promise<JobRecord>;
  readEvents(jobId: string): Promise<JobEvent[]>;
  teardown(): Promise<void>;
}

export async function createHarness(): Promise<Harness> {
  const redis = await startRedis();
  const store = createRedis(redis.url, 'worker');
  const connections: Redis[] = [store];
  const dataDir = await mkdtemp(join(tmpdir(), 'unroll-worker-test-'));
  const blobs = new FsBlobStore(dataDir);
  const options = { eventRetention: 10_000, jobRetentionSeconds: 0 };
  const jobs = new JobStore(store, options);
  const events = new EventLog(store, options);
  const datasets = new DatasetStore(store);
  const queueName = `train-test-${randomBytes(4).toString('hex')}`;
  const queueConnection = createRedis(redis.url, 'blocking');
  connections.push(queueConnection);
  const queue = new Queue(queueName, { connection: queueConnection, prefix: 'unroll:bull' });
  const workers: TrainingWorker[] = [];
  const logger = pino({ level: process.env.UNROLL_TEST_LOG_LEVEL ?? 'silent' });

  const harness: Harness = {
    redis,
    store,
    blobs,
    jobs,
    events,
    datasets,
    queue,
    queueName,
    startWorker(config = {}) {
      const connection = createRedis(redis.url, 'blocking');
      connections.push(connection);
      const worker = createTrainingWorker(
        { concurrency: 1, lockDurationMs: 10_000, progressIntervalMs: 50, cancelPollMs: 50, queueName, ...config },
        { connection, jobs, events, datasets, blobs, logger },
      );
      workers.push(worker);
      return worker;
    },
    addTextDataset(text = CORPUS) {
      return harness.addDataset('text', text);
    },
    async addDataset(kind, text, csv = null) {
      const id = newDatasetId();
      const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : Buffer.from(text);
      await blobs.put(blobKeys.dataset(id), bytes);
      await datasets.create({
        id,
        tenant: TENANT,
        kind,
        name: null,
        blobKey: blobKeys.dataset(id),
        bytes: bytes.length,
        sha256: createHash('sha256').update(bytes).digest('hex'),
        stats: { length: typeof text === 'string' ? text.length : text.byteLength, sequences: 1 },
        csv,
        createdAt: new Date().toISOString(),
      });
      return id;
    },
    async createJob(datasetId, request, attempts = 3) {
      const spec = JobSpec.parse({ datasetId, ...request });
      const record = await jobs.create({ tenant: TENANT, spec });
      await queue.add('train', { jobId: record.id }, { jobId: record.id, attempts, backoff: { type: 'fixed', delay: 100 } });
      return record;
    },
    async waitForStatus(jobId, statuses, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      let last: JobRecord | null = null;
      while (Date.now() < deadline) {
        last = await jobs.get(jobId);
        if (last && statuses.includes(last.status)) return last;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`job ${jobId} did not reach ${statuses.join('|')} within ${timeoutMs} ms (status ${last?.status}, error ${JSON.stringify(last?.error)})`);
    },
    async readEvents(jobId) {
      return (await events.read(jobId, { count: 100_000 })).map((m) => m.event);
    },
    async teardown() {
      await Promise.allSettled(workers.map((w) => w.close(5_000)));
      await queue.obliterate({ force: true }).catch(() => {});
      await queue.close();
      await Promise.allSettled(connections.map((c) => c.quit()));
      await redis.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
  return harness;
}

/** A tiny character LM job: fast enough for a unit test, big enough to have several steps per epoch. */
export function tinyLmRequest(overrides: { epochs?: number; validationSplit?: number; earlyStopping?: { patience: number; minDelta?: number } | null } = {}) {
  return {
    task: 'lm' as const,
    model: { hiddenSize: 8 },
    training: {
      epochs: overrides.epochs ?? 3,
      batchSize: 4,
      bptt: { mode: 'truncated' as const, k1: 8, k2: 8 },
      optimizer: { name: 'adam' as const, lr: 0.01 },
      validationSplit: overrides.validationSplit ?? 0.1,
      earlyStopping: overrides.earlyStopping ?? null,
      seed: 7,
    },
  };
}
