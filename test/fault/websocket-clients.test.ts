// Scenario 10 of issue #5. Part 1 on real processes (API + worker training a real job): early
// clients, clients whose connection is cut mid-stream and who reconnect with the last id, and late
// joiners all get exactly the job's event history, once and in order. Part 2 on a real listening
// app: a client that stops reading is dropped (1013) while a fast client on the same job keeps up,
// and what the server buffers for the slow one stays bounded.
import { connect as tcpConnect, type Socket } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import WebSocket from 'ws';
import type { EventMessage } from '@unroll/protocol';
import { loadConfig, parseApiKeysEnv } from '@unroll/store';
import { startRedis } from '@unroll/testing';
import { buildApp } from '../../apps/api/src/app.ts';
import { startTcpProxy } from '../support/tcp-proxy.ts';
import { lmJobBody } from '../support/jobs.ts';
import { startService, type Service } from '../support/service.ts';

interface Client {
  messages: EventMessage[];
  closed: Promise<number>;
  socket: WebSocket;
}

function follow(baseUrl: string, path: string, apiKey: string): Client {
  const socket = new WebSocket(`${baseUrl.replace('http', 'ws')}${path}`, { headers: { authorization: `Bearer ${apiKey}` } });
  const messages: EventMessage[] = [];
  socket.on('message', (data) => messages.push(JSON.parse(data.toString()) as EventMessage));
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  return { messages, closed, socket };
}

