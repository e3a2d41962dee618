// Issue 11 item 1: every way a job's attempts can end leads to exactly one terminal job state with a
// readable code and message, and releases what the job held (its dataset, a slot of the tenant's
// active-job cap). One table of endings on real processes: a private redis-server, the API process
// and worker processes. Storage faults are real filesystem faults under DATA_DIR/blobs, installed
// before a worker picks the job up: a regular file where a folder must be (ENOTDIR / EEXIST — the
// suite runs as root, for whom chmod changes nothing) and a 64 KiB tmpfs (ENOSPC; skipped where
// this process may not mount).
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed, type ExpectStatic } from 'vitest';
import type { EpochEvent, Job, JobStatus } from '@unroll/protocol';
import { smallCorpus } from '../support/corpora.ts';
import { epochsOf, lmJobBody, statusesOf } from '../support/jobs.ts';
import { firstToPrint } from '../support/processes.ts';
import { startRedisOutageProxy, type OutageAt, type RedisOutageProxy } from '../support/redis-outage-proxy.ts';
import { startService, type Service } from '../support/service.ts';

const QUEUE_KEY = 'unroll:bull:unroll-train';
const TERMINAL: JobStatus[] = ['succeeded', 'failed', 'cancelled'];
const JOB_ATTEMPTS = 2;

let service: Service;
const mounts: string[] = [];

/** Whether this process may mount a tmpfs (root in a container with CAP_SYS_ADMIN). */
function canMountTmpfs(): boolean {
  if (process.platform !== 'linux') return false;
  const probe = join(process.env.TMPDIR ?? '/tmp', `unroll-mount-probe-${process.pid}`);
  spawnSync('mkdir', ['-p', probe]);
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe]).status === 0;
  if (ok) spawnSync('umount', [probe]);
  spawnSync('rmdir', [probe]);
  return ok;
}
const MOUNT_OK = canMountTmpfs();

const jobDir = (jobId: string) => join(service.dataDir, 'blobs', 'jobs', jobId);
const divergingModel = { hiddenSize: 256, init: { scheme: 'normal' } };

interface Ending {
  name: string;
  /** Job body for the case's own dataset (so the dataset-delete check is the case's). */
  body(datasetId: string): Record<string, unknown>;
  /** Before any worker consumes the queue: install the fault, or act on the still-queued job. */
  arrange?(jobId: string, datasetId: string): Promise<void>;
  /** Once workers run. */
  act?(jobId: string): Promise<void>;
  status: JobStatus;
  code?: string;
  message?: RegExp;
  /** BullMQ attempts made (deterministic errors: 1, no retry). Undefined: not checked. */
  attemptsMade?: number;
  /** A retried attempt leaves its reason in the history: `queued (attempt 2): <reason>`. */
  retryReason?: RegExp;
  skip?: boolean;
  extra?(job: Job): Promise<void>;
}

/** Leaves the record `running` with no queue entry: a worker that died after BullMQ dropped the job. */
async function orphanAsRunning(jobId: string, updatedAgoMs: number): Promise<void> {
  const redis = service.inspect();
  await redis.lrem(`${QUEUE_KEY}:wait`, 0, jobId);
  await redis.del(`${QUEUE_KEY}:${jobId}`);
  await redis.hset(`unroll:job:${jobId}`, 'status', 'running', 'fence', '1', 'updatedAt', String(Date.now() - updatedAgoMs));
}

async function cancel(jobId: string): Promise<Response> {
  return service.request(`/v1/jobs/${jobId}/cancel`, { method: 'POST' });
}

