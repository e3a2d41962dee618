// The whole service as a user runs it, for the client / CLI / dashboard suites: a private
// redis-server, the real API process on a free port and real worker processes.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startRedis, type RedisServer } from '@unroll/testing';
import { ProcessGroup, spawnTs, waitForHttp } from './processes.ts';

export interface LiveService {
  baseUrl: string;
  apiKey: string;
  /** A second tenant's key, for isolation checks. */
  otherApiKey: string;
  dataDir: string;
  redis: RedisServer;
  processes: ProcessGroup;
  stop(): Promise<void>;
}

export interface LiveServiceOptions {
  workers?: number;
  env?: Record<string, string>;
  /** API entry relative to the repository root (default apps/api/src/server.ts). */
  apiEntry?: string;
}

export async function startLiveService(options: LiveServiceOptions = {}): Promise<LiveService> {
  const redis = await startRedis();
  const dataDir = await mkdtemp(join(tmpdir(), 'unroll-live-'));
  const port = await freePort();
  const apiKey = 'live-test-key-0123456789';
  const otherApiKey = 'live-other-key-0123456789';
  const env = {
    REDIS_URL: redis.url,
    DATA_DIR: dataDir,
    PORT: String(port),
    HOST: '127.0.0.1',
    UNROLL_API_KEYS: `acme:${apiKey},other:${otherApiKey}`,
    LOG_LEVEL: 'warn',
    PROGRESS_INTERVAL_MS: '200',
    ...options.env,
  };
  const processes = new ProcessGroup();
  const stop = async () => {
    await processes.stopAll(5000);
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    const api = processes.add(spawnTs('api', options.apiEntry ?? 'apps/api/src/server.ts', { env }));
    for (let i = 0; i < (options.workers ?? 1); i++) processes.add(spawnTs(`worker${i + 1}`, 'apps/worker/src/main.ts', { env }));
    await waitForHttp(`http://127.0.0.1:${port}/readyz`, 60_000, api);
  } catch (err) {
    const logs = processes.logs();
    await stop();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  return { baseUrl: `http://127.0.0.1:${port}`, apiKey, otherApiKey, dataDir, redis, processes, stop };
}

/** A small character corpus: a few hundred distinct-enough lines, trains in well under a second per epoch. */
export function smallCorpus(lines = 60): string {
  const words = ['the', 'quick', 'brown', 'fox', 'jumps', 'over', 'lazy', 'dog', 'and', 'runs', 'away'];
  let out = '';
  for (let i = 0; i < lines; i++) out += `${words.map((_, j) => words[(i * 7 + j * 3) % words.length]).join(' ')}.\n`;
  return out;
}
