// Security point 12 of issue #5 (input bounds): every JSON body schema rejects unknown fields (the
// routes are enumerated from the OpenAPI document, so a new one without a case fails), uploads past
// the limit get 413 while streaming, out-of-range hyperparameters get 400 naming the field,
// oversized WebSocket frames close with 1009, per-tenant caps on concurrent jobs and stored bytes
// answer 429, and the per-key rate limit holds across two API instances sharing Redis.
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { KEYS, startSecurityApp, uploadText, type SecurityApp } from './support/app.ts';

let t: SecurityApp;
let datasetId: string;
let jobId: string;

beforeAll(async () => {
  t = await startSecurityApp({ RATE_LIMIT_MAX: '0', MAX_ACTIVE_JOBS_PER_TENANT: '3', MAX_STORED_BYTES_PER_TENANT: '20000', MAX_UPLOAD_BYTES: '8192' });
  datasetId = await uploadText(t);
  jobId = (await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: t.auth(), payload: { datasetId, task: 'lm' } })).json().id;
});
afterAll(async () => t?.close());

/** A minimal valid body per JSON-body route (OpenAPI path form). A route missing here fails the test. */
const VALID_BODIES: Record<string, () => Record<string, unknown>> = {
  'post /v1/jobs': () => ({ datasetId, task: 'lm' }),
  'post /v1/jobs/{id}/predict': () => ({ inputs: [[0, 1]] }),
  'post /v1/jobs/{id}/sample': () => ({ length: 5 }),
  // A JSON sequence file upload: validated by the engine's dataset parser, which is strict too.
  'post /v1/datasets': () => ({ task: 'regression', sequences: [{ inputs: [[0.1], [0.2]], targets: [[0.2], [0.3]] }] }),
};
/** Uploads are dataset files, so their errors say `invalid_dataset`; API bodies say `invalid_request`. */
const REJECTION_CODE: Record<string, string> = { 'post /v1/datasets': 'invalid_dataset' };
/** Nested objects whose unknown fields must be rejected too. */
const NESTED: Record<string, string[]> = { 'post /v1/jobs': ['model', 'training', 'training.optimizer', 'training.bptt', 'training.clip', 'model.init'] };

interface OpenApi {
  paths: Record<string, Record<string, { requestBody?: { content?: Record<string, unknown> }; parameters?: { in: string; name: string }[] }>>;
}

describe('unknown fields', () => {
  it('every JSON body schema (enumerated from the OpenAPI document) rejects unknown fields, top level and nested, naming them', async () => {
    const doc = t.app.swagger() as unknown as OpenApi;
    const routes: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(ops)) if (op.requestBody?.content?.['application/json']) routes.push(`${method} ${path}`);
    }
    expect(routes.length).toBeGreaterThanOrEqual(3);
    for (const route of routes) {
      const valid = VALID_BODIES[route];
      expect(valid, `no valid body for ${route}: add one to VALID_BODIES`).toBeDefined();
      const [method, path] = route.split(' ');
      const url = path.replace('{id}', jobId);
      const baseline = await t.app.inject({ method: method.toUpperCase() as 'POST', url, headers: t.auth(), payload: valid() });
      expect(baseline.statusCode, `${route} baseline ${baseline.body}`).not.toBe(400);
      for (const where of ['', ...(NESTED[route] ?? [])]) {
        const body = structuredClone(valid()) as Record<string, unknown>;
        let target = body;
        for (const part of where.split('.').filter(Boolean)) {
          target[part] ??= part === 'optimizer' ? { name: 'adam' } : part === 'bptt' ? { mode: 'full' } : part === 'clip' ? { mode: 'none' } : part === 'init' ? { scheme: 'pytorch' } : {};
          target = target[part] as Record<string, unknown>;
        }
        target.sneaky = 1;
        const res = await t.app.inject({ method: method.toUpperCase() as 'POST', url, headers: t.auth(), payload: body });
        expect(res.statusCode, `${route} ${where}: ${res.body}`).toBe(400);
        expect(res.json().error).toMatchObject({ code: REJECTION_CODE[route] ?? 'invalid_request', param: where ? `${where}.sneaky` : 'sneaky' });
      }
    }
  });

  it('query strings reject unknown parameters', async () => {
    for (const url of ['/v1/jobs?sneaky=1', '/v1/datasets?sneaky=1', `/v1/jobs/${jobId}/events?sneaky=1`, `/v1/jobs/${jobId}/weights?sneaky=1`]) {
      const res = await t.app.inject({ url, headers: t.auth() });
      expect(res.statusCode, url).toBe(400);
      expect(res.json().error.param).toBe('sneaky');
    }
  });
});

describe('hyperparameters out of range', () => {
  it('400 invalid_request naming the offending field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ training: { epochs: 1001 } }, 'training.epochs'],
      [{ training: { batchSize: 1e9 } }, 'training.batchSize'],
      [{ training: { optimizer: { name: 'adam', lr: 11 } } }, 'training.optimizer.lr'],
      [{ training: { bptt: { mode: 'truncated', k1: 30, k2: 10 } } }, 'training.bptt.k1'],
      [{ training: { validationSplit: 0.9 } }, 'training.validationSplit'],
      [{ training: { seed: -1 } }, 'training.seed'],
      [{ model: { hiddenSize: 0 } }, 'model.hiddenSize'],
      [{ model: { hiddenSize: 1e308 } }, 'model.hiddenSize'],
      [{ training: { clip: { mode: 'norm', maxNorm: -1 } } }, 'training.clip.maxNorm'],
    ];
    for (const [extra, param] of cases) {
      const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: t.auth(), payload: { datasetId, task: 'lm', ...extra } });
      expect(res.statusCode, `${param}: ${res.body}`).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'invalid_request', param });
    }
  });
});