const endings: Ending[] = [
  { name: 'success', body: (d) => lmJobBody(d, { epochs: 2 }), status: 'succeeded', attemptsMade: 1 },
  {
    name: 'cancel while queued',
    body: (d) => lmJobBody(d, { epochs: 2 }),
    arrange: async (id) => void expect((await cancel(id)).status).toBe(200),
    status: 'cancelled',
  },
  {
    name: 'cancel of an orphaned job (running, no worker, no queue entry)',
    body: (d) => lmJobBody(d, { epochs: 2 }),
    arrange: async (id) => {
      await orphanAsRunning(id, 0);
      const res = await cancel(id);
      expect(res.status, await res.clone().text()).toBe(200);
    },
    status: 'cancelled',
  },
  {
    name: 'orphaned running job settled by the reconciler',
    body: (d) => lmJobBody(d, { epochs: 2 }),
    arrange: (id) => orphanAsRunning(id, 60_000),
    status: 'failed',
    code: 'worker_lost',
    message: /queue entry/,
  },
  {
    name: 'cancel while running',
    body: (d) => lmJobBody(d, { epochs: 400 }),
    act: async (id) => {
      await expect.poll(async () => epochsOf(await service.events(id)).length, { timeout: 30_000, interval: 50 }).toBeGreaterThanOrEqual(1);
      expect((await cancel(id)).status).toBeLessThan(300);
    },
    status: 'cancelled',
    attemptsMade: 1,
  },
  {
    name: 'non-finite loss (deterministic: failed, not retried)',
    body: (d) =>
      lmJobBody(
        d,
        { epochs: 3, optimizer: { name: 'sgd', lr: 10 }, clip: { mode: 'none' }, reduction: 'sum', validationSplit: 0 },
        { hiddenSize: 16, activation: 'relu', init: { scheme: 'identity', gain: 10 } },
      ),
    status: 'failed',
    code: 'non_finite_loss',
    message: /NaN|Infinity|non-finite|not finite/i,
    attemptsMade: 1,
  },
  {
    name: 'dataset blob gone (invalid_dataset, not retried)',
    body: (d) => lmJobBody(d, { epochs: 2 }),
    arrange: async (_id, datasetId) => rm(join(service.dataDir, 'blobs', 'datasets', datasetId), { force: true }),
    status: 'failed',
    code: 'invalid_dataset',
    attemptsMade: 1,
  },
  {
    name: 'non-finite metrics (diverging run: perplexity overflows to Infinity)',
    body: (d) => lmJobBody(d, { epochs: 2, optimizer: { name: 'sgd', lr: 10 }, clip: { mode: 'none' } }, divergingModel),
    status: 'succeeded',
    attemptsMade: 1,
    extra: async (job) => {
      const epochs = (await service.events(job.id)).map((m) => m.event).filter((e): e is EpochEvent => e.type === 'epoch');
      expect(epochs.length).toBe(2);
      expect(epochs[0].perplexity).toBeNull();
      expect((epochs[0] as { nonFinite?: string[] }).nonFinite).toContain('perplexity');
    },
  },
  {
    name: 'checkpoints folder unwritable (a file in its place)',
    body: (d) => lmJobBody(d, { epochs: 2 }),
    arrange: async (id) => {
      await mkdir(jobDir(id), { recursive: true });
      await writeFile(join(jobDir(id), 'checkpoints'), 'not a folder');
    },
    status: 'failed',
    code: 'storage_failed',
    message: /ENOTDIR|EEXIST/,
    attemptsMade: JOB_ATTEMPTS,
    retryReason: /ENOTDIR|EEXIST/,
  },
  {
    name: 'final-weights folder unwritable (a file in its place)',
    body: (d) => lmJobBody(d, { epochs: 2 }),
    arrange: async (id) => {
      await mkdir(jobDir(id), { recursive: true });
      await writeFile(join(jobDir(id), 'attempts'), 'not a folder');
    },
    status: 'failed',
    code: 'storage_failed',
    message: /ENOTDIR|EEXIST/,
    attemptsMade: JOB_ATTEMPTS,
    retryReason: /ENOTDIR|EEXIST/,
  },
  {
    name: 'disk full while checkpointing (64 KiB tmpfs, ENOSPC)',
    // Adam state of H = 64 is ~100 KB: the first checkpoint does not fit.
    body: (d) => lmJobBody(d, { epochs: 2 }, { hiddenSize: 64 }),
    skip: !MOUNT_OK,
    arrange: async (id) => {
      const dir = join(jobDir(id), 'checkpoints');
      await mkdir(dir, { recursive: true });
      const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
      expect(mounted.status, mounted.stderr.toString()).toBe(0);
      mounts.push(dir);
    },
    status: 'failed',
    code: 'storage_failed',
    message: /ENOSPC/,
    attemptsMade: JOB_ATTEMPTS,
    retryReason: /ENOSPC/,
  },
];

