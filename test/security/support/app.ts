// A real API app (buildApp) on a private redis-server and a temp DATA_DIR, for the security suites:
// two tenants (acme, other); `listen()` puts it on a real port for WebSocket clients.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, parseApiKeysEnv, type Config } from '@unroll/store';
import { startRedis, type RedisServer } from '@unroll/testing';
import { buildApp, type BuildAppOptions } from '../../../apps/api/src/app.ts';

export type FastifyInstance = Awaited<ReturnType<typeof buildApp>>;

export const KEYS = { acme: 'sec-acme-key-0123456789abcdef', other: 'sec-other-key-0123456789abcdef' } as const;
export type Tenant = keyof typeof KEYS;

export interface SecurityApp {
  app: FastifyInstance;
  redis: RedisServer;
  config: Config;
  dataDir: string;
  auth(tenant?: Tenant): { authorization: string };
  /** Another app process-alike on the same Redis and DATA_DIR (e.g. a second API instance). */
  sibling(env?: Record<string, string>): Promise<FastifyInstance>;
  close(): Promise<void>;
}

export async function startSecurityApp(env: Record<string, string> = {}, build: BuildAppOptions = {}): Promise<SecurityApp> {
  const redis = await startRedis();
  const dataDir = await mkdtemp(join(tmpdir(), 'unroll-sec-'));
  const siblings: FastifyInstance[] = [];
  const make = async (extra: Record<string, string>) => {
    const config = loadConfig({ REDIS_URL: redis.url, DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...env, ...extra });
    const app = await buildApp(config, { apiKeys: parseApiKeysEnv(`acme:${KEYS.acme},other:${KEYS.other}`), logger: false, ...build });
    await app.ready();
    return { app, config };
  };
  const { app, config } = await make({});
  return {
    app,
    redis,
    config,
    dataDir,
    auth: (tenant = 'acme') => ({ authorization: `Bearer ${KEYS[tenant]}` }),
    async sibling(extra = {}) {
      const s = (await make(extra)).app;
      siblings.push(s);
      return s;
    },
    async close() {
      for (const s of siblings) await s.close();
      await app.close();
      await redis.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export const CORPUS = 'hello world, hello unroll. the quick brown fox jumps over the lazy dog.\n'.repeat(20);

export async function uploadText(t: SecurityApp, tenant: Tenant = 'acme', text = CORPUS): Promise<string> {
  const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...t.auth(tenant), 'content-type': 'text/plain' }, payload: text });
  if (res.statusCode !== 201) throw new Error(`upload failed: ${res.statusCode} ${res.body}`);
  return res.json().id;
}
