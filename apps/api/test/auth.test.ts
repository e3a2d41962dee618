import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, parseApiKeysEnv } from '@unroll/store';
import { startRedis } from '@unroll/testing';
import { buildApp } from '../src/app.ts';
import { loggerOptions } from '../src/logger.ts';
import { startTestApp, uploadText, createJob, KEYS, type TestApp } from './helpers.ts';

let t: TestApp;
let datasetId: string;
let jobId: string;
beforeAll(async () => {
  t = await startTestApp();
  datasetId = await uploadText(t);
  jobId = (await createJob(t, { datasetId, task: 'lm' })).json().id;
});
afterAll(async () => t?.close());

const PUBLIC = new Set(['GET /', 'GET /healthz', 'GET /readyz', 'GET /openapi.json']);
const isPublic = (r: { method: string; url: string }) => PUBLIC.has(`${r.method} ${r.url}`) || r.url.startsWith('/docs') || r.url.startsWith('/dashboard');

/** A request for each route that takes an id. A new route without an entry here fails the test below. */
function requestFor(method: string, url: string): { method: string; url: string; payload?: unknown } | null {
  const id = url.startsWith('/v1/datasets') ? datasetId : jobId;
  const concrete = url.replace(':id', id);
  const bodies: Record<string, unknown> = {
    'POST /v1/jobs/:id/cancel': undefined,
    'POST /v1/jobs/:id/predict': { inputs: [[0, 1]] },
    'POST /v1/jobs/:id/sample': { length: 5 },
  };
  const known = [
    'GET /v1/datasets/:id',
    'DELETE /v1/datasets/:id',
    'GET /v1/jobs/:id',
    'POST /v1/jobs/:id/cancel',
    'GET /v1/jobs/:id/events',
    'GET /v1/jobs/:id/weights',
    'GET /v1/jobs/:id/checkpoints',
    'POST /v1/jobs/:id/predict',
    'POST /v1/jobs/:id/sample',
  ];
  if (!known.includes(`${method} ${url}`)) return null;
  return { method, url: concrete, payload: bodies[`${method} ${url}`] };
}

describe('authentication', () => {
  it('every non-public route answers 401 unauthorized without a valid key', async () => {
    const routes = t.app.routeList.filter((r) => !isPublic(r));
    expect(routes.length).toBeGreaterThanOrEqual(12);
    for (const r of routes) {
      const url = r.url.replace(':id', r.url.startsWith('/v1/datasets') ? datasetId : jobId);
      for (const headers of [{}, { authorization: 'Bearer wrong-key-0000' }, { authorization: `Basic ${KEYS.acme}` }]) {
        const res = await t.app.inject({ method: r.method as 'GET', url, headers });
        expect(res.statusCode, `${r.method} ${r.url}`).toBe(401);
        expect(res.json().error.code).toBe('unauthorized');
      }
    }
  });

  it('another tenant gets 404 on every route with an id (the route table is enumerated)', async () => {
    const withId = t.app.routeList.filter((r) => r.url.includes(':id'));
    expect(withId.length).toBeGreaterThanOrEqual(9);
    for (const r of withId) {
      const req = requestFor(r.method, r.url);
      expect(req, `no cross-tenant case for ${r.method} ${r.url}: add one`).not.toBeNull();
      const res = await t.app.inject({ method: req!.method as 'GET', url: req!.url, headers: t.auth('other'), payload: req!.payload as object });
      expect(res.statusCode, `${r.method} ${r.url}: ${res.body}`).toBe(404);
      expect(res.json().error.code).toBe('not_found');
    }
    // The owner still sees both, and nothing was deleted or cancelled by the other tenant.
    expect((await t.app.inject({ url: `/v1/datasets/${datasetId}`, headers: t.auth() })).statusCode).toBe(200);
    expect((await t.app.inject({ url: `/v1/jobs/${jobId}`, headers: t.auth() })).json().status).toBe('queued');
  });

  it('public routes need no key', async () => {
    for (const url of ['/', '/healthz', '/readyz', '/openapi.json']) {
      expect((await t.app.inject(url)).statusCode, url).toBe(200);
    }
    expect((await t.app.inject('/docs')).statusCode).toBeLessThan(400);
  });

  it('refuses to start without any key, and never logs a key', async () => {
    const redis = await startRedis();
    try {
      const config = loadConfig({ REDIS_URL: redis.url, DATA_DIR: `/tmp/unroll-nokeys-${Date.now()}`, LOG_LEVEL: 'silent' });
      await expect(buildApp(config, { apiKeys: [], logger: false })).rejects.toThrow(/no API key configured/);
      const lines: string[] = [];
      const sink = new Writable({
        write(chunk, _enc, done) {
          lines.push(String(chunk));
          done();
        },
      });
      const app = await buildApp(config, { apiKeys: parseApiKeysEnv(`acme:${KEYS.acme}`), logger: { ...(loggerOptions('info') as object), stream: sink } });
      try {
        await app.inject({ url: '/v1/jobs', headers: { authorization: `Bearer ${KEYS.acme}` } });
        await app.inject({ url: `/v1/jobs?token=${KEYS.acme}`, headers: { authorization: 'Bearer wrong-key-0000' } });
        await app.inject({ url: '/v1/jobs', headers: { 'sec-websocket-protocol': `bearer.${KEYS.acme}` } });
      } finally {
        await app.close();
      }
      const log = lines.join('');
      expect(log).toContain('"url"');
      expect(log).not.toContain(KEYS.acme);
      expect(log).not.toContain('wrong-key-0000');
    } finally {
      await redis.stop();
    }
  });
});
