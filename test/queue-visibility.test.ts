// Issue #11 item 8: with no worker connected a job used to sit queued with no hint. On real
// processes: /readyz and GET /v1/jobs/:id report the live workers and the job's queue position.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { REPO_ROOT } from './support/processes.ts';
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
    // `unroll watch` says so instead of waiting silently.
    expect(await firstHintOf(ids[1])).toMatch(/queued, position 2; no worker is connected/);

    await service.startWorker('worker-1');
    expect((await readyz()).workers).toBe(1);
    for (const id of ids) expect((await service.waitForStatus(id, 'succeeded', 60_000)).queue).toBeUndefined();
    await service.stopWorkers();
    const deadline = Date.now() + 10_000;
    while ((await readyz()).workers !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await readyz()).workers).toBe(0);
  });
});

/** Runs `unroll watch <id>` (a real CLI process) until it prints its queue line, then stops it. */
function firstHintOf(jobId: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'apps/cli/bin/unroll.mjs'), 'watch', jobId], {
      env: { ...process.env, UNROLL_URL: service.baseUrl, UNROLL_API_KEY: service.apiKey, XDG_CONFIG_HOME: join(service.dataDir, 'no-config') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error('unroll watch printed no queue line within 20 s'));
    }, 20_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('queued')) return;
      clearTimeout(timer);
      child.kill('SIGKILL');
      resolve(line);
    });
  });
}