describe('uploads past MAX_UPLOAD_BYTES', () => {
  it('413 payload_too_large while streaming: the rest of the body is never read', async () => {
    let produced = 0;
    const body = new Readable({
      read() {
        if (produced >= 32 * 1024 * 1024) return this.push(null);
        produced += 16 * 1024;
        this.push(Buffer.alloc(16 * 1024, 97));
      },
    });
    const res = await t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...t.auth('other'), 'content-type': 'text/plain' }, payload: body });
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('payload_too_large');
    expect(produced).toBeLessThan(2 * 1024 * 1024);
  });
});

describe('oversized WebSocket frames', () => {
  it('close the connection with 1009', async () => {
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const ws = new WebSocket(`${address.replace('http', 'ws')}/v1/jobs/${jobId}/events`, { headers: t.auth() });
    await new Promise<void>((resolve, reject) => {
      ws.on('open', () => resolve());
      ws.on('error', reject);
    });
    const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
    ws.send(Buffer.alloc(65 * 1024, 120));
    expect(await closed).toBe(1009);
  });
});

describe('per-tenant caps', () => {
  it('concurrent jobs: 429 too_many_active_jobs past MAX_ACTIVE_JOBS_PER_TENANT; room again once one ends; other tenants unaffected', async () => {
    const create = (tenant: 'acme' | 'other', ds: string) => t.app.inject({ method: 'POST', url: '/v1/jobs', headers: t.auth(tenant), payload: { datasetId: ds, task: 'lm' } });
    // acme already has queued jobs from the tests above: fill up to the cap of 3.
    const active = await t.app.jobs.activeCount('acme');
    expect(active).toBeLessThan(3);
    for (let i = active; i < 3; i++) expect((await create('acme', datasetId)).statusCode).toBe(202);
    const refused = await create('acme', datasetId);
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe('too_many_active_jobs');
    const otherDs = await uploadText(t, 'other');
    expect((await create('other', otherDs)).statusCode).toBe(202);
    // Cancel one of acme's: room for one more.
    expect((await t.app.inject({ method: 'POST', url: `/v1/jobs/${jobId}/cancel`, headers: t.auth() })).statusCode).toBe(200);
    expect((await create('acme', datasetId)).statusCode).toBe(202);
    expect((await create('acme', datasetId)).statusCode).toBe(429);
  });

  it('stored bytes: 429 storage_quota_exceeded past MAX_STORED_BYTES_PER_TENANT (uploads and inline datasets); deleting frees room', async () => {
    const fresh = await startSecurityApp({ RATE_LIMIT_MAX: '0', MAX_STORED_BYTES_PER_TENANT: '5000' });
    try {
      const text = 'abcdefghij'.repeat(200); // 2000 bytes
      const up = () => fresh.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...fresh.auth(), 'content-type': 'text/plain' }, payload: text });
      const first = await up();
      expect(first.statusCode).toBe(201);
      expect((await up()).statusCode).toBe(201);
      const third = await up();
      expect(third.statusCode).toBe(429);
      expect(third.json().error.code).toBe('storage_quota_exceeded');
      const inline = await fresh.app.inject({ method: 'POST', url: '/v1/jobs', headers: fresh.auth(), payload: { task: 'lm', inline: { format: 'text', content: text } } });
      expect(inline.statusCode).toBe(429);
      expect(inline.json().error.code).toBe('storage_quota_exceeded');
      // The other tenant has its own quota.
      expect((await fresh.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...fresh.auth('other'), 'content-type': 'text/plain' }, payload: text })).statusCode).toBe(201);
      expect((await fresh.app.inject({ method: 'DELETE', url: `/v1/datasets/${first.json().id}`, headers: fresh.auth() })).statusCode).toBe(204);
      expect((await up()).statusCode).toBe(201);
    } finally {
      await fresh.close();
    }
  });
});

describe('rate limits', () => {
  it('per API key, counted in Redis across two API instances: 429 rate_limited with Retry-After; other keys and public routes unaffected', async () => {
    const limited = await startSecurityApp({ RATE_LIMIT_MAX: '10', RATE_LIMIT_WINDOW_MS: '60000' });
    try {
      const second = await limited.sibling();
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) {
        const app = i % 2 === 0 ? limited.app : second;
        statuses.push((await app.inject({ url: '/v1/jobs', headers: limited.auth() })).statusCode);
      }
      expect(statuses).toEqual(Array(10).fill(200));
      for (const app of [limited.app, second]) {
        const res = await app.inject({ url: '/v1/jobs', headers: limited.auth() });
        expect(res.statusCode).toBe(429);
        expect(res.json().error.code).toBe('rate_limited');
        expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
      }
      expect((await second.inject({ url: '/v1/jobs', headers: limited.auth('other') })).statusCode).toBe(200);
      expect((await limited.app.inject('/healthz')).statusCode).toBe(200);
      // A wrong key is refused as unauthorized, not counted against anyone.
      expect((await limited.app.inject({ url: '/v1/jobs', headers: { authorization: `Bearer ${KEYS.acme}x` } })).statusCode).toBe(401);
    } finally {
      await limited.close();
    }
  });
});
