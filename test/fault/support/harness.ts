// The service as real processes for the fault suites: a private redis-server (AOF, appendfsync
// always), a temp DATA_DIR, the API process and worker processes started one by one, each with its
// own extra environment (a crash hook, a lock duration...). Helpers speak plain HTTP to the API.
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EventMessage, Job, JobEvent, JobStatus } from '@unroll/protocol';
import { createRedis } from '@unroll/store';
import { freePort, startRedis, type RedisServer } from '@unroll/testing';

export type RedisClient = ReturnType<typeof createRedis>;
import { ProcessGroup, spawnTs, waitForHttp, type ManagedProcess } from '../../support/processes.ts';

export const CORPUS = 'the quick brown fox jumps over the lazy dog. '.repeat(240);

export interface FaultService {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly redis: RedisServer;
  readonly dataDir: string;
  readonly group: ProcessGroup;
  api: ManagedProcess;
  readonly env: Record<string, string | undefined>;
  request(path: string, init?: RequestInit): Promise<Response>;
  /** Starts a worker process with extra environment and waits until it consumes the queue. */
  startWorker(name: string, env?: Record<string, string>): Promise<ManagedProcess>;
  /** Stops every worker started so far (afterEach: a test that failed half-way leaves none behind). */
  stopWorkers(): Promise<void>;
  /** Starts another API process on the same Redis and DATA_DIR (its own port). */
  startApi(name: string, env?: Record<string, string>): Promise<{ process: ManagedProcess; baseUrl: string }>;
  uploadCorpus(text?: string): Promise<string>;
  /** POST /v1/jobs, expecting 202; returns the job id. */
  createJob(body: Record<string, unknown>): Promise<string>;
  job(id: string): Promise<Job>;
  waitForStatus(id: string, status: JobStatus | JobStatus[], timeoutMs?: number): Promise<Job>;
  /** The job's whole event history over HTTP (all pages). */
  events(id: string): Promise<EventMessage[]>;
  /** A direct Redis connection for inspection (closed by stop()). */
  inspect(): RedisClient;
  stop(): Promise<void>;
}

