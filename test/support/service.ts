// The Unroll service as real processes for a suite: a private redis-server (AOF with appendfsync
// always, from @unroll/testing, so the crash suites can kill and restart it without losing an
// acknowledged write), a temp DATA_DIR, the API process (node --import tsx apps/api/src/server.ts)
// and worker processes, each started with the suite's environment plus its own.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRedis } from '@unroll/store';
import { freePort, startRedis, type RedisServer } from '@unroll/testing';
import { apiRequests, type ApiRequests } from './api-requests.ts';
import { ProcessGroup, spawnTs, waitForHttp, type ManagedProcess } from './processes.ts';

const API_ENTRY = 'apps/api/src/server.ts';
const WORKER_ENTRY = 'apps/worker/src/main.ts';
const READY_TIMEOUT_MS = 60_000;

export type RedisClient = ReturnType<typeof createRedis>;

export interface ServiceOptions {
  /** Worker processes started, and consuming the queue, before startService resolves (default 0). */
  workers?: number;
  /** Environment of every process, API and workers, over the defaults. */
  env?: Record<string, string>;
  /** Environment of the API process only, over `env`. */
  apiEnv?: Record<string, string>;
  /** API entry relative to the repository root (default apps/api/src/server.ts). */
  apiEntry?: string;
  /** Key of tenant `acme`, the one `request` uses (default: random). */
  apiKey?: string;
  /** Key of tenant `other`, for isolation checks (default: random). */
  otherApiKey?: string;
}

/** The running service; the ApiRequests calls use tenant acme's key. */
export interface Service extends ApiRequests {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly otherApiKey: string;
  readonly redis: RedisServer;
  readonly dataDir: string;
  /** Every process started, API and workers: stopped by stop(), their output for failure reports. */
  readonly group: ProcessGroup;
  /** The API process now serving baseUrl (a new one after restartApi). */
  readonly api: ManagedProcess;
  /** Starts a worker process with extra environment and waits until it consumes the queue. */
  startWorker(name: string, env?: Record<string, string>): Promise<ManagedProcess>;
  /** Stops every worker started so far (afterEach: a test that failed half-way leaves none behind). */
  stopWorkers(): Promise<void>;
  /** Stops the API and starts a new one on the same port with extra environment (a configuration change). */
  restartApi(name: string, env?: Record<string, string>): Promise<ManagedProcess>;
  /** A direct Redis connection for inspection (closed by stop()). */
  inspect(): RedisClient;
  stop(): Promise<void>;
}

export async function startService(options: ServiceOptions = {}): Promise<Service> {
  const redis = await startRedis();
  const dataDir = await mkdtemp(join(tmpdir(), 'unroll-service-'));
  const group = new ProcessGroup();
  const apiKey = options.apiKey ?? `acme_${randomBytes(12).toString('hex')}`;
  const otherApiKey = options.otherApiKey ?? `other_${randomBytes(12).toString('hex')}`;
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env: Record<string, string | undefined> = {
    HOST: '127.0.0.1',
    PORT: String(port),
    REDIS_URL: redis.url,
    DATA_DIR: dataDir,
    UNROLL_API_KEYS: `acme:${apiKey},other:${otherApiKey}`,
    UNROLL_API_KEYS_FILE: undefined, // never a file inherited from the developer's shell
    LOG_LEVEL: 'info', // suites wait for log lines (worker ready, resuming from checkpoint...)
    PROGRESS_INTERVAL_MS: '100',
    RATE_LIMIT_MAX: '0', // suites poll the API; rate limiting has its own tests
    ...options.env,
  };
  const inspectors: RedisClient[] = [];
  const workers: ManagedProcess[] = [];
  let api: ManagedProcess;

  const launchApi = async (name: string, extra: Record<string, string> = {}) => {
    api = group.add(spawnTs(name, options.apiEntry ?? API_ENTRY, { env: { ...env, ...options.apiEnv, ...extra } }));
    await waitForHttp(`${baseUrl}/readyz`, READY_TIMEOUT_MS, api);
    return api;
  };
  const startWorker = async (name: string, extra: Record<string, string> = {}) => {
    const worker = group.add(spawnTs(name, WORKER_ENTRY, { env: { ...env, ...extra } }));
    workers.push(worker);
    await worker.waitForLine(/worker ready/, READY_TIMEOUT_MS);
    return worker;
  };
  const stop = async () => {
    for (const r of inspectors) r.disconnect();
    await group.stopAll(5000);
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
  };

  try {
    await launchApi('api');
    await Promise.all(Array.from({ length: options.workers ?? 0 }, (_, i) => startWorker(`worker-${i + 1}`)));
  } catch (err) {
    const logs = group.logs();
    await stop();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }

  return {
    ...apiRequests(baseUrl, apiKey, () => group.logs()),
    baseUrl,
    apiKey,
    otherApiKey,
    redis,
    dataDir,
    group,
    get api() {
      return api;
    },
    startWorker,
    async stopWorkers() {
      await Promise.all(workers.splice(0).map((w) => w.stop('SIGTERM', 5000)));
    },
    async restartApi(name, extra) {
      await api.stop();
      return launchApi(name, extra);
    },
    inspect() {
      const r = createRedis(redis.url, 'worker', { maxRetriesPerRequest: 1 });
      r.on('error', () => {});
      inspectors.push(r);
      return r;
    },
    stop,
  };
}
