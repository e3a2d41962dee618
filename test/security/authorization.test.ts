// Security point 11 of issue #5 (object-level authorization): the route table is enumerated and
// every route that takes an id — the WebSocket event stream included, over a real socket — answers
// another tenant's key with 404 and none of the owner's data. A route added without a case here
// fails the test.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { KEYS, startSecurityApp, uploadText, type SecurityApp } from './support/app.ts';

let t: SecurityApp;
let baseUrl: string;
let datasetId: string;
let jobId: string;

beforeAll(async () => {
  t = await startSecurityApp({ RATE_LIMIT_MAX: '0' });
  baseUrl = await t.app.listen({ port: 0, host: '127.0.0.1' });
  datasetId = await uploadText(t);
  const created = await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: t.auth(), payload: { datasetId, task: 'lm', model: { hiddenSize: 4 }, training: { epochs: 1 } } });
  jobId = created.json().id;
});
afterAll(async () => t?.close());

/** One request per route with an id. A route missing here makes the enumeration test fail. */
const CASES: Record<string, { payload?: unknown; query?: string }> = {
  'GET /v1/datasets/:id': {},
  'DELETE /v1/datasets/:id': {},
  'GET /v1/jobs/:id': {},
  'POST /v1/jobs/:id/cancel': {},
  'GET /v1/jobs/:id/events': {},
  'GET /v1/jobs/:id/weights': { query: '?checkpoint=1' },
  'GET /v1/jobs/:id/checkpoints': {},
  'POST /v1/jobs/:id/predict': { payload: { inputs: [[0, 1]] } },
  'POST /v1/jobs/:id/sample': { payload: { length: 5 } },
};

describe('object-level authorization (route table enumerated)', () => {
  it('another tenant gets 404 not_found and no data on every route with an id; the owner is unaffected', async () => {
    const withId = t.app.routeList.filter((r) => r.url.includes(':id'));
    expect(withId.length).toBeGreaterThanOrEqual(Object.keys(CASES).length);
    for (const r of withId) {
      const name = `${r.method} ${r.url}`;
      const c = CASES[name];
      expect(c, `no cross-tenant case for ${name}: add one to CASES`).toBeDefined();
      const url = r.url.replace(':id', r.url.startsWith('/v1/datasets') ? datasetId : jobId) + (c.query ?? '');
      const res = await t.app.inject({ method: r.method as 'GET', url, headers: t.auth('other'), payload: c.payload as object });
      expect(res.statusCode, `${name}: ${res.body}`).toBe(404);
      expect(res.json().error.code).toBe('not_found');
      // Nothing of the owner's record: no status, spec, tenant, stats, events.
      expect(res.body).not.toMatch(/"status"|"spec"|"tenant"|"stats"|"items"|acme/);
    }
    expect((await t.app.inject({ url: `/v1/datasets/${datasetId}`, headers: t.auth() })).statusCode).toBe(200);
    const job = await t.app.inject({ url: `/v1/jobs/${jobId}`, headers: t.auth() });
    expect(job.json().status).toBe('queued');
    expect(job.json().cancelRequested).toBe(false);
  });

  it('listings are tenant-scoped', async () => {
    const jobs = await t.app.inject({ url: '/v1/jobs', headers: t.auth('other') });
    expect(jobs.json().items).toEqual([]);
    const datasets = await t.app.inject({ url: '/v1/datasets', headers: t.auth('other') });
    expect(datasets.json().items).toEqual([]);
  });

  it('the WebSocket event stream refuses another tenant before the upgrade (404, no socket)', async () => {
    for (const how of ['header', 'token', 'subprotocol'] as const) {
      const url = `${baseUrl.replace('http', 'ws')}/v1/jobs/${jobId}/events${how === 'token' ? `?token=${KEYS.other}` : ''}`;
      const ws = new WebSocket(url, how === 'subprotocol' ? ['unroll.v1', `bearer.${KEYS.other}`] : [], how === 'header' ? { headers: { authorization: `Bearer ${KEYS.other}` } } : {});
      const outcome = await new Promise<{ status?: number; body?: string; opened?: boolean }>((resolve) => {
        ws.on('open', () => resolve({ opened: true }));
        ws.on('unexpected-response', (_req, res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode, body }));
        });
        ws.on('error', () => {});
      });
      ws.terminate();
      expect(outcome.opened, how).toBeUndefined();
      expect(outcome.status, how).toBe(404);
      expect(JSON.parse(outcome.body!).error.code).toBe('not_found');
    }
    // The owner's key opens it.
    const own = new WebSocket(`${baseUrl.replace('http', 'ws')}/v1/jobs/${jobId}/events`, { headers: t.auth() });
    const first = await new Promise<string>((resolve, reject) => {
      own.on('message', (d) => resolve(d.toString()));
      own.on('error', reject);
    });
    own.terminate();
    expect(JSON.parse(first).event).toMatchObject({ type: 'status', status: 'queued' });
  });
});
