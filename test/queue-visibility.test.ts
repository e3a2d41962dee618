// Issue #11 item 8: with no worker connected a job used to sit queued with no hint. On real
// processes: /readyz and GET /v1/jobs/:id report the live workers and the job's queue position.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { lmJobBody } from './support/jobs.ts';
import { startService, type Service } from './support/service.ts';

let service: Service;
beforeAll(async () => {
  service = await startService();
});
afterAll(async () => service?.stop());

const readyz = async () => (await (await fetch(`${service.baseUrl}/readyz`)).json()) as { status: string; workers: number };

describe('queue visibility', () => {
  it('reports no workers and each job\'s place; a worker connects and takes them in order', async () => {
    onTestFailed(() => console.error(service.group.logs().slice(-4000)));
    expect(await readyz()).toEqual({ status: 'ready', workers: 0 });
    const datasetId = await service.uploadCorpus();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push(await service.createJob(lmJobBody(datasetId, { epochs: 1 })));
    const places = await Promise.all(ids.map(async (id) => (await service.job(id)).queue));
    expect(places).toEqual([1, 2, 3].map((position) => ({ state: 'waiting', position, liveWorkers: 0 })));

    await service.startWorker('worker-1');
    expect((await readyz()).workers).toBe(1);
    for (const id of ids) expect((await service.waitForStatus(id, 'succeeded', 60_000)).queue).toBeUndefined();
    await service.stopWorkers();
    const deadline = Date.now() + 10_000;
    while ((await readyz()).workers !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await readyz()).workers).toBe(0);
  });
});
