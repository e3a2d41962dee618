// @unroll/client against the real service: API and worker processes on a private Redis.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventMessage } from '@unroll/protocol';
import { RnnModel } from '@unroll/rnn';
import { UnrollApiError, UnrollClient } from '../packages/client/src/index.ts';
import { smallCorpus } from './support/corpora.ts';
import { epochsOf } from './support/jobs.ts';
import { startService, type Service } from './support/service.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

let service: Service;
let client: UnrollClient;
let tmp: string;

beforeAll(async () => {
  service = await startService({ workers: 1 });
  client = new UnrollClient({ baseUrl: service.baseUrl, apiKey: service.apiKey });
  tmp = await mkdtemp(join(tmpdir(), 'unroll-client-'));
});

afterAll(async () => {
  await service?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function collect(iterable: AsyncIterable<EventMessage>, onEach?: (m: EventMessage) => void): Promise<EventMessage[]> {
  const out: EventMessage[] = [];
  for await (const m of iterable) {
    out.push(m);
    onEach?.(m);
  }
  return out;
}

function expectStrictlyIncreasingIds(messages: EventMessage[]): void {
  const key = (id: string) => id.split('-').map(BigInt);
  for (let i = 1; i < messages.length; i++) {
    const [a, b] = [key(messages[i - 1].id), key(messages[i].id)];
    expect(b[0] > a[0] || (b[0] === a[0] && b[1] > a[1]), `${messages[i].id} after ${messages[i - 1].id}`).toBe(true);
  }
}

describe('datasets', () => {
  it('streams a file from its path, naming it and typing it by extension', async () => {
    const path = join(tmp, 'corpus.txt');
    await writeFile(path, smallCorpus());
    const ds = await client.uploadDataset(path);
    expect(ds).toMatchObject({ kind: 'text', name: 'corpus.txt', bytes: smallCorpus().length });
    expect(ds.stats.vocabularySize).toBeGreaterThan(10);
    expect(await client.getDataset(ds.id)).toEqual(ds);
    const listed = await client.listDatasets({ limit: 100 });
    expect(listed.items.map((d) => d.id)).toContain(ds.id);
  });

  it('uploads from a Node stream with an explicit content type, and deletes', async () => {
    const ds = await client.uploadDataset(Readable.from([Buffer.from('abc abc abc\n'), Buffer.from('cab cab\n')]), { contentType: 'text/plain', name: 'streamed' });
    expect(ds).toMatchObject({ name: 'streamed', bytes: 20 });
    await client.deleteDataset(ds.id);
    await expect(client.getDataset(ds.id)).rejects.toMatchObject({ status: 404, code: 'not_found' });
  });

  it('surfaces invalid content as UnrollApiError with the line', async () => {
    const path = join(tmp, 'bad.json');
    await writeFile(path, '{"task": "regression",\n "sequences": [oops]}');
    const err = await client.uploadDataset(path).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnrollApiError);
    expect(err).toMatchObject({ status: 400, code: 'invalid_dataset' });
    expect((err as UnrollApiError).line).toBe(2);
  });
});

describe('jobs', () => {
  it('rejects a bad request naming the field', async () => {
    const err = await client.createJob({ inline: { format: 'text', content: 'abc' }, task: 'lm', training: { epochs: 100_000 } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnrollApiError);
    expect(err).toMatchObject({ status: 400, code: 'invalid_request', param: 'training.epochs' });
  });

  it('rejects a wrong key with 401 unauthorized, REST and WebSocket alike', async () => {
    const stranger = new UnrollClient({ baseUrl: service.baseUrl, apiKey: 'not-a-key-at-all' });
    await expect(stranger.listJobs()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    const job = await client.createJob({ inline: { format: 'text', content: smallCorpus(5) }, task: 'lm', model: { hiddenSize: 4 }, training: { epochs: 1 } });
    await expect(collect(stranger.watch(job.id))).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    // Another tenant does not see the job at all, not even its socket.
    const other = new UnrollClient({ baseUrl: service.baseUrl, apiKey: service.otherApiKey });
    await expect(collect(other.watch(job.id))).rejects.toMatchObject({ status: 404, code: 'not_found' });
  });

  it('trains, watches live, downloads weights and checkpoints, predicts and samples', async () => {
    const ds = await client.uploadDataset(Buffer.from(smallCorpus()), { contentType: 'text/plain' });
    const job = await client.createJob({ datasetId: ds.id, task: 'lm', model: { hiddenSize: 12 }, training: { epochs: 3, batchSize: 4, seed: 7 } });
    expect(job).toMatchObject({ status: 'queued', spec: { model: { hiddenSize: 12, activation: 'tanh' }, training: { epochs: 3, batchSize: 4 } } });

    const messages = await collect(client.watch(job.id));
    expect(epochsOf(messages)).toEqual([1, 2, 3]);
    expectStrictlyIncreasingIds(messages);
    expect(messages.at(-1)!.event).toMatchObject({ type: 'status', status: 'succeeded' });
    expect((await client.getJob(job.id)).status).toBe('succeeded');

    // Resuming after an id gives exactly the rest.
    const rest = await collect(client.watch(job.id, { after: messages[1].id }));
    expect(rest.map((m) => m.id)).toEqual(messages.slice(2).map((m) => m.id));

    const bytes = await client.downloadWeights(job.id);
    const model = RnnModel.fromSafetensors(bytes);
    expect(model.spec.hiddenSize).toBe(12);
    const file = join(tmp, 'model.safetensors');
    const saved = await client.saveWeights(job.id, file);
    expect(saved.bytes).toBe(bytes.length);
    expect(Buffer.compare(await readFile(file), Buffer.from(bytes))).toBe(0);
    const json = (await client.weightsJson(job.id, { checkpoint: 'best' })) as Record<string, unknown>;
    expect(Object.keys(json).length).toBeGreaterThan(0);

    const checkpoints = await client.listCheckpoints(job.id);
    expect(checkpoints.map((c) => c.epoch)).toEqual([1, 2, 3]);
    expect((await client.downloadWeights(job.id, { checkpoint: 2 })).length).toBeGreaterThan(0);
    await expect(client.downloadWeights(job.id, { checkpoint: 99 })).rejects.toMatchObject({ status: 404, code: 'checkpoint_not_found' });

    const { outputs } = await client.predict(job.id, { inputs: [[0, 1, 2]] });
    expect(outputs).toHaveLength(1);
    const { text } = await client.sample(job.id, { prime: 'the ', length: 30, seed: 1 });
    expect(text.startsWith('the ')).toBe(true);
    expect(text.length).toBeGreaterThanOrEqual(30);
  });

  it('reconnects by itself after the connection drops, with no gap and no duplicate', async () => {
    const proxy: TcpProxy = await startTcpProxy(Number(new URL(service.baseUrl).port));
    try {
      const viaProxy = new UnrollClient({ baseUrl: proxy.url, apiKey: service.apiKey });
      // Epochs long enough (≈ 0.2 s here) that the job is still running at the second cut: with a
      // tiny job the whole rest of the history can arrive in one burst after the first reconnect,
      // and cutting at epoch 5 then finds nothing left to reconnect for.
      const job = await client.createJob({ inline: { format: 'text', content: smallCorpus(600) }, task: 'lm', model: { hiddenSize: 128 }, training: { epochs: 8, batchSize: 1 } });
      const reconnects: string[] = [];
      let dropped = 0;
      const messages = await collect(
        viaProxy.watch(job.id, { retryDelayMs: 50, onReconnect: ({ reason }) => reconnects.push(reason) }),
        (m) => {
          // Cut the network twice while the job runs.
          if (m.event.type === 'epoch' && (m.event.epoch === 2 || m.event.epoch === 5)) dropped += proxy.dropAll();
        },
      );
      expect(dropped).toBeGreaterThan(0);
      expect(reconnects.length).toBeGreaterThanOrEqual(2);
      expect(epochsOf(messages)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expectStrictlyIncreasingIds(messages);
      expect(new Set(messages.map((m) => m.id)).size).toBe(messages.length);
      expect(messages.at(-1)!.event).toMatchObject({ type: 'status', status: 'succeeded' });
      // Nothing was lost: the same as the whole history over HTTP.
      const history = await client.listEvents(job.id, { limit: 1000 });
      expect(messages.map((m) => m.id)).toEqual(history.items.map((m) => m.id));
    } finally {
      await proxy.close();
    }
  });

  it('cancels a running job; the watch ends with the cancelled status', async () => {
    const job = await client.createJob({ inline: { format: 'text', content: smallCorpus(400) }, task: 'lm', model: { hiddenSize: 32 }, training: { epochs: 500, batchSize: 2 } });
    const seen: EventMessage[] = [];
    for await (const m of client.watch(job.id)) {
      seen.push(m);
      if (m.event.type === 'epoch' || m.event.type === 'progress') {
        if (seen.filter((s) => s.event.type === 'epoch' || s.event.type === 'progress').length === 1) await client.cancelJob(job.id);
      }
    }
    expect(seen.at(-1)!.event).toMatchObject({ type: 'status', status: 'cancelled' });
    expect((await client.getJob(job.id)).status).toBe('cancelled');
    await expect(client.cancelJob(job.id)).resolves.toMatchObject({ status: 'cancelled' });
  });

  it('stops watching when its AbortSignal fires, without an error', async () => {
    const job = await client.createJob({ inline: { format: 'text', content: smallCorpus(400) }, task: 'lm', model: { hiddenSize: 32 }, training: { epochs: 500, batchSize: 2 } });
    const abort = new AbortController();
    const seen = await collect(client.watch(job.id, { signal: abort.signal }), (m) => {
      if (m.event.type === 'status' && m.event.status === 'running') abort.abort();
    });
    expect(seen.at(-1)!.event).toMatchObject({ type: 'status', status: 'running' });
    await client.cancelJob(job.id);
  });

  it('pages through every job with allJobs', async () => {
    const all: string[] = [];
    for await (const j of client.allJobs({ pageSize: 2 })) all.push(j.id);
    expect(all.length).toBeGreaterThanOrEqual(4);
    expect(new Set(all).size).toBe(all.length);
  });

  it('reports an unreachable server as connection_failed', async () => {
    const dead = new UnrollClient({ baseUrl: 'http://127.0.0.1:1', apiKey: 'whatever-key' });
    await expect(dead.listJobs()).rejects.toMatchObject({ status: 0, code: 'connection_failed' });
  });
});
