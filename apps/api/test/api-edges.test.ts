// Issue #11 item 8, the smaller API defects, on a real app and a real Redis: one answer for a
// malformed job id over HTTP and WebSocket, a `time` on every event, and early stopping refused
// where it could never act.
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { JobEvent } from '@unroll/protocol';
import { createJob, startTestApp, uploadText, type TestApp } from './helpers.ts';

let t: TestApp;
let datasetId: string;
let wsBase: string;
beforeAll(async () => {
  t = await startTestApp();
  datasetId = await uploadText(t);
  await t.app.listen({ port: 0, host: '127.0.0.1' });
  wsBase = `ws://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
});
afterAll(async () => t?.close());

/** The HTTP status a real WebSocket handshake gets (101 when it upgrades). */
function upgradeStatus(path: string): Promise<number> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${wsBase}${path}`, { headers: t.auth() });
    ws.on('unexpected-response', (_req, res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    ws.on('open', () => {
      ws.terminate();
      resolve(101);
    });
    ws.on('error', () => {});
  });
}

describe('API edges (issue #11 item 8)', () => {
  it('a malformed job id is 400 on every route, over HTTP and WebSocket; a well-formed unknown one is 404', async () => {
    for (const path of ['/v1/jobs/not-a-job', '/v1/jobs/not-a-job/events', '/v1/jobs/not-a-job/weights', '/v1/jobs/not-a-job/checkpoints']) {
      const res = await t.app.inject({ method: 'GET', url: path, headers: t.auth() });
      expect(res.statusCode, path).toBe(400);
      expect(res.json().error).toMatchObject({ code: 'invalid_request', param: 'id' });
    }
    expect(await upgradeStatus('/v1/jobs/not-a-job/events')).toBe(400);
    expect(await upgradeStatus('/v1/jobs/job_0000000000000000/events')).toBe(404);
    expect((await t.app.inject({ method: 'GET', url: '/v1/jobs/job_0000000000000000/events', headers: t.auth() })).statusCode).toBe(404);
    // A malformed resume point is refused before the upgrade too.
    const job = (await createJob(t, { datasetId, task: 'lm' })).json();
    expect(await upgradeStatus(`/v1/jobs/${job.id}/events?after=yesterday`)).toBe(400);
    expect(await upgradeStatus(`/v1/jobs/${job.id}/events`)).toBe(101);
  });

  it('every event carries the time it was written', async () => {
    const job = (await createJob(t, { datasetId, task: 'lm', training: { epochs: 1 } })).json();
    const fence = await t.app.jobs.claimAttempt(job.id);
    await t.app.jobs.transition(job.id, 'running', { fence });
    await t.app.events.append(job.id, { type: 'progress', epoch: 0, step: 1, stepsInEpoch: 2, loss: 3, tokensPerSec: 10 }, { fence });
    await t.app.events.append(
      job.id,
      {
        type: 'epoch', epoch: 1, trainLoss: 2, gradNormPreClip: 1, gradNormPostClip: 1, clipRate: 0, paramGradNorms: {}, paramNorms: {},
        timeProfile: [], whhSpectralNorm: 1, saturation: 0, tokensPerSec: 1, lr: 0.001, etaSeconds: 0,
      },
      { fence },
    );
    await t.app.events.append(job.id, { type: 'checkpoint', epoch: 1 }, { fence });
    await t.app.jobs.transition(job.id, 'succeeded', {
      fence,
      event: { type: 'completed', weights: { safetensors: 'a', json: 'b' }, bestEpoch: null, finalLoss: 2 },
    });
    const before = Date.now();
    const page = (await t.app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/events`, headers: t.auth() })).json();
    const types = page.items.map((m: { event: JobEvent }) => m.event.type);
    expect(types).toEqual(['status', 'status', 'progress', 'epoch', 'checkpoint', 'completed', 'status']);
    for (const { event } of page.items as { event: JobEvent }[]) {
      expect(typeof event.at, event.type).toBe('string');
      const at = Date.parse(event.at!);
      expect(at).toBeGreaterThan(before - 60_000);
      expect(at).toBeLessThanOrEqual(before);
    }
    // The job record's progress says when too.
    expect((await t.app.jobs.get(job.id))!.progress?.at).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it('checkpoint retention is part of the spec; a checkpoint the job does not keep is 404 checkpoint_not_found, one not reached yet 409', async () => {
    const created = (await createJob(t, { datasetId, task: 'lm', training: { epochs: 5 } })).json();
    expect(created.spec.training.checkpoints).toEqual({ keep: 3 });
    expect((await createJob(t, { datasetId, task: 'lm', training: { checkpoints: { keep: 'all' } } })).json().spec.training.checkpoints).toEqual({ keep: 'all' });
    const bad = await createJob(t, { datasetId, task: 'lm', training: { checkpoints: { keep: 0 } } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.param).toBe('training.checkpoints.keep');

    // Epochs 1..3 done; with keep 2 only epochs 2 and 3 would be stored (none here: the answer
    // for a missing one depends only on where the job is).
    const job = (await createJob(t, { datasetId, task: 'lm', training: { epochs: 5, checkpoints: { keep: 2 } } })).json();
    const fence = await t.app.jobs.claimAttempt(job.id);
    await t.app.jobs.transition(job.id, 'running', { fence });
    for (let epoch = 1; epoch <= 3; epoch++) {
      await t.app.events.append(
        job.id,
        {
          type: 'epoch', epoch, trainLoss: 2, gradNormPreClip: 1, gradNormPostClip: 1, clipRate: 0, paramGradNorms: {}, paramNorms: {},
          timeProfile: [], whhSpectralNorm: 1, saturation: 0, tokensPerSec: 1, lr: 0.001, etaSeconds: 0,
        },
        { fence },
      );
    }
    const weights = (checkpoint: string) => t.app.inject({ method: 'GET', url: `/v1/jobs/${job.id}/weights?checkpoint=${checkpoint}`, headers: t.auth() });
    const pruned = await weights('1');
    expect(pruned.statusCode).toBe(404);
    expect(pruned.json().error).toMatchObject({ code: 'checkpoint_not_found', param: 'checkpoint' });
    expect(pruned.json().error.message).toMatch(/keeps the newest 2/);
    const beyond = await weights('9');
    expect(beyond.statusCode).toBe(404);
    expect(beyond.json().error.code).toBe('checkpoint_not_found');
    const future = await weights('4');
    expect(future.statusCode).toBe(409);
    expect(future.json().error.code).toBe('not_ready');
  });

  it('early stopping with validationSplit 0 is refused: it could never act', async () => {
    const res = await createJob(t, { datasetId, task: 'lm', training: { validationSplit: 0, earlyStopping: { patience: 2 } } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'invalid_request', param: 'training.earlyStopping' });
    expect((await createJob(t, { datasetId, task: 'lm', training: { validationSplit: 0 } })).statusCode).toBe(202);
  });
});
