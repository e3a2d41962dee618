// Scenario 6 of issue #5: Redis unreachable for 60 s (the server is frozen with SIGSTOP, so
// connections hang like a network partition rather than being refused). Writes answer 503 within
// 2 s, /readyz reports not ready, the running training keeps going in its thread and every event
// it produced is published, in order and once, when Redis returns; stopping an idle worker during
// the outage is bounded. UNROLL_FAULT_OUTAGE_MS shortens the outage for local runs only.
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import WebSocket from 'ws';
import type { EventMessage } from '@unroll/protocol';
import { epochsOf, lmJobBody, statusesOf } from '../support/jobs.ts';
import { startService, type Service } from '../support/service.ts';

const OUTAGE_MS = Number(process.env.UNROLL_FAULT_OUTAGE_MS ?? 60_000);
const SHUTDOWN_TIMEOUT_MS = 5000;

let service: Service;

beforeAll(async () => {
  service = await startService({
    env: {
      // The lock outlives the outage, so the running attempt keeps the job (with a shorter lock a
      // stall check would hand it to another worker after Redis returns; fencing keeps that correct too).
      LOCK_DURATION_MS: String(OUTAGE_MS + 30_000),
      WORKER_SHUTDOWN_TIMEOUT_MS: String(SHUTDOWN_TIMEOUT_MS),
      PROGRESS_INTERVAL_MS: '200',
    },
  });
});
afterAll(async () => {
  if (service) process.kill(service.redis.process.pid!, 'SIGCONT');
  await service?.stop();
});

async function timed(path: string, init?: RequestInit): Promise<{ status: number; ms: number; body: string }> {
  const started = Date.now();
  const res = await service.request(path, init);
  const body = await res.text();
  return { status: res.status, ms: Date.now() - started, body };
}

describe('scenario 6: Redis unreachable for a long outage', () => {
  it('503 within 2 s, not ready, training continues and its events arrive after, bounded worker stop', { timeout: OUTAGE_MS + 120_000 }, async () => {
    onTestFailed(() => console.error(service.group.logs()));
    const datasetId = await service.uploadCorpus();
    const trainer = await service.startWorker('outage-trainer');
    const idle = await service.startWorker('outage-idle', { WORKER_CONCURRENCY: '1' });
    // About 0.1 s per epoch: training outlasts the start of the outage, not its end.
    const epochs = Math.max(30, Math.min(400, Math.floor(OUTAGE_MS / 250)));
    const jobId = await service.createJob(lmJobBody(datasetId, { epochs }));
    await expect.poll(async () => epochsOf(await service.events(jobId)).length, { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(2);
    // Make sure the idle worker is not the one training.
    expect(trainer.log()).toContain('training from scratch');
    // A live WebSocket subscriber that stays connected through the outage.
    const live: EventMessage[] = [];
    const socket = new WebSocket(`${service.baseUrl.replace('http', 'ws')}/v1/jobs/${jobId}/events`, { headers: { authorization: `Bearer ${service.apiKey}` } });
    socket.on('message', (d) => live.push(JSON.parse(d.toString()) as EventMessage));
    socket.on('error', () => {});
    const liveClosed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    await expect.poll(() => live.length, { timeout: 10_000 }).toBeGreaterThan(0);

    const pid = service.redis.process.pid!;
    const publishedAtStart = epochsOf(await service.events(jobId)).length;
    process.kill(pid, 'SIGSTOP');
    const outageStart = Date.now();
    try {
      const create = await timed('/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(lmJobBody(datasetId)) });
      expect(create.status, create.body).toBe(503);
      expect(JSON.parse(create.body).error.code).toBe('redis_unavailable');
      expect(create.ms).toBeLessThan(2000);
      const cancel = await timed(`/v1/jobs/${jobId}/cancel`, { method: 'POST' });
      expect(cancel.status).toBe(503);
      expect(cancel.ms).toBeLessThan(2000);
      const upload = await timed('/v1/datasets', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'abcabcabc' });
      expect(upload.status).toBe(503);
      expect(upload.ms).toBeLessThan(2000);
      const ready = await timed('/readyz');
      expect(ready.status).toBe(503);
      expect(ready.ms).toBeLessThan(2000);

      // Stopping a worker while Redis is unreachable is bounded (close forced after the timeout).
      const stopSent = Date.now();
      idle.child.kill('SIGTERM');
      await idle.exited;
      const idleStopMs = Date.now() - stopSent;
      expect(idleStopMs).toBeLessThan(SHUTDOWN_TIMEOUT_MS + 3000);

      await sleep(Math.max(0, OUTAGE_MS - (Date.now() - outageStart)));
      console.info(`[figures] scenario 6: outage ${Date.now() - outageStart} ms; POST /v1/jobs 503 in ${create.ms} ms, cancel ${cancel.ms} ms, upload ${upload.ms} ms, /readyz 503 in ${ready.ms} ms; idle worker stopped in ${idleStopMs} ms`);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const back = Date.now();

    await expect.poll(async () => (await fetch(`${service.baseUrl}/readyz`)).status, { timeout: 15_000, interval: 100 }).toBe(200);
    const done = await service.waitForStatus(jobId, 'succeeded', 60_000);
    const flushMs = Date.now() - back;
    // The thread trained through the outage: everything is published far faster than training it would take.
    const history = await service.events(jobId);
    expect(epochsOf(history)).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));
    expect(statusesOf(history)).toEqual(['queued', 'running', 'succeeded']);
    expect(done.attempt).toBe(1);
    // The subscriber connected before the outage got everything, once, in order, then 1000.
    expect(await liveClosed).toBe(1000);
    expect(live).toEqual(history);
    const epochMs = Number((history.find((m) => m.event.type === 'epoch')!.event as { durationMs?: number }).durationMs ?? 100);
    const remaining = epochs - publishedAtStart;
    console.info(`[figures] scenario 6: after Redis returned, ${remaining} epochs (${Math.round(remaining * epochMs)} ms of training) were published within ${flushMs} ms`);
    if (remaining * epochMs > 3000) expect(flushMs).toBeLessThan(remaining * epochMs);
    // And the API takes writes again without a restart.
    expect(await service.createJob(lmJobBody(datasetId, { epochs: 1 }))).toMatch(/^job_/);
    expect(trainer.child.exitCode).toBeNull();
  });
});
