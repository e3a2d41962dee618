// Issue 11 item 4 (first half) on real processes (API process, private redis-server, 1 000 real
// WebSocket clients from this process): clients that all join a finished job at once each get its
// whole stored history, in order, with no gap and no duplicate, then close 1000. History reads are
// paged and shared by every client catching up on the job, so Redis sees a few XRANGEs, not
// one per client per page (before: most clients were closed 1011 after "Command timed out").
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import WebSocket from 'ws';
import { EventLog, JobStore } from '@unroll/store';
import { startService, type Service } from '../support/service.ts';

const CLIENTS = 1000;
const EPOCHS = 800;

interface Client {
  frames: string[];
  closed: Promise<number>;
}

function follow(url: string, apiKey: string): Client {
  const socket = new WebSocket(url, { headers: { authorization: `Bearer ${apiKey}` } });
  const frames: string[] = [];
  socket.on('message', (data) => frames.push(data.toString()));
  socket.on('error', () => {});
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  return { frames, closed };
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
      `[figures] late subscribers: ${CLIENTS} clients joined a finished job with ${history.length} events: ${complete} got the whole history in ${elapsedMs} ms; close codes ${JSON.stringify(Object.fromEntries(closeCodes))}`,
    );
    expect(codes).not.toBeNull();
    expect(complete).toBe(CLIENTS);
    expect(closeCodes.get(1000)).toBe(CLIENTS);
  });
});
