// The whole service as it runs in production: the real API and TWO real worker processes
// (node --import tsx), a private redis-server, a temp DATA_DIR, real HTTP (fetch) and a real
// WebSocket client. Tiny corpus, hidden 16, 3 epochs: well under a minute.
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import WebSocket from 'ws';
import type { EventMessage } from '@unroll/protocol';
import { RnnModel } from '@unroll/rnn';
import { epochsOf, statusesOf } from './support/jobs.ts';
import type { ManagedProcess } from './support/processes.ts';
import { startService, type Service } from './support/service.ts';

const CORPUS = 'to be or not to be, that is the question. whether tis nobler in the mind to suffer. '.repeat(8);

let service: Service;
const workers: ManagedProcess[] = [];

async function json<T>(res: Response, status: number): Promise<T> {
  const body = await res.text();
  expect(res.status, body).toBe(status);
  return JSON.parse(body) as T;
}

/** Every WebSocket message of a job until the server closes the stream (after the terminal status). */
function followEvents(jobId: string, timeoutMs = 45_000): Promise<{ messages: EventMessage[]; closeCode: number }> {
  return new Promise((resolve, reject) => {
    const messages: EventMessage[] = [];
    const url = `${service.baseUrl.replace('http', 'ws')}/v1/jobs/${jobId}/events`;
    const socket = new WebSocket(url, { headers: { authorization: `Bearer ${service.apiKey}` } });
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`no terminal event within ${timeoutMs} ms; got ${JSON.stringify(messages.map((m) => m.event.type))}`));
    }, timeoutMs);
    socket.on('message', (data) => messages.push(JSON.parse(data.toString()) as EventMessage));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', (code) => {
      clearTimeout(timer);
      resolve({ messages, closeCode: code });
    });
  });
}

beforeAll(async () => {
  service = await startService({ env: { WORKER_CONCURRENCY: '1' } });
  workers.push(...(await Promise.all([service.startWorker('worker-1'), service.startWorker('worker-2')])));
});

afterAll(async () => {
  await service?.stop();
});

describe('Unroll end to end', () => {
  it('uploads a corpus, trains on two workers, streams every epoch once and in order, serves matching weights', async () => {
    onTestFailed(() => console.error(`--- process output ---\n${service.group.logs()}`));

    const dataset = await json<{ id: string; kind: string }>(
      await service.request('/v1/datasets?name=hamlet', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: CORPUS }),
      201,
    );
    expect(dataset.kind).toBe('text');

    const request = {
      datasetId: dataset.id,
      task: 'lm',
      model: { hiddenSize: 16 },
      training: { epochs: 3, batchSize: 4, bptt: { mode: 'truncated', k1: 10, k2: 10 }, optimizer: { name: 'adam', lr: 0.01 }, seed: 1 },
    };
    // Two jobs back to back: each worker (concurrency 1) takes one.
    const jobs = await Promise.all(
      [1, 2].map(async (seed) =>
        json<{ id: string; status: string }>(
          await service.request('/v1/jobs', {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ ...request, training: { ...request.training, seed } }),
          }),
          202,
        ),
      ),
    );
    for (const job of jobs) expect(job.status).toBe('queued');

    const streams = await Promise.all(jobs.map((job) => followEvents(job.id)));
    for (const { messages, closeCode } of streams) {
      expect(closeCode).toBe(1000);
      const ids = messages.map((m) => m.id);
      expect([...new Set(ids)]).toEqual(ids); // no duplicates
      expect(epochsOf(messages)).toEqual([1, 2, 3]); // every epoch exactly once, in order
      expect(statusesOf(messages)).toEqual(['queued', 'running', 'succeeded']);
      expect(messages.at(-2)?.event).toMatchObject({ type: 'completed', weights: { safetensors: expect.stringContaining('/weights') } });
    }
    // Both worker processes trained (the queue is shared, nothing is process-local).
    for (const w of workers) await w.waitForLine(/job succeeded/, 5_000);

    const [job] = jobs;
    const finished = await json<{ status: string; metrics: { epoch: number } }>(await service.request(`/v1/jobs/${job.id}`), 200);
    expect(finished.status).toBe('succeeded');
    expect(finished.metrics.epoch).toBe(3);

    const weightsRes = await service.request(`/v1/jobs/${job.id}/weights`);
    expect(weightsRes.status).toBe(200);
    const model = RnnModel.fromSafetensors(new Uint8Array(await weightsRes.arrayBuffer()));
    expect(model.task).toBe('lm');
    expect(model.spec.hiddenSize).toBe(16);

    const inputs = [[0, 1, 2, 3, 4, 5], [5, 4, 3]];
    const served = await json<{ outputs: number[][][] }>(
      await service.request(`/v1/jobs/${job.id}/predict`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ inputs }) }),
      200,
    );
    const O = model.spec.outputSize;
    inputs.forEach((sequence, s) => {
      const local = model.predict(Int32Array.from(sequence));
      expect(served.outputs[s]).toHaveLength(sequence.length);
      for (let t = 0; t < sequence.length; t++) {
        const expected = Array.from(local.outputs.subarray(t * O, (t + 1) * O));
        served.outputs[s][t].forEach((p, o) => expect(p).toBeCloseTo(expected[o], 6));
      }
    });
  });
});