async function until(predicate: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describe('scenario 10a: late joiners and reconnecting clients (real processes)', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startService({ env: { PROGRESS_INTERVAL_MS: '50' } });
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('every client — early, cut and resumed with the last id, late — gets every event exactly once, in order', async () => {
    onTestFailed(() => console.error(service.group.logs()));
    const datasetId = await service.uploadCorpus();
    await service.startWorker('ws-worker');
    const proxy = await startTcpProxy(Number(new URL(service.baseUrl).port));
    try {
      const jobId = await service.createJob(lmJobBody(datasetId, { epochs: 25 }));
      const path = `/v1/jobs/${jobId}/events`;
      const early = Array.from({ length: 20 }, () => follow(service.baseUrl, path, service.apiKey));

      // A client behind a relay whose connections get cut, twice, resuming with ?after=<last id>.
      const resumed: EventMessage[] = [];
      let cuts = 0;
      let closeCode = 0;
      for (let round = 0; closeCode !== 1000 && round < 20; round++) {
        const after = resumed.at(-1)?.id;
        const c = follow(proxy.url, `${path}${after ? `?after=${after}` : ''}`, service.apiKey);
        c.socket.on('message', () => {});
        if (cuts < 2) {
          await until(() => c.messages.length >= 5 || c.socket.readyState === WebSocket.CLOSED, 30_000, 'some messages');
          proxy.dropAll();
          cuts++;
        }
        const code = await c.closed;
        resumed.push(...c.messages);
        if (code === 1000) closeCode = 1000;
      }
      expect(cuts).toBe(2);
      expect(closeCode).toBe(1000);

      await service.waitForStatus(jobId, 'succeeded', 60_000);
      const codes = await Promise.all(early.map((c) => c.closed));
      const late = follow(service.baseUrl, path, service.apiKey);
      expect(await late.closed).toBe(1000);

      const history = await service.events(jobId);
      const ids = history.map((m) => m.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(history.filter((m) => m.event.type === 'epoch').length).toBe(25);
      expect(codes.every((c) => c === 1000)).toBe(true);
      for (const c of early) expect(c.messages).toEqual(history);
      expect(resumed).toEqual(history);
      expect(late.messages).toEqual(history);
      console.info(`[figures] scenario 10a: ${history.length} events; 20 early clients, 1 client cut twice, 1 late joiner: all identical to the stored history`);
    } finally {
      await proxy.close();
    }
  });
});

describe('scenario 10b: a client that stops reading', () => {
  it('is dropped with 1013 without slowing a fast client on the same job; server-side buffering stays bounded', async () => {
    const redis = await startRedis();
    const dataDir = await mkdtemp(join(tmpdir(), 'unroll-ws-'));
    const key = 'ws-slow-key-0123456789';
    const maxBuffered = 256 * 1024;
    const app = await buildApp(loadConfig({ REDIS_URL: redis.url, DATA_DIR: dataDir, LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '0' }), {
      apiKeys: parseApiKeysEnv(`acme:${key}`),
      logger: false,
      wsMaxBufferedBytes: maxBuffered,
    });
    try {
      const address = await app.listen({ port: 0, host: '127.0.0.1' });
      const port = Number(new URL(address).port);
      const upload = await app.inject({ method: 'POST', url: '/v1/datasets', headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain' }, payload: 'hello world '.repeat(50) });
      const created = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { authorization: `Bearer ${key}` }, payload: { datasetId: upload.json().id, task: 'lm' } });
      const jobId = created.json().id as string;
      const fence = await app.jobs.claimAttempt(jobId);
      await app.jobs.transition(jobId, 'running', { fence });

      const slow = await pausedUpgrade(port, `/v1/jobs/${jobId}/events`, key);
      const fast = follow(address, `/v1/jobs/${jobId}/events`, key);
      await until(() => fast.messages.length >= 2 && app.eventHub.activeReaders === 1, 5000, 'both subscribed');

      // ~30 MB of epoch events, as fast as Redis takes them.
      const started = Date.now();
      const timeProfile = Array.from({ length: 4000 }, (_, i) => i / 7);
      const total = 400;
      let maxServerBuffered = 0;
      let droppedAfterMs = -1;
      const sampler = setInterval(() => {
        for (const c of app.websocketServer.clients) maxServerBuffered = Math.max(maxServerBuffered, c.bufferedAmount);
        // The server gives a dropped client 1 s to read its close frame: read it now.
        if (droppedAfterMs < 0 && [...app.websocketServer.clients].some((c) => c.readyState === c.CLOSING)) {
          droppedAfterMs = Date.now() - started;
          slow.startReading();
        }
      }, 5);
      for (let epoch = 1; epoch <= total; epoch++) {
        await app.events.append(jobId, { type: 'epoch', epoch, trainLoss: 1, gradNormPreClip: 1, gradNormPostClip: 1, clipRate: 0, paramGradNorms: {}, paramNorms: {}, timeProfile, whhSpectralNorm: 1, saturation: 0, tokensPerSec: 1, lr: 0.1, etaSeconds: 0 }, { fence });
      }
      const appendMs = Date.now() - started;
      await until(() => fast.messages.filter((m) => m.event.type === 'epoch').length === total, 30_000, 'the fast client to get every epoch');
      const fastMs = Date.now() - started;
      clearInterval(sampler);

      // The slow client was cut off; the fast one got everything, in order, without waiting for it.
      const slowClose = await slow.closeCode();
      expect(slowClose).toBe(1013);
      expect(fast.messages.filter((m) => m.event.type === 'epoch').map((m) => (m.event as { epoch: number }).epoch)).toEqual(
        Array.from({ length: total }, (_, i) => i + 1),
      );
      expect(fast.socket.readyState).toBe(WebSocket.OPEN);
      const messageBytes = JSON.stringify(fast.messages.at(-1)).length;
      expect(maxServerBuffered).toBeLessThanOrEqual(maxBuffered + 2 * messageBytes);
      console.info(
        `[figures] scenario 10b: ${total} events (${Math.round((total * messageBytes) / 1e6)} MB) appended in ${appendMs} ms, fast client had all after ${fastMs} ms; slow client closed 1013 after ${droppedAfterMs} ms; max server-side buffer ${maxServerBuffered} B (limit ${maxBuffered} B)`,
      );
      // Nothing of the dropped client holds on to the job: once the fast client leaves too, its Redis reader stops.
      fast.socket.close();
      await until(() => app.eventHub.activeReaders === 0, 5000, 'the job reader to stop');
      expect(app.eventHub.activeReaders).toBe(0);
      slow.socket.destroy();
    } finally {
      await app.close();
      await redis.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});

/** A real WebSocket handshake over TCP, then the client never reads (the socket stays paused). */
async function pausedUpgrade(port: number, path: string, key: string): Promise<{ socket: Socket; startReading(): void; closeCode(): Promise<number | null> }> {
  const socket = tcpConnect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise((r) => socket.once('connect', r));
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nAuthorization: Bearer ${key}\r\n\r\n`,
  );
  const first = await new Promise<Buffer>((r) => socket.once('data', r));
  socket.pause();
  expect(first.toString()).toContain('101 Switching Protocols');
  const received: Buffer[] = [first.subarray(first.indexOf('\r\n\r\n') + 4)];
  const ended = new Promise((r) => socket.once('close', r));
  let reading = false;
  const startReading = () => {
    if (reading) return;
    reading = true;
    socket.on('data', (d: Buffer) => received.push(d));
    socket.resume();
  };
  return {
    socket,
    startReading,
    async closeCode() {
      // Read what was queued: the server's close frame is at the end of it.
      startReading();
      await Promise.race([ended, sleep(10_000)]);
      return closeCodeIn(Buffer.concat(received));
    },
  };
}

/** Walks server→client frames (unmasked) and returns the close frame's code, if any. */
function closeCodeIn(data: Buffer): number | null {
  let at = 0;
  while (at + 2 <= data.length) {
    const opcode = data[at] & 0x0f;
    let length = data[at + 1] & 0x7f;
    let header = 2;
    if (length === 126) {
      length = data.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      length = Number(data.readBigUInt64BE(at + 2));
      header = 10;
    }
    if (opcode === 0x8) return data.readUInt16BE(at + header);
    at += header + length;
  }
  return null;
}