/** The reason of the first return to the queue after the first attempt started (`queued (attempt 2): <reason>`). */
function requeueReason(job: Job): string | undefined {
  return job.history.find((t, i) => i > 0 && t.status === 'queued')?.reason;
}

/** The queue lets go of the job, its active-job slot is free and its dataset can be deleted. */
async function expectNothingHeld(jobId: string, datasetId: string, expect: ExpectStatic): Promise<void> {
  const redis = service.inspect();
  await expect.poll(async () => (await redis.lrange(`${QUEUE_KEY}:active`, 0, -1)).includes(jobId), { timeout: 10_000 }).toBe(false);
  expect(await redis.sismember('unroll:tenant:acme:active-jobs', jobId)).toBe(0);
  const del = await service.request(`/v1/datasets/${datasetId}`, { method: 'DELETE' });
  expect(del.status, await del.text()).toBe(204);
}

/** The job ended in `status`, with exactly one terminal status event, the last in its stream. */
async function expectOneEnding(jobId: string, status: JobStatus, expect: ExpectStatic): Promise<Job> {
  const job = await service.waitForStatus(jobId, TERMINAL, 60_000);
  expect(job.status, JSON.stringify(job.error)).toBe(status);
  const statuses = statusesOf(await service.events(jobId));
  expect(statuses.filter((s) => TERMINAL.includes(s as JobStatus))).toEqual([status]);
  expect(statuses.at(-1)).toBe(status);
  return job;
}

interface Running {
  ending: Ending;
  jobId: string;
  datasetId: string;
  /** A failed arrange is reported by its own case, not by the whole file. */
  arrangeError?: unknown;
}
const running: Running[] = [];

beforeAll(async () => {
  service = await startService({
    env: {
      LOCK_DURATION_MS: '1000',
      JOB_ATTEMPTS: String(JOB_ATTEMPTS),
      WORKER_CONCURRENCY: '4',
      RECONCILE_INTERVAL_MS: '500',
      RECONCILE_GRACE_MS: '5000',
    },
  });
  // Every job is created and arranged before a worker consumes the queue, so faults are in place
  // before the first attempt and queued-state cases act on a job no worker has seen.
  for (const ending of endings.filter((e) => !e.skip)) {
    const datasetId = await service.uploadCorpus(smallCorpus());
    const jobId = await service.createJob(ending.body(datasetId));
    const arrangeError = await ending.arrange?.(jobId, datasetId).then(() => undefined, (err: unknown) => err);
    running.push({ ending, jobId, datasetId, arrangeError });
  }
  await service.startWorker('endings-worker');
}, 120_000);

afterAll(async () => {
  for (const dir of mounts) spawnSync('umount', ['-l', dir]);
  await service?.stop();
});

describe('every ending of a job: one terminal state, a readable reason, nothing held', () => {
  it.concurrent.for(endings.map((e) => [e.name, e] as const))('%s', async ([, ending], { expect }) => {
    if (ending.skip) return;
    onTestFailed(() => console.error(service.group.logs().split('\n').slice(-80).join('\n')));
    const { jobId, datasetId, arrangeError } = running.find((r) => r.ending === ending)!;
    if (arrangeError) throw arrangeError;
    await ending.act?.(jobId);
    const job = await expectOneEnding(jobId, ending.status, expect);
    if (ending.code) expect(job.error?.code).toBe(ending.code);
    if (ending.message) expect(job.error?.message).toMatch(ending.message);
    if (job.status === 'failed') expect(job.error?.message.length).toBeGreaterThan(10);
    await expectNothingHeld(jobId, datasetId, expect);
    if (ending.attemptsMade !== undefined) {
      await expect.poll(async () => Number((await service.inspect().hget(`${QUEUE_KEY}:${jobId}`, 'atm')) ?? 0), { timeout: 10_000 }).toBe(ending.attemptsMade);
    }
    if (ending.retryReason) expect(requeueReason(job)).toMatch(ending.retryReason);
    await ending.extra?.(job);
  });
});

