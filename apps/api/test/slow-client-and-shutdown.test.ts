import { connect as tcpConnect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { EpochEvent } from '@unroll/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, uploadText, createJob, KEYS, type TestApp } from './helpers.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({}, { wsMaxBufferedBytes: 64 * 1024 });
});
afterAll(async () => t?.close());

async function runningJob() {
  const datasetId = await uploadText(t);
  const job = (await createJob(t, { datasetId, task: 'lm' })).json();
  const fence = await t.app.jobs.claimAttempt(job.id);
  await t.app.jobs.transition(job.id, 'running', { fence });
  return { id: job.id as string, fence };
}

/** A real WebSocket handshake over TCP; the returned socket is paused (the client never reads). */
async function rawUpgrade(port: number, path: string): Promise<{ socket: Socket; leftover: Buffer }> {
  const socket = tcpConnect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.write(
    `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
      `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nAuthorization: Bearer ${KEYS.acme}\r\n\r\n`,
  );
  const first = await new Promise<Buffer>((r) => socket.once('data', r));
  socket.pause();
  const end = first.indexOf('\r\n\r\n');
  expect(first.subarray(0, end).toString()).toContain('101 Switching Protocols');
  return { socket, leftover: first.subarray(end + 4) };
}

function epochEvent(epoch: number): EpochEvent {
  return {
    type: 'epoch', epoch, trainLoss: 1, gradNormPreClip: 1, gradNormPostClip: 1, clipRate: 0, paramGradNorms: {}, paramNorms: {},
    timeProfile: [], whhSpectralNorm: 1, saturation: 0, tokensPerSec: 1, lr: 0.1, etaSeconds: 0,
  };
}

/** Walks server→client WebSocket frames (unmasked) and returns the close frame's code, if any. */
function closeCodeIn(data: Buffer): number | null {
  let at = 0;
  while (at + 2 <= data.length) {
    const opcode = data[at] & 0x0f;
    let length = data[at + 1] & 0x7f;
    let header = 2;
    if (length === 126) {
      length = data.readUInt16BE(at + 2);
      header = 4;
    } else if (length === 127) {
      length = Number(data.readBigUInt64BE(at + 2));
      header = 10;
    }
    if (opcode === 0x8) return data.readUInt16BE(at + header);
    at += header + length;
  }
  return null;
}

async function waitFor(predicate: () => boolean, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
}

describe('slow WebSocket clients', () => {
  it('are dropped once their buffer passes the limit, releasing the reader', async () => {
    const address = await t.app.listen({ port: 0, host: '127.0.0.1' });
    const port = Number(new URL(address).port);
    const { id, fence } = await runningJob();
    const { socket, leftover } = await rawUpgrade(port, `/v1/jobs/${id}/events`);
    let closed = false;
    const received: Buffer[] = [leftover];
    socket.on('data', (d) => received.push(d));
    socket.on('close', () => (closed = true));
    socket.on('error', () => {});
    await waitFor(() => t.app.eventHub.activeReaders === 1, 2000);
    expect(t.app.eventHub.activeReaders).toBe(1);
    // Up to ~40 MB of events for a client that reads nothing: kernel buffers fill, then ws buffers.
    const timeProfile = Array.from({ length: 5000 }, (_, i) => i / 7);
    let sent = 0;
    for (let epoch = 1; epoch <= 400 && t.app.eventHub.activeReaders > 0; epoch++) {
      await t.app.events.append(id, { ...epochEvent(epoch), timeProfile }, { fence });
      sent++;
      if (epoch % 20 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(sent).toBeLessThan(400);
    await waitFor(() => t.app.eventHub.activeReaders === 0, 5000);
    expect(t.app.eventHub.activeReaders).toBe(0);
    // Now read what was queued: the server has cut the connection (close frame 1013, then terminate).
    socket.resume();
    await waitFor(() => closed, 5000);
    expect(closed).toBe(true);
    expect(closeCodeIn(Buffer.concat(received))).toBe(1013);
  });
});

describe('graceful shutdown', () => {
  it('app.close() closes WebSocket clients and stops the readers', async () => {
    const fresh = await startTestApp();
    const datasetId = await uploadText(fresh);
    const job = (await createJob(fresh, { datasetId, task: 'lm' })).json();
    let closeCode = 0;
    const ws = await fresh.app.injectWS(`/v1/jobs/${job.id}/events`, { headers: fresh.auth() });
    ws.on('close', (code) => (closeCode = code));
    await waitFor(() => fresh.app.eventHub.activeReaders === 1, 2000);
    expect(fresh.app.eventHub.activeReaders).toBe(1);
    const started = Date.now();
    await fresh.close();
    expect(Date.now() - started).toBeLessThan(5000);
    await waitFor(() => closeCode !== 0, 2000);
    expect(closeCode).toBeGreaterThanOrEqual(1000);
    expect(fresh.app.eventHub.activeReaders).toBe(0);
  });
});
