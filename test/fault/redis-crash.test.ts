// Scenario 5 of issue #5: Redis is killed (SIGKILL) while jobs are being created and trained, then
// restarted on the same AOF (appendonly yes, appendfsync always: a write is on disk before Redis
// answers it, so a 202 is only ever sent for a durable job). Every acknowledged job still exists and
// finishes; the API and the workers reconnect by themselves (same processes throughout).
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { epochsOf, lmJobBody } from '../support/jobs.ts';
import { startService, type Service } from '../support/service.ts';

let service: Service;

beforeAll(async () => {
  service = await startService({ env: { LOCK_DURATION_MS: '5000', JOB_ATTEMPTS: '3', WORKER_CONCURRENCY: '2' } });
});
afterEach(async () => {
  await service?.stopWorkers();
});
afterAll(async () => {
  await service?.stop();
});

describe('scenario 5: Redis killed with -9 and restarted', () => {
  it('loses no acknowledged job: all exist and finish; API and workers reconnect by themselves', async () => {
    onTestFailed(() => console.error(service.group.logs()));
    const redis = service.inspect();
    expect(await redis.config('GET', 'appendfsync')).toEqual(['appendfsync', 'always']);
    const datasetId = await service.uploadCorpus();
    const workers = [await service.startWorker('redis-crash-w1'), await service.startWorker('redis-crash-w2')];
    const apiPid = service.api.child.pid;

    // Two long jobs are mid-training when Redis dies.
    const acknowledged: string[] = [];
    for (let i = 0; i < 2; i++) acknowledged.push(await service.createJob(lmJobBody(datasetId, { epochs: 30, seed: i })));
    await expect.poll(async () => epochsOf(await service.events(acknowledged[0])).length, { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(2);

    // Creations keep coming while Redis is killed: every 202 must survive, the rest must be clean errors.
    const outcomes: number[] = [];
    const creating = (async () => {
      for (let i = 0; i < 30; i++) {
        const res = await service.request('/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(lmJobBody(datasetId, { epochs: 2, seed: 100 + i })) });
        outcomes.push(res.status);
        if (res.status === 202) acknowledged.push(((await res.json()) as { id: string }).id);
        await sleep(30);
      }
    })();
    await sleep(250);
    await service.redis.kill();
    const killedAt = Date.now();
    await sleep(1500);
    await service.redis.restart();
    const downMs = Date.now() - killedAt;
    await creating;
    expect(outcomes.every((s) => s === 202 || s === 503)).toBe(true);
    expect(outcomes.filter((s) => s === 503).length).toBeGreaterThan(0);

    // The same API process answers again.
    await expect.poll(async () => (await fetch(`${service.baseUrl}/readyz`)).status, { timeout: 15_000, interval: 200 }).toBe(200);
    acknowledged.push(await service.createJob(lmJobBody(datasetId, { epochs: 2, seed: 999 })));

    for (const id of acknowledged) {
      const job = await service.waitForStatus(id, 'succeeded', 90_000);
      const epochs = job.spec.training.epochs;
      expect(epochsOf(await service.events(id))).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));
    }
    // A creation that failed half-way (record written, queue entry not) was answered 503 and its
    // record marked failed: nothing is left queued or running without a queue entry.
    await expect
      .poll(async () => {
        const page = (await (await service.request('/v1/jobs?limit=100')).json()) as { items: { id: string; status: string; error: { code: string } | null }[] };
        // the offending records themselves, so a failure names the job, its status and error
        return page.items
          .filter((j) => j.status === 'queued' || j.status === 'running' || (j.status === 'failed' && j.error?.code !== 'enqueue_failed'))
          .map((j) => ({ id: j.id, status: j.status, error: j.error }));
      }, { timeout: 20_000, interval: 250 })
      .toEqual([]);
    expect(service.api.child.pid).toBe(apiPid);
    expect(service.api.child.exitCode).toBeNull();
    for (const w of workers) expect(w.child.exitCode).toBeNull();
    console.info(`[figures] scenario 5: Redis down ${downMs} ms; ${acknowledged.length} acknowledged jobs, all succeeded; ${outcomes.filter((s) => s === 503).length} creations refused with 503 meanwhile`);
  });
});
