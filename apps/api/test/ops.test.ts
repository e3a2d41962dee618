import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@unroll/testing';
import { loadConfig, parseApiKeysEnv } from '@unroll/store';
import { buildApp } from '../src/app.ts';
import { startTestApp, uploadText, createJob, KEYS, type TestApp } from './helpers.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(async () => t?.close());

describe('documentation', () => {
  it('serves an OpenAPI document generated from the zod schemas, with examples', async () => {
    const res = await t.app.inject('/openapi.json');
    expect(res.statusCode).toBe(200);
    const doc = res.json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const path of ['/v1/datasets', '/v1/jobs', '/v1/jobs/{id}', '/v1/jobs/{id}/events', '/v1/jobs/{id}/weights', '/v1/jobs/{id}/sample']) {
      expect(doc.paths, path).toHaveProperty([path]);
    }
    const create = JSON.stringify(doc.paths['/v1/jobs'].post);
    expect(create).toContain('CreateJobRequest');
    expect(JSON.stringify(doc.components.schemas)).toContain('"example"');
    expect(doc.components.schemas).toHaveProperty('Job');
    expect(doc.components.schemas).toHaveProperty('JobEvent');
    const ui = await t.app.inject('/docs/');
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toContain('text/html');
  });

  it('GET / lists the links', async () => {
    expect((await t.app.inject('/')).json().links).toMatchObject({ docs: '/docs', openapi: '/openapi.json', jobs: '/v1/jobs' });
  });

  it('unknown errors become 500 internal without a stack, unknown routes 404', async () => {
    const missing = await t.app.inject({ url: '/v1/nothing', headers: t.auth() });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('not_found');
  });
});

describe('Redis outages', () => {
  it('fails to start within seconds, naming REDIS_URL, when Redis is unreachable', async () => {
    const port = await freePort();
    const config = loadConfig({ REDIS_URL: `redis://127.0.0.1:${port}`, DATA_DIR: '/tmp/unroll-unused', LOG_LEVEL: 'silent' });
    const started = Date.now();
    await expect(buildApp(config, { apiKeys: parseApiKeysEnv(`acme:${KEYS.acme}`), logger: false })).rejects.toThrow(/REDIS_URL=redis:\/\/127\.0\.0\.1/);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('readyz 503 and write paths 503 redis_unavailable within 2 s while Redis is down; recovers after', async () => {
    const datasetId = await uploadText(t);
    expect((await t.app.inject('/readyz')).statusCode).toBe(200);
    await t.redis.kill();
    try {
      let started = Date.now();
      const ready = await t.app.inject('/readyz');
      expect(ready.statusCode).toBe(503);
      expect(Date.now() - started).toBeLessThan(2500);
      expect((await t.app.inject('/healthz')).statusCode).toBe(200);

      started = Date.now();
      const create = await createJob(t, { datasetId, task: 'lm' });
      expect(create.statusCode, create.body).toBe(503);
      expect(create.json().error.code).toBe('redis_unavailable');
      expect(Date.now() - started).toBeLessThan(2500);

      started = Date.now();
      const upload = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...t.auth(), 'content-type': 'text/plain' }, payload: 'abcabc' });
      expect(upload.statusCode).toBe(503);
      expect(Date.now() - started).toBeLessThan(2500);
    } finally {
      await t.redis.restart();
    }
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await t.app.inject('/readyz')).statusCode;
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(200);
    const create = await createJob(t, { datasetId, task: 'lm' });
    expect(create.statusCode, create.body).toBe(202);
  });
});
