// Scenario 3 of issue #5: a worker frozen (SIGSTOP) longer than its lock loses the job to another
// worker; when it wakes up (SIGCONT) it keeps training for a moment, but every write it attempts is
// fenced off: exactly one attempt's weights are published, and nothing of the zombie is visible.
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { downloadWeights, epochsOf, lmJobBody, sha256, statusesOf, uninterruptedWeights } from '../support/jobs.ts';
import { firstToPrint } from '../support/processes.ts';
import { startService, type Service } from '../support/service.ts';

let service: Service;

beforeAll(async () => {
  service = await startService({ env: { LOCK_DURATION_MS: '1000', JOB_ATTEMPTS: '3' } });
});
afterEach(async () => {
  await service?.stopWorkers();
});
afterAll(async () => {
  await service?.stop();
});

describe('scenario 3: a zombie worker (SIGSTOP past the lock, then SIGCONT)', () => {
  it('another worker takes over; the zombie is fenced: one attempt publishes, its writes never show', async () => {
    onTestFailed(() => console.error(service.group.logs()));
    const datasetId = await service.uploadCorpus();
    const epochs = 40;
    const a = await service.startWorker('zombie-a');
    const b = await service.startWorker('zombie-b');
    const body = lmJobBody(datasetId, { epochs, seed: 5 });
    const jobId = await service.createJob(body);
    const zombie = await firstToPrint([a, b], new RegExp(`${jobId}.*training from scratch|training from scratch.*${jobId}`));
    const rescuer = zombie === a ? b : a;
    await expect.poll(async () => epochsOf(await service.events(jobId)).length, { timeout: 30_000, interval: 20 }).toBeGreaterThanOrEqual(3);

    const frozenAt = Date.now();
    zombie.child.kill('SIGSTOP');
    await rescuer.waitForLine(/resuming from checkpoint/, 20_000);
    const frozenMs = Date.now() - frozenAt;
    expect(frozenMs).toBeGreaterThan(1000); // longer than LOCK_DURATION_MS
    // Wake it while the rescuer is still training: both run at once for a while.
    zombie.child.kill('SIGCONT');
    await zombie.waitForLine(/fence is stale|a newer attempt owns/, 30_000);

    const done = await service.waitForStatus(jobId, 'succeeded', 60_000);
    expect(done.attempt).toBe(2);
    const history = await service.events(jobId);
    expect(epochsOf(history)).toEqual(Array.from({ length: epochs }, (_, i) => i + 1));
    expect(statusesOf(history)).toEqual(['queued', 'running', 'queued', 'running', 'succeeded']);

    // The recorded weights are the rescuer's (attempt 2); the zombie wrote no weights at all.
    const redis = service.inspect();
    expect(await redis.hget(`unroll:job:${jobId}`, 'weightsKey')).toBe(`jobs/${jobId}/attempts/2/final.safetensors`);
    await expect(stat(join(service.dataDir, 'blobs', 'jobs', jobId, 'attempts', '1'))).rejects.toThrow(/ENOENT/);
    expect(sha256(await downloadWeights(service, jobId))).toBe(sha256(await uninterruptedWeights(service, body)));

    // The zombie is still a healthy worker afterwards (it gave the job up, it did not crash).
    await sleep(200);
    expect(zombie.child.exitCode).toBeNull();
    console.info(`[figures] scenario 3: frozen ${frozenMs} ms before the takeover`);
  });
});
