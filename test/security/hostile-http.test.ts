// Issue #11 items 6 and 7 on a real API process, over raw TCP where a client library would refuse
// to send the request: every non-2xx answer from every layer (Node's HTTP parser, Fastify's
// router, our routes) is our envelope `{"error":{"code","message",…}}`; an API key passed in any
// query parameter never reaches a log line; `?token=` and WebSocket upgrades are honoured on the
// events route only.
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import WebSocket from 'ws';
import { startService, type Service } from '../support/service.ts';

const KEY = 'hostile_http_key_5d1f7a3c9e0b2468';

let service: Service;
let port: number;

beforeAll(async () => {
  service = await startService({ apiKey: KEY, env: { LOG_LEVEL: 'debug' } });
  port = Number(new URL(service.baseUrl).port);
});
afterAll(async () => service?.stop());

interface RawAnswer {
  status: number;
  headers: string;
  body: string;
}

/** Sends `request` as bytes and reads the answer until the server closes or the body is complete. */
function raw(request: string | Buffer): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const finish = () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      resolve({ status, headers: head, body: split < 0 ? '' : text.slice(split + 4) });
    };
    socket.on('data', (d) => {
      chunks.push(d);
      const text = Buffer.concat(chunks).toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text.slice(0, split))?.[1];
      if (split >= 0 && length !== undefined && Buffer.byteLength(text.slice(split + 4), 'latin1') >= Number(length)) {
        socket.destroy();
        finish();
      }
    });
    socket.on('close', finish);
    socket.on('error', (err) => ((err as NodeJS.ErrnoException).code === 'ECONNRESET' ? finish() : reject(err)));
    socket.setTimeout(10_000, () => socket.destroy(new Error('timeout')));
    socket.write(request);
  });
}

const get = (path: string, headers = '') => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${KEY}\r\n${headers}Connection: close\r\n\r\n`;

function expectEnvelope(answer: RawAnswer, status: number, label: string): { code: string; message: string } {
  expect(answer.status, `${label}: ${answer.headers}\n${answer.body}`).toBe(status);
  expect(answer.headers, label).toMatch(/content-type: application\/json/i);
  const parsed = JSON.parse(answer.body) as { error?: { code?: unknown; message?: unknown } };
  expect(Object.keys(parsed), `${label}: ${answer.body}`).toEqual(['error']);
  expect(typeof parsed.error?.code, label).toBe('string');
  expect(typeof parsed.error?.message, label).toBe('string');
  return parsed.error as { code: string; message: string };
}

describe('every layer answers with our error envelope (item 7)', () => {
  it.each([
    ['a 200-character job id (router: max param length)', get(`/v1/jobs/${'a'.repeat(200)}`), 414, 'uri_too_long'],
    ['an overlong UTF-8 path (router: bad URL)', get('/v1/jobs/%c0%ae%c0%ae'), 400, 'invalid_request'],
    ['a bad percent-encoding in a dataset id', get('/v1/datasets/%zz'), 400, 'invalid_request'],
    ['1 MB of headers (HTTP parser: header overflow)', get('/v1/jobs', `X-Big: ${'x'.repeat(1024 * 1024)}\r\n`), 431, 'headers_too_large'],
    ['10 000 query parameters', get(`/v1/jobs?${Array.from({ length: 10_000 }, (_, i) => `p${i}=1`).join('&')}`), 431, 'headers_too_large'],
    ['a garbage request line', 'NOT AN HTTP REQUEST\r\n\r\n', 400, 'invalid_request'],
    ['an unknown HTTP version', 'GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n', 400, 'invalid_request'],
    ['a bad chunked body', `POST /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`, 400, 'invalid_request'],
  ])('%s', async (label, request, status, code) => {
    onTestFailed(() => console.error(service.group.logs().slice(-4000)));
    const error = expectEnvelope(await raw(request), status, label);
    expect(error.code, label).toBe(code);
    // The API is still healthy afterwards.
    expect((await fetch(`${service.baseUrl}/healthz`)).status).toBe(200);
  });
});

describe('secrets in URLs and WebSocket upgrades (item 6)', () => {
  it('a key in any query parameter is redacted from every log line', async () => {
    const names = ['api_key', 'key', 'access_token', 'apikey', 'token', 'auth', 'x', 'password'];
    for (const name of names) {
      const res = await fetch(`${service.baseUrl}/v1/jobs?${name}=${KEY}&limit=5`, { headers: { authorization: `Bearer ${KEY}` } });
      // An unknown query parameter is rejected, and the key is not echoed back in the error either.
      const text = await res.text();
      expect(text.includes(KEY), `${name}: ${text}`).toBe(false);
    }
    // A key in the path is redacted too (a client that pasted it in the wrong place).
    await fetch(`${service.baseUrl}/v1/jobs/${KEY}`, { headers: { authorization: `Bearer ${KEY}` } });
    await new Promise((r) => setTimeout(r, 300));
    const logs = service.group.logs();
    expect(logs).toMatch(/api_key=\[redacted\]/);
    expect(logs.includes(KEY), 'the key appears in the API log').toBe(false);
  });

  it('?token= authenticates only the events WebSocket; no other route upgrades', async () => {
    // Plain HTTP with ?token=: not a way to authenticate.
    expect((await fetch(`${service.baseUrl}/v1/jobs?token=${KEY}`)).status).toBe(401);
    // Upgrade headers on a non-WebSocket route: refused with our envelope, never 101.
    for (const path of ['/v1/datasets', '/v1/jobs', '/healthz']) {
      const answer = await raw(
        `GET ${path}?token=${KEY} HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
      );
      const error = expectEnvelope(answer, 400, path);
      expect(error.code).toBe('invalid_request');
    }
    // The same with a header key instead: still no upgrade.
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${service.baseUrl.replace('http', 'ws')}/v1/datasets`, { headers: { authorization: `Bearer ${KEY}` } });
      ws.on('unexpected-response', (_req, res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      ws.on('open', () => {
        ws.terminate();
        resolve(101);
      });
      ws.on('error', () => {});
    });
    expect(refused).toBe(400);
  });
});
