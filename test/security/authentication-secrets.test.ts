// Security point 13 of issue #5 on real processes: a missing, wrong or revoked key gets 401 over
// HTTP and the WebSocket is refused before the upgrade; after a full job lifecycle that used the
// key every way a client can (header, ?token=, bearer subprotocol), no secret appears in any
// process's log or anywhere in Redis (every key SCANned, every value read and DUMPed).
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import WebSocket from 'ws';
import { CORPUS } from '../support/corpora.ts';
import { lmJobBody } from '../support/jobs.ts';
import { startService, type Service } from '../support/service.ts';

const KEY = 'sec_live_key_7f3a9c1e5b2d4f6a8c0e';
const OLD = 'sec_revoked_key_1b3d5f7h9j2k4m6n';
const WRONG = 'sec_wrong_key_9z8y7x6w5v4u3t2s';
const SECRETS = [KEY, OLD, WRONG];

let service: Service;
let baseUrl: string;

beforeAll(async () => {
  service = await startService({ apiKey: KEY, otherApiKey: OLD, env: { LOG_LEVEL: 'debug' } });
  baseUrl = service.baseUrl;
});
afterAll(async () => {
  await service?.stop();
});

const call = (path: string, key: string | null, init: RequestInit = {}) =>
  fetch(`${baseUrl}${path}`, { ...init, headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(init.headers as Record<string, string>) } });

/** Opens a WebSocket; resolves with the HTTP status when refused, 101 when upgraded. */
function tryUpgrade(path: string, how: { header?: string; token?: string; protocol?: string }): Promise<{ status: number; messages: string[] }> {
  return new Promise((resolve) => {
    const url = `${baseUrl.replace('http', 'ws')}${path}${how.token ? `?token=${how.token}` : ''}`;
    const ws = new WebSocket(url, how.protocol ? ['unroll.v1', `bearer.${how.protocol}`] : [], how.header ? { headers: { authorization: `Bearer ${how.header}` } } : {});
    const messages: string[] = [];
    ws.on('upgrade', () => {});
    ws.on('message', (d) => messages.push(d.toString()));
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0, messages });
    });
    ws.on('close', () => resolve({ status: 101, messages }));
    ws.on('error', () => {});
  });
}

describe('authentication and secrets (real processes)', () => {
  it('missing, wrong or revoked keys get 401 and no socket; no secret reaches a log line or Redis', async () => {
    onTestFailed(() => console.error(service.group.logs()));
    await service.startWorker('sec-worker');
    const upload = await call('/v1/datasets', KEY, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: CORPUS });
    expect(upload.status).toBe(201);
    const datasetId = ((await upload.json()) as { id: string }).id;
    const created = await call('/v1/jobs', KEY, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(lmJobBody(datasetId, { epochs: 3 })) });
    expect(created.status).toBe(202);
    const jobId = ((await created.json()) as { id: string }).id;
    const events = `/v1/jobs/${jobId}/events`;

    // The key used every way a client can: each of these streams the job to its end.
    for (const how of [{ header: KEY }, { token: KEY }, { protocol: KEY }]) {
      const res = await tryUpgrade(events, how);
      expect(res.status, JSON.stringify(Object.keys(how))).toBe(101);
      expect(res.messages.length).toBeGreaterThan(0);
    }
    expect((await call(`/v1/jobs/${jobId}/weights`, KEY)).status).toBe(200);
    expect((await call('/v1/jobs', OLD)).status).toBe(200);

    // Missing and wrong keys: 401 over HTTP, refused before the upgrade over WebSocket.
    for (const key of [null, WRONG, `${KEY}x`]) {
      const res = await call(`/v1/jobs/${jobId}`, key);
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    }
    for (const how of [{}, { header: WRONG }, { token: WRONG }, { protocol: WRONG }]) {
      expect((await tryUpgrade(events, how)).status, JSON.stringify(how)).toBe(401);
    }

    // Revocation: the API restarts with the old key's tenant (`other`) removed from its configuration.
    await service.restartApi('api-after-revoke', { UNROLL_API_KEYS: `acme:${KEY}` });
    expect((await call('/v1/jobs', OLD)).status).toBe(401);
    expect((await tryUpgrade(events, { header: OLD })).status).toBe(401);
    expect((await tryUpgrade(events, { token: OLD })).status).toBe(401);
    expect((await call('/v1/jobs', KEY)).status).toBe(200);

    // Logs of every process (API before and after the restart, worker), at debug level.
    const logs = service.group.logs();
    expect(logs).toContain(jobId); // the logs are really there
    expect(logs).toMatch(/token=\[redacted\]/); // and the ?token= requests were logged, redacted
    for (const secret of SECRETS) {
      expect(logs.includes(secret), `secret ${secret.slice(0, 8)}… in the logs`).toBe(false);
      expect(logs.includes(createHash('sha256').update(secret).digest('hex'))).toBe(false);
    }

    // Every Redis key and value, read by type and as DUMP bytes.
    const redis = service.inspect();
    const everything: string[] = [];
    let cursor = '0';
    let keyCount = 0;
    do {
      const [next, batch] = await redis.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const key of batch) {
        keyCount++;
        everything.push(key);
        const type = await redis.type(key);
        if (type === 'string') everything.push(String(await redis.get(key)));
        else if (type === 'hash') everything.push(JSON.stringify(await redis.hgetall(key)));
        else if (type === 'list') everything.push(JSON.stringify(await redis.lrange(key, 0, -1)));
        else if (type === 'set') everything.push(JSON.stringify(await redis.smembers(key)));
        else if (type === 'zset') everything.push(JSON.stringify(await redis.zrange(key, '0', '-1', 'WITHSCORES')));
        else if (type === 'stream') everything.push(JSON.stringify(await redis.xrange(key, '-', '+')));
        const dump = await redis.dumpBuffer(key);
        if (dump) everything.push(dump.toString('latin1'));
      }
    } while (cursor !== '0');
    expect(keyCount).toBeGreaterThan(5);
    const all = everything.join('\n');
    expect(all).toContain(jobId);
    for (const secret of SECRETS) expect(all.includes(secret), `secret ${secret.slice(0, 8)}… in Redis`).toBe(false);
    console.info(`[figures] security 13: ${keyCount} Redis keys and ${logs.split('\n').length} log lines searched; no secret found`);
  });
});
