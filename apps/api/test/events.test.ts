import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EpochEvent, EventMessage } from '@unroll/protocol';
import { startTestApp, uploadText, createJob, KEYS, type TestApp } from './helpers.ts';

let t: TestApp;
let datasetId: string;
beforeAll(async () => {
  t = await startTestApp();
  datasetId = await uploadText(t);
});
afterAll(async () => t?.close());

function epochEvent(epoch: number): EpochEvent {
  return {
    type: 'epoch', epoch, trainLoss: 3 / epoch, gradNormPreClip: 1, gradNormPostClip: 1, clipRate: 0, paramGradNorms: { Whh: 0.1 },
    paramNorms: { Whh: 2 }, timeProfile: [1, 0.5], whhSpectralNorm: 1, saturation: 0.05, tokensPerSec: 1000, lr: 0.001, etaSeconds: 1,
  };
}

async function newRunningJob() {
  const job = (await createJob(t, { datasetId, task: 'lm' })).json();
  const fence = await t.app.jobs.claimAttempt(job.id);
  await t.app.jobs.transition(job.id, 'running', { fence });
  return { id: job.id as string, fence };
}

/** A WebSocket client that records every message and its close code. */
async function connect(url: string, headers: Record<string, string> = t.auth()) {
  const messages: EventMessage[] = [];
  let closed: { code: number; reason: string } | null = null;
  const waiters: (() => void)[] = [];
  const ws = await t.app.injectWS(url, { headers }, {
    onInit(socket) {
      socket.on('message', (data) => {
        messages.push(JSON.parse(String(data)));
        waiters.splice(0).forEach((w) => w());
      });
      socket.on('close', (code, reason) => {
        closed = { code, reason: String(reason) };
        waiters.splice(0).forEach((w) => w());
      });
    },
  });
  const until = async (predicate: () => boolean, ms = 5000) => {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(messages.map((m) => m.event.type))}`);
      await new Promise<void>((r) => {
        waiters.push(r);
        setTimeout(r, 50);
      });
    }
  };
  return { ws, messages, until, closed: () => closed };
}

/** Performs a real WebSocket handshake against a listening app; returns the selected subprotocol. */
async function handshakeProtocol(path: string, protocols: string): Promise<string | undefined> {
  const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
  return new Promise((resolve, reject) => {
    const req = request(`${address}${path}`, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        'sec-websocket-protocol': protocols,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.headers['sec-websocket-protocol'] as string | undefined);
    });
    req.on('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.on('error', reject);
    req.end();
  });
}

describe('GET /v1/jobs/:id/events over HTTP', () => {
  it('pages the history with after / limit', async () => {
    const { id, fence } = await newRunningJob();
    for (let e = 1; e <= 3; e++) await t.app.events.append(id, epochEvent(e), { fence });
    const all = (await t.app.inject({ url: `/v1/jobs/${id}/events`, headers: t.auth() })).json();
    expect(all.items.map((m: EventMessage) => m.event.type)).toEqual(['status', 'status', 'epoch', 'epoch', 'epoch']);
    const first = (await t.app.inject({ url: `/v1/jobs/${id}/events?limit=2`, headers: t.auth() })).json();
    expect(first.items).toEqual(all.items.slice(0, 2));
    const rest = (await t.app.inject({ url: `/v1/jobs/${id}/events?after=${first.nextAfter}`, headers: t.auth() })).json();
    expect(rest.items).toEqual(all.items.slice(2));
    const bad = await t.app.inject({ url: `/v1/jobs/${id}/events?after=nope`, headers: t.auth() });
    expect(bad.json().error).toMatchObject({ code: 'invalid_request', param: 'after' });
  });

  it('ends: the last page of a finished job has nextAfter null; a running job\'s page keeps its last id', async () => {
    const { id, fence } = await newRunningJob();
    for (let e = 1; e <= 3; e++) await t.app.events.append(id, epochEvent(e), { fence });
    const running = (await t.app.inject({ url: `/v1/jobs/${id}/events?limit=100`, headers: t.auth() })).json();
    expect(running.nextAfter).toBe(running.items.at(-1).id); // more may come
    await t.app.jobs.transition(id, 'failed', { fence, error: { code: 'test', message: 'done' } });
    // Follow nextAfter as a client would, two events a page: it must stop, not repeat the last id.
    const pages: { items: EventMessage[]; nextAfter: string | null }[] = [];
    let after: string | null | undefined;
    do {
      const page = (await t.app.inject({ url: `/v1/jobs/${id}/events?limit=2${after ? `&after=${after}` : ''}`, headers: t.auth() })).json();
      pages.push(page);
      after = page.nextAfter;
    } while (after !== null && pages.length < 10);
    expect(pages.length).toBeLessThan(10);
    expect(pages.at(-1)!.nextAfter).toBeNull();
    const items = pages.flatMap((p) => p.items);
    expect(items.map((m) => m.event.type)).toEqual(['status', 'status', 'epoch', 'epoch', 'epoch', 'status']);
    // Asked after the end of a finished job: empty and null.
    const beyond = (await t.app.inject({ url: `/v1/jobs/${id}/events?after=${items.at(-1)!.id}`, headers: t.auth() })).json();
    expect(beyond).toEqual({ items: [], nextAfter: null });
  });
});

describe('GET /v1/jobs/:id/events over WebSocket', () => {
  it('sends the history, then live events, and closes with 1000 after the terminal event', async () => {
    const { id, fence } = await newRunningJob();
    await t.app.events.append(id, epochEvent(1), { fence });
    const client = await connect(`/v1/jobs/${id}/events`);
    await client.until(() => client.messages.length === 3);
    expect(client.messages.map((m) => m.event.type)).toEqual(['status', 'status', 'epoch']);
    // Live: appended while the client is connected.
    await t.app.events.append(id, epochEvent(2), { fence });
    await t.app.events.append(id, { type: 'checkpoint', epoch: 2 }, { fence });
    await client.until(() => client.messages.length === 5);
    expect(client.messages.slice(3).map((m) => m.event)).toEqual([
      { ...epochEvent(2), at: expect.any(String) },
      { type: 'checkpoint', epoch: 2, at: expect.any(String) },
    ]);
    await t.app.jobs.transition(id, 'succeeded', {
      fence,
      event: { type: 'completed', weights: { safetensors: 's', json: 'j' }, bestEpoch: 2, finalLoss: 1.5 },
    });
    await client.until(() => client.closed() !== null);
    expect(client.closed()?.code).toBe(1000);
    expect(client.messages.slice(5).map((m) => m.event.type)).toEqual(['completed', 'status']);
    // Ids strictly increase: no duplicates.
    const ids = client.messages.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
    const http = (await t.app.inject({ url: `/v1/jobs/${id}/events?limit=1000`, headers: t.auth() })).json();
    expect(client.messages).toEqual(http.items);
  });

  it('resumes with ?after= without gap or duplicate', async () => {
    const { id, fence } = await newRunningJob();
    for (let e = 1; e <= 3; e++) await t.app.events.append(id, epochEvent(e), { fence });
    const first = await connect(`/v1/jobs/${id}/events`);
    await first.until(() => first.messages.length === 5);
    const resumeFrom = first.messages[2].id;
    first.ws.terminate();
    // Appended while nobody listens.
    await t.app.events.append(id, epochEvent(4), { fence });
    const second = await connect(`/v1/jobs/${id}/events?after=${resumeFrom}`);
    await second.until(() => second.messages.length === 3);
    await t.app.events.append(id, epochEvent(5), { fence });
    await second.until(() => second.messages.length === 4);
    const epochs = second.messages.map((m) => (m.event as EpochEvent).epoch);
    expect(epochs).toEqual([2, 3, 4, 5]);
    second.ws.terminate();
  });

  it('two clients on one job share one Redis reader; it stops when both leave', async () => {
    const { id, fence } = await newRunningJob();
    const startedBefore = t.app.eventHub.readersStarted;
    const a = await connect(`/v1/jobs/${id}/events`);
    const b = await connect(`/v1/jobs/${id}/events`);
    await a.until(() => a.messages.length === 2);
    await b.until(() => b.messages.length === 2);
    expect(t.app.eventHub.readersStarted - startedBefore).toBe(1);
    expect(t.app.eventHub.activeReaders).toBe(1);
    await t.app.events.append(id, epochEvent(1), { fence });
    await a.until(() => a.messages.length === 3);
    await b.until(() => b.messages.length === 3);
    expect(a.messages).toEqual(b.messages);
    a.ws.terminate();
    b.ws.terminate();
    const deadline = Date.now() + 3000;
    while (t.app.eventHub.activeReaders !== 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(t.app.eventHub.activeReaders).toBe(0);
  });

  it('a finished job: history then close 1000, no reader', async () => {
    const job = (await createJob(t, { datasetId, task: 'lm' })).json();
    await t.app.inject({ method: 'POST', url: `/v1/jobs/${job.id}/cancel`, headers: t.auth() });
    const startedBefore = t.app.eventHub.readersStarted;
    const client = await connect(`/v1/jobs/${job.id}/events`);
    await client.until(() => client.closed() !== null);
    expect(client.closed()?.code).toBe(1000);
    expect(client.messages.map((m) => (m.event.type === 'status' ? m.event.status : m.event.type))).toEqual(['queued', 'cancelled']);
    expect(t.app.eventHub.readersStarted).toBe(startedBefore);
  });

  it('authenticates browsers with ?token= or a bearer.<key> subprotocol, and refuses before the upgrade', async () => {
    const { id } = await newRunningJob();
    const viaToken = await connect(`/v1/jobs/${id}/events?token=${KEYS.acme}`, {});
    await viaToken.until(() => viaToken.messages.length === 2);
    viaToken.ws.terminate();
    const viaProtocol = await connect(`/v1/jobs/${id}/events`, { 'sec-websocket-protocol': `unroll.v1, bearer.${KEYS.acme}` });
    await viaProtocol.until(() => viaProtocol.messages.length === 2);
    viaProtocol.ws.terminate();
    // Over a real socket: the server selects unroll.v1 and never echoes the bearer subprotocol.
    expect(await handshakeProtocol(`/v1/jobs/${id}/events`, `unroll.v1, bearer.${KEYS.acme}`)).toBe('unroll.v1');
    await expect(connect(`/v1/jobs/${id}/events`, {})).rejects.toThrow(/401/);
    await expect(connect(`/v1/jobs/${id}/events?token=wrong-key-123`, {})).rejects.toThrow(/401/);
    await expect(connect(`/v1/jobs/${id}/events`, t.auth('other'))).rejects.toThrow(/404/);
  });
});
