import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { startRedis, type RedisServer } from '@unroll/testing';
import { loadConfig, parseApiKeysEnv, type Config } from '@unroll/store';
import { buildApp, type BuildAppOptions } from '../src/app.ts';

export const KEYS = { acme: 'key-acme-0123456789', other: 'key-other-0123456789' } as const;
export type Tenant = keyof typeof KEYS;

export interface TestApp {
  app: FastifyInstance;
  redis: RedisServer;
  config: Config;
  auth(tenant?: Tenant): { authorization: string };
  close(): Promise<void>;
}

/** A real app on a private redis-server and a temp DATA_DIR; two tenants, acme and other. */
export async function startTestApp(env: Record<string, string> = {}, build: BuildAppOptions = {}): Promise<TestApp> {
  const redis = await startRedis();
  const dataDir = await mkdtemp(join(tmpdir(), 'unroll-api-'));
  const config = loadConfig({ REDIS_URL: redis.url, DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env });
  const app = await buildApp(config, {
    apiKeys: parseApiKeysEnv(`acme:${KEYS.acme},other:${KEYS.other}`),
    logger: false,
    ...build,
  });
  await app.ready();
  return {
    app,
    redis,
    config,
    auth: (tenant = 'acme') => ({ authorization: `Bearer ${KEYS[tenant]}` }),
    async close() {
      await app.close();
      await redis.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export const CORPUS = 'hello world, hello unroll. the quick brown fox jumps over the lazy dog.\n'.repeat(20);

/** Uploads a text corpus for `tenant` and returns the dataset id. */
export async function uploadText(t: TestApp, tenant: Tenant = 'acme', text = CORPUS): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...t.auth(tenant), 'content-type': 'text/plain' }, payload: text });
  if (res.statusCode !== 201) throw new Error(`upload failed: ${res.statusCode} ${res.body}`);
  return res.json().id;
}

export async function createJob(t: TestApp, body: Record<string, unknown>, tenant: Tenant = 'acme') {
  return t.app.inject({ method: 'POST', url: '/v1/jobs', headers: t.auth(tenant), payload: body });
}
