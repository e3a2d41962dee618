// Issue 11 item 4 (first half) on real processes (API process, private redis-server, 1 000 real
// WebSocket clients from this process): clients that all join a finished job at once each get its
// whole stored history, in order, with no gap and no duplicate, then close 1000. History reads are
// paged and shared by every client catching up on the job, so Redis sees a few XRANGEs, not
// one per client per page (before: most clients were closed 1011 after "Command timed out").
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import WebSocket from 'ws';
import { EventLog, JobStore, loadConfig, parseApiKeysEnv } from '@unroll/store';
import { startRedis } from '@unroll/testing';
import { buildApp } from '../../apps/api/src/app.ts';
import { startService, type Service } from '../support/service.ts';

const CLIENTS = 1000;
const EPOCHS = 800;

interface Client {
  frames: string[];
  closed: Promise<number>;
  socket: WebSocket;
}

/** Client-side errors of every client, for the report of a failing run. */
const clientErrors = new Map<string, number>();

function follow(url: string, apiKey: string): Client {
  const socket = new WebSocket(url, { headers: { authorization: `Bearer ${apiKey}` } });
  const frames: string[] = [];
  socket.on('message', (data) => frames.push(data.toString()));
  socket.on('error', (err) => clientErrors.set(err.message, (clientErrors.get(err.message) ?? 0) + 1));
  // A refused handshake (no socket at all): its HTTP status stands in for the close code.
  let refused = 0;
  socket.on('unexpected-response', (_req, res) => {
    refused = res.statusCode ?? 0;
    res.resume();
  });
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(refused || code)));
  return { frames, closed, socket };
}

describe('late subscribers (real API process)', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startService({ env: { LOG_LEVEL: 'warn' } });
  });
  afterAll(async () => {
    await service?.stop();
  });

  it(`${CLIENTS} clients joining a finished job together all get its whole history, in order, once`, async () => {
    onTestFailed(() => console.error(service.group.logs().slice(-6000)));
    const datasetId = await service.uploadCorpus();
    const jobId = await service.createJob({ datasetId, task: 'lm' });

    // A finished job with ~800 stored events, written as a worker would (fenced).
    const redis = service.inspect();
    const jobs = new JobStore(redis, { eventRetention: 100_000, jobRetentionSeconds: 0 });
    const events = new EventLog(redis, { eventRetention: 100_000 });
    const fence = await jobs.claimAttempt(jobId);
    await jobs.transition(jobId, 'running', { fence });
    const timeProfile = Array.from({ length: 24 }, (_, i) => i / 7);
    for (let epoch = 1; epoch <= EPOCHS; epoch++) {
      await events.append(
        jobId,
        { type: 'epoch', epoch, trainLoss: 1 / epoch, gradNormPreClip: 1, gradNormPostClip: 1, clipRate: 0, paramGradNorms: {}, paramNorms: {}, timeProfile, whhSpectralNorm: 1, saturation: 0, tokensPerSec: 1, lr: 0.1, etaSeconds: 0 },
        { fence },
      );
    }
    await jobs.transition(jobId, 'failed', { fence, error: { code: 'test', message: 'finished for the test' } });
    const history = (await service.events(jobId)).map((m) => JSON.stringify(m));
    expect(history.length).toBeGreaterThanOrEqual(EPOCHS + 3);

    const started = Date.now();
    const url = `${service.baseUrl.replace('http', 'ws')}/v1/jobs/${jobId}/events`;
    const clients = Array.from({ length: CLIENTS }, () => follow(url, service.apiKey));
    const codes = await Promise.race([
      Promise.all(clients.map((c) => c.closed)),
      sleep(60_000).then(() => null),
    ]);
    const elapsedMs = Date.now() - started;

    const complete = clients.filter((c) => c.frames.length === history.length && c.frames.every((f, i) => f === history[i])).length;
    const closeCodes = new Map<number, number>();
    for (const code of codes ?? []) closeCodes.set(code, (closeCodes.get(code) ?? 0) + 1);
    console.info(
      `[figures] late subscribers: ${CLIENTS} clients joined a finished job with ${history.length} events: ${complete} got the whole history in ${elapsedMs} ms; close codes ${JSON.stringify(Object.fromEntries(closeCodes))}${clientErrors.size ? `; client errors ${JSON.stringify(Object.fromEntries(clientErrors))}` : ''}`,
    );
    expect(codes).not.toBeNull();
    expect(complete).toBe(CLIENTS);
    expect(closeCodes.get(1000)).toBe(CLIENTS);
  });
});