describe('a worker that stops or dies mid-job', () => {
  /** A job long enough to be inside its thread when the signal lands (H = 256: ~0.1 s per epoch). */
  async function startLongJob(): Promise<{ jobId: string; datasetId: string }> {
    await service.stopWorkers(); // the table's worker must not take it
    const datasetId = await service.uploadCorpus(smallCorpus());
    const jobId = await service.createJob(lmJobBody(datasetId, { epochs: 12 }, { hiddenSize: 256 }));
    return { jobId, datasetId };
  }

  it.for([
    { signal: 'SIGTERM' as const, reason: /worker stopping/ },
    { signal: 'SIGKILL' as const, reason: /stopped responding/ },
  ])('$signal: back to the queue with its reason, finished by another worker', async ({ signal, reason }, { expect }) => {
    onTestFailed(() => console.error(service.group.logs().split('\n').slice(-80).join('\n')));
    const { jobId, datasetId } = await startLongJob();
    const first = await service.startWorker(`${signal}-first`);
    await firstToPrint([first], new RegExp(`${jobId}.*training from scratch|training from scratch.*${jobId}`));
    await expect.poll(async () => epochsOf(await service.events(jobId)).length, { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(2);
    first.child.kill(signal);
    await first.exited;
    await service.startWorker(`${signal}-second`);
    const job = await expectOneEnding(jobId, 'succeeded', expect);
    expect(job.attempt).toBe(2);
    expect(requeueReason(job)).toMatch(reason);
    expect(epochsOf(await service.events(jobId))).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    await expectNothingHeld(jobId, datasetId, expect);
  });
});

// Redis unreachable for a few seconds from the worker only (a TCP relay in front of its Redis), the
// outage starting at the very write of each transition. `replyLost`: Redis applies the write but the
// worker never hears back (ioredis re-sends it after the reconnect), the hardest case for "exactly one".
describe('a Redis outage at each transition of an attempt', () => {
  const OUTAGE_MS = 2000;
  const nonFiniteBody = endings.find((e) => e.code === 'non_finite_loss')!.body;
  let proxy: RedisOutageProxy;

  beforeAll(async () => {
    await service.stopWorkers();
    proxy = await startRedisOutageProxy(service.redis.port);
    // The lock outlives the outage: the attempt keeps its job (no stall hand-over in these cases).
    await service.startWorker('outage-worker', { REDIS_URL: proxy.url, LOCK_DURATION_MS: '20000', WORKER_CONCURRENCY: '1' });
  }, 60_000);
  afterAll(async () => {
    await service.stopWorkers();
    await proxy?.close();
  });

  interface OutageCase {
    name: string;
    body(datasetId: string): Record<string, unknown>;
    at: Omit<OutageAt, 'ms'> & { ms?: number };
    /** While Redis is away from the worker (the API still reaches it). */
    during?(jobId: string): Promise<void>;
    status: JobStatus;
    code?: string;
    epochs?: number;
  }
  const cases: OutageCase[] = [
    { name: 'running transition (applied, reply lost)', body: (d) => lmJobBody(d, { epochs: 3 }), at: { needle: '"status":"running"', replyLost: true }, status: 'succeeded', epochs: 3 },
    { name: 'running transition (not applied)', body: (d) => lmJobBody(d, { epochs: 3 }), at: { needle: '"status":"running"', replyLost: false }, status: 'succeeded', epochs: 3 },
    { name: 'first epoch publish (applied, reply lost)', body: (d) => lmJobBody(d, { epochs: 5 }), at: { needle: '{"type":"epoch"', replyLost: true }, status: 'succeeded', epochs: 5 },
    { name: 'succeed transition (applied, reply lost)', body: (d) => lmJobBody(d, { epochs: 3 }), at: { needle: '"status":"succeeded"', replyLost: true }, status: 'succeeded', epochs: 3 },
    { name: 'fail transition, non-finite loss (applied, reply lost)', body: nonFiniteBody, at: { needle: '"status":"failed"', replyLost: true }, status: 'failed', code: 'non_finite_loss' },
    {
      name: 'cancel requested during an outage that starts at an epoch publish',
      // H = 256: ~0.1 s per epoch, so training outlasts the outage (see RELIABILITY.md for a run that ends inside it).
      body: (d) => lmJobBody(d, { epochs: 400 }, { hiddenSize: 256 }),
      at: { needle: '{"type":"epoch"', replyLost: false },
      during: async (id) => void expect((await cancel(id)).status).toBeLessThan(300),
      status: 'cancelled',
    },
  ];

  async function runCase(c: OutageCase, expect: ExpectStatic): Promise<Job> {
    const datasetId = await service.uploadCorpus(smallCorpus());
    const outage = proxy.outageAt({ ms: OUTAGE_MS, ...c.at });
    const jobId = await service.createJob(c.body(datasetId));
    const fired = await Promise.race([outage.started.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 30_000))]);
    expect(fired, `no worker command carried ${c.at.needle}`).toBe(true);
    await c.during?.(jobId);
    await outage.ended;
    const job = await expectOneEnding(jobId, c.status, expect);
    if (c.code) expect(job.error?.code).toBe(c.code);
    if (c.epochs !== undefined) expect(epochsOf(await service.events(jobId))).toEqual(Array.from({ length: c.epochs }, (_, i) => i + 1));
    else {
      const epochs = epochsOf(await service.events(jobId));
      expect(new Set(epochs).size).toBe(epochs.length);
    }
    await expectNothingHeld(jobId, datasetId, expect);
    return job;
  }

  it.for(cases.map((c) => [c.name, c] as const))('%s: one ending, each epoch once, nothing held, no attempt lost', { timeout: 45_000 }, async ([, c], { expect }) => {
    onTestFailed(() => console.error(service.group.logs().split('\n').slice(-60).join('\n')));
    const started = Date.now();
    const job = await runCase(c, expect);
    expect(job.attempt, JSON.stringify(job.history)).toBe(1);
    await expect.poll(async () => Number((await service.inspect().hget(`${QUEUE_KEY}:${job.id}`, 'atm')) ?? 0), { timeout: 10_000 }).toBe(1);
    console.info(`[figures] outage at ${c.name}: ${job.status} in ${Date.now() - started} ms (outage ${OUTAGE_MS} ms)`);
  });

  it('an outage longer than REDIS_OUTAGE_TOLERANCE_MS still ends the job once', { timeout: 60_000 }, async ({ expect }) => {
    onTestFailed(() => console.error(service.group.logs().split('\n').slice(-80).join('\n')));
    await service.stopWorkers();
    await service.startWorker('outage-intolerant', { REDIS_URL: proxy.url, LOCK_DURATION_MS: '20000', WORKER_CONCURRENCY: '1', REDIS_OUTAGE_TOLERANCE_MS: '2000' });
    const started = Date.now();
    const job = await runCase(
      { name: 'beyond tolerance', body: (d) => lmJobBody(d, { epochs: 4 }), at: { needle: '{"type":"epoch"', replyLost: false, ms: 6000 }, status: 'succeeded' },
      expect,
    );
    console.info(`[figures] outage of 6000 ms > tolerance 2000 ms: ${job.status} attempt ${job.attempt} in ${Date.now() - started} ms; history ${job.history.map((t) => `${t.status}${t.reason ? ` (${t.reason})` : ''}`).join(' > ')}`);
  });
});
