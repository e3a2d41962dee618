// The Unroll service as real processes for a suite: a private redis-server, a temp DATA_DIR, the
// API (node --import tsx apps/api/src/server.ts) and any number of worker processes.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startRedis, type RedisServer } from '@unroll/testing';
import { ProcessGroup, spawnTs, waitForHttp, type ManagedProcess } from './processes.ts';

export interface Service {
  readonly baseUrl: string;
  readonly apiKey: string;
  readonly redis: RedisServer;
  readonly dataDir: string;
  readonly group: ProcessGroup;
  readonly api: ManagedProcess;
  /** fetch against the API with the suite's key. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** Starts one more worker process and waits until it is consuming the queue. */
  startWorker(name: string): Promise<ManagedProcess>;
  stop(): Promise<void>;
}

export async function startService(options: { env?: Record<string, string> } = {}): Promise<Service> {
  const redis = await startRedis();
  const dataDir = await mkdtemp(join(tmpdir(), 'unroll-e2e-'));
  const group = new ProcessGroup();
  const apiKey = `e2e_${randomBytes(12).toString('hex')}`;
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  const env = {
    HOST: '127.0.0.1',
    PORT: String(port),
    REDIS_URL: redis.url,
    DATA_DIR: dataDir,
    UNROLL_API_KEYS: `e2e:${apiKey}`,
    UNROLL_API_KEYS_FILE: undefined,
    LOG_LEVEL: 'info',
    PROGRESS_INTERVAL_MS: '100',
    ...options.env,
  };
  const stop = async () => {
    await group.stopAll();
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const api = group.add(spawnTs('api', 'apps/api/src/server.ts', { env }));
    await waitForHttp(`${baseUrl}/healthz`, 45_000, api);
    return {
      baseUrl,
      apiKey,
      redis,
      dataDir,
      group,
      api,
      request: (path, init = {}) => fetch(`${baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${apiKey}`, ...init.headers } }),
      async startWorker(name) {
        const worker = group.add(spawnTs(name, 'apps/worker/src/main.ts', { env }));
        await worker.waitForLine(/worker ready/, 45_000);
        return worker;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