describe('history backpressure and sharing (real listening app)', () => {
  it('a client that reads slowly during the history holds at most the low-water mark plus one frame, then gets it all; reads are shared', async () => {
    const redis = await startRedis();
    const dataDir = await mkdtemp(join(tmpdir(), 'unroll-late-'));
    const key = 'late-slow-key-0123456789';
    const maxBuffered = 256 * 1024;
    const app = await buildApp(loadConfig({ REDIS_URL: redis.url, DATA_DIR: dataDir, LOG_LEVEL: 'silent', RATE_LIMIT_MAX: '0' }), {
      apiKeys: parseApiKeysEnv(`acme:${key}`),
      logger: false,
      wsMaxBufferedBytes: maxBuffered,
    });
    try {
      const address = await app.listen({ port: 0, host: '127.0.0.1' });
      const upload = await app.inject({ method: 'POST', url: '/v1/datasets', headers: { authorization: `Bearer ${key}`, 'content-type': 'text/plain' }, payload: 'hello world '.repeat(50) });
      const created = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { authorization: `Bearer ${key}` }, payload: { datasetId: upload.json().id, task: 'lm' } });
      const jobId = created.json().id as string;
      const fence = await app.jobs.claimAttempt(jobId);
      await app.jobs.transition(jobId, 'running', { fence });
      // ~20 MB of history (66 KB per event), far more than the 256 KiB one socket may buffer.
      const timeProfile = Array.from({ length: 4000 }, (_, i) => i / 7);
      const total = 300;
      for (let epoch = 1; epoch <= total; epoch++) {
        await app.events.append(jobId, { type: 'epoch', epoch, trainLoss: 1, gradNormPreClip: 1, gradNormPostClip: 1, clipRate: 0, paramGradNorms: {}, paramNorms: {}, timeProfile, whhSpectralNorm: 1, saturation: 0, tokensPerSec: 1, lr: 0.1, etaSeconds: 0 }, { fence });
      }
      await app.jobs.transition(jobId, 'failed', { fence, error: { code: 'test', message: 'finished for the test' } });
      const readsBefore = app.eventHistory.readsIssued;

      // A slow reader (paused, then resumed for 100 ms every 300 ms) and 20 fast ones, together.
      const url = `${address.replace('http', 'ws')}/v1/jobs/${jobId}/events`;
      const slow = follow(url, key);
      const fast = Array.from({ length: 20 }, () => follow(url, key));
      let maxServerBuffered = 0;
      const sampler = setInterval(() => {
        for (const c of app.websocketServer.clients) maxServerBuffered = Math.max(maxServerBuffered, c.bufferedAmount);
      }, 5);
      const socket = await new Promise<WebSocket>((resolve) => slow.socket.once('open', () => resolve(slow.socket)));
      socket.pause();
      let pacing = true;
      let pauseTimer: NodeJS.Timeout | undefined;
      const pacer = setInterval(() => {
        socket.resume();
        pauseTimer = setTimeout(() => pacing && socket.pause(), 100);
      }, 300);
      const codes = await Promise.all(fast.map((c) => c.closed));
      pacing = false;
      clearInterval(pacer);
      clearTimeout(pauseTimer);
      socket.resume();
      const slowCode = await slow.closed;
      clearInterval(sampler);

      const history = (await app.inject({ url: `/v1/jobs/${jobId}/events?limit=1000`, headers: { authorization: `Bearer ${key}` } })).json().items.map((m: unknown) => JSON.stringify(m));
      const frameBytes = Buffer.byteLength(history.at(-3));
      const reads = app.eventHistory.readsIssued - readsBefore;
      console.info(`[figures] history backpressure: ${history.length} events × ${frameBytes} B; slow client closed ${slowCode} with ${slow.frames.length} frames; max server-side buffer ${maxServerBuffered} B (low water ${maxBuffered / 4} B + one frame); ${reads} XRANGE for 21 clients`);
      expect(codes.every((c) => c === 1000)).toBe(true);
      for (const c of fast) expect(c.frames).toEqual(history);
      expect(slowCode).toBe(1000);
      expect(slow.frames).toEqual(history);
      expect(maxServerBuffered).toBeLessThanOrEqual(maxBuffered / 4 + 2 * frameBytes);
      // One page of 500 holds the whole history: shared, it is read once (a few if a client lags behind an eviction).
      expect(reads).toBeLessThanOrEqual(3);
    } finally {
      await app.close();
      await redis.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