export async function startFaultService(options: { env?: Record<string, string>; apiEnv?: Record<string, string> } = {}): Promise<FaultService> {
  const redis = await startRedis();
  const dataDir = await mkdtemp(join(tmpdir(), 'unroll-fault-'));
  const group = new ProcessGroup();
  const apiKey = `fault_${randomBytes(12).toString('hex')}`;
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env: Record<string, string | undefined> = {
    HOST: '127.0.0.1',
    PORT: String(port),
    REDIS_URL: redis.url,
    DATA_DIR: dataDir,
    UNROLL_API_KEYS: `fault:${apiKey}`,
    UNROLL_API_KEYS_FILE: undefined,
    LOG_LEVEL: 'info',
    PROGRESS_INTERVAL_MS: '100',
    RATE_LIMIT_MAX: '0',
    ...options.env,
  };
  const inspectors: RedisClient[] = [];
  const workers: ManagedProcess[] = [];
  const stop = async () => {
    for (const r of inspectors) r.disconnect();
    await group.stopAll(5000);
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  const request = (path: string, init: RequestInit = {}) =>
    fetch(`${baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${apiKey}`, ...(init.headers as Record<string, string>) } });
  try {
    const api = group.add(spawnTs('api', 'apps/api/src/server.ts', { env: { ...env, ...options.apiEnv } }));
    await waitForHttp(`${baseUrl}/healthz`, 45_000, api);
    const service: FaultService = {
      baseUrl,
      apiKey,
      redis,
      dataDir,
      group,
      api,
      env,
      request,
      async startWorker(name, extra = {}) {
        const worker = group.add(spawnTs(name, 'apps/worker/src/main.ts', { env: { ...env, ...extra } }));
        workers.push(worker);
        await worker.waitForLine(/worker ready/, 45_000);
        return worker;
      },
      async stopWorkers() {
        await Promise.all(workers.splice(0).map((w) => w.stop('SIGTERM', 5000)));
      },
      async startApi(name, extra = {}) {
        const otherPort = await freePort();
        const p = group.add(spawnTs(name, 'apps/api/src/server.ts', { env: { ...env, PORT: String(otherPort), ...extra } }));
        const url = `http://127.0.0.1:${otherPort}`;
        await waitForHttp(`${url}/healthz`, 45_000, p);
        return { process: p, baseUrl: url };
      },
      async uploadCorpus(text = CORPUS) {
        const res = await request('/v1/datasets', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: text });
        const body = await res.text();
        if (res.status !== 201) throw new Error(`upload: ${res.status} ${body}`);
        return (JSON.parse(body) as { id: string }).id;
      },
      async createJob(body) {
        const res = await request('/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
        const text = await res.text();
        if (res.status !== 202) throw new Error(`create job: ${res.status} ${text}`);
        return (JSON.parse(text) as { id: string }).id;
      },
      async job(id) {
        const res = await request(`/v1/jobs/${id}`);
        const text = await res.text();
        if (res.status !== 200) throw new Error(`get job: ${res.status} ${text}`);
        return JSON.parse(text) as Job;
      },
      async waitForStatus(id, status, timeoutMs = 60_000) {
        const wanted = Array.isArray(status) ? status : [status];
        const deadline = Date.now() + timeoutMs;
        let last: Job | null = null;
        while (Date.now() < deadline) {
          last = await service.job(id).catch(() => last);
          if (last && wanted.includes(last.status)) return last;
          await sleep(100);
        }
        throw new Error(`job ${id} not ${wanted.join('/')} within ${timeoutMs} ms (last: ${last?.status})\n${group.logs().split('\n').slice(-60).join('\n')}`);
      },
      async events(id) {
        const out: EventMessage[] = [];
        let after = '';
        for (;;) {
          const res = await request(`/v1/jobs/${id}/events?limit=1000${after ? `&after=${after}` : ''}`);
          if (res.status !== 200) throw new Error(`events: ${res.status} ${await res.text()}`);
          const page = (await res.json()) as { items: EventMessage[] };
          out.push(...page.items);
          if (page.items.length < 1000) return out;
          after = page.items.at(-1)!.id;
        }
      },
      inspect() {
        const r = createRedis(redis.url, 'worker', { maxRetriesPerRequest: 1 });
        r.on('error', () => {});
        inspectors.push(r);
        return r;
      },
      stop,
    };
    return service;
  } catch (err) {
    const logs = group.logs();
    await stop();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A small LM job body: ~0.1 s per epoch on one core. */
export function lmJobBody(datasetId: string, training: Record<string, unknown> = {}, model: Record<string, unknown> = { hiddenSize: 8 }): Record<string, unknown> {
  return {
    datasetId,
    task: 'lm',
    model,
    training: { epochs: 10, batchSize: 4, bptt: { mode: 'truncated', k1: 8, k2: 8 }, optimizer: { name: 'adam', lr: 0.01 }, seed: 3, ...training },
  };
}

export function epochsOf(messages: readonly (EventMessage | JobEvent)[]): number[] {
  return messages.flatMap((m) => {
    const e = ('id' in m && 'event' in m ? m.event : m) as JobEvent;
    return e.type === 'epoch' ? [e.epoch] : [];
  });
}

export function statusesOf(messages: EventMessage[]): string[] {
  return messages.flatMap((m) => (m.event.type === 'status' ? [m.event.status] : []));
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Weights of the same job trained without interruption by the service itself (same workers, same
 * compute backend — the worker picks WASM or JS kernels, so an in-process reference could differ).
 */
export async function uninterruptedWeights(service: FaultService, body: Record<string, unknown>): Promise<Uint8Array> {
  const id = await service.createJob(body);
  const job = await service.waitForStatus(id, ['succeeded', 'failed', 'cancelled'], 60_000);
  if (job.status !== 'succeeded' || job.attempt !== 1) throw new Error(`reference job ${id} did not run uninterrupted: ${job.status}, attempt ${job.attempt}`);
  return downloadWeights(service, id);
}

/** GET /v1/jobs/:id/weights as bytes (expects 200). */
export async function downloadWeights(service: FaultService, id: string, query = ''): Promise<Uint8Array> {
  const res = await service.request(`/v1/jobs/${id}/weights${query}`);
  if (res.status !== 200) throw new Error(`weights: ${res.status} ${await res.text()}`);
  return new Uint8Array(await res.arrayBuffer());
}

/** Resolves with whichever process prints `pattern` first. */
export async function firstToPrint(processes: ManagedProcess[], pattern: RegExp, timeoutMs = 30_000): Promise<ManagedProcess> {
  return Promise.any(processes.map((p) => p.waitForLine(pattern, timeoutMs).then(() => p)));
}
