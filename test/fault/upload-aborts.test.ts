// Issue 11 item 2 on real processes (API process, private redis-server, raw TCP sockets): uploads
// whose clients disconnect mid-body release their file descriptor and temp file at once, so the
// API keeps serving uploads; after an API SIGKILL mid-upload, the startup sweep and the periodic
// sweep remove temp files and blobs that no record references once they are older than the grace
// period, and never touch a referenced blob or anything younger than the grace.
import { connect as tcpConnect } from 'node:net';
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startService, type Service } from '../support/service.ts';

/** Every file under `dir`, relative to it ('/'-separated). */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const full = join(d, e.name);
      if (e.isDirectory()) await walk(full);
      else out.push(relative(dir, full));
    }
  };
  await walk(dir);
  return out.sort();
}

const isTemp = (path: string) => /(^|\/)\.[^/]*\.tmp-[0-9a-f]+$/.test(path);
const fdCount = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;

async function until(predicate: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * Sends an upload's headers (announcing `declaredBytes`) and `sentBytes` of its body over a raw
 * socket; resolves once they were handed to the kernel and the server had `settleMs` to read them.
 * The caller destroys the socket (the client "disconnects mid-body").
 */
async function partialUpload(port: number, apiKey: string, declaredBytes: number, sentBytes: number, settleMs: number) {
  const socket = tcpConnect(port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const head =
    `POST /v1/datasets HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${apiKey}\r\n` +
    `Content-Type: text/plain\r\nContent-Length: ${declaredBytes}\r\n\r\n`;
  await new Promise<void>((resolve) => socket.write(Buffer.concat([Buffer.from(head), Buffer.alloc(sentBytes, 'a')]), () => resolve()));
  await sleep(settleMs);
  return socket;
}

describe('aborted uploads (real API process)', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startService({ env: { LOG_LEVEL: 'warn' } });
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('1 000 uploads cut mid-body release their fds and temp files at once; the next upload succeeds', async () => {
    onTestFailed(() => console.error(service.group.logs().slice(-5000)));
    const port = Number(new URL(service.baseUrl).port);
    const pid = service.api.child.pid!;
    const blobsDir = join(service.dataDir, 'blobs');
    await service.uploadCorpus(); // warms the route (and the test's keep-alive connection)
    const fdsBefore = fdCount(pid);
    const filesBefore = await filesUnder(blobsDir);

    const total = 1000;
    const batch = 50;
    let maxFds = fdsBefore;
    for (let i = 0; i < total; i += batch) {
      const sockets = await Promise.all(Array.from({ length: batch }, () => partialUpload(port, service.apiKey, 1_000_000, 16 * 1024, 0)));
      await sleep(30); // the server has read the first chunk and opened its temp file
      maxFds = Math.max(maxFds, fdCount(pid));
      for (const s of sockets) s.destroy();
    }
    // Released "at once": within a short settle, not by some later timeout.
    const cutAt = Date.now();
    let fdsAfter = fdCount(pid);
    let filesAfter = await filesUnder(blobsDir);
    await until(
      async () => (fdsAfter = fdCount(pid)) <= fdsBefore + 5 && (filesAfter = await filesUnder(blobsDir)).length === filesBefore.length,
      5000,
      'fds and files back to their level',
    ).catch(() => {});
    const settledMs = Date.now() - cutAt;
    const temps = filesAfter.filter(isTemp);
    console.info(`[figures] upload aborts: ${total} uploads cut after 16 KiB of 1 MB: API fds ${fdsBefore} → max ${maxFds} → ${fdsAfter} (${settledMs} ms after the last cut); temp files left ${temps.length}; blob files ${filesBefore.length} → ${filesAfter.length}`);
    expect(fdsAfter).toBeLessThanOrEqual(fdsBefore + 5);
    expect(temps).toEqual([]);
    expect(filesAfter).toEqual(filesBefore);

    // The API still serves uploads.
    const res = await fetch(`${service.baseUrl}/v1/datasets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${service.apiKey}`, 'content-type': 'text/plain' },
      body: 'the next upload after the storm '.repeat(20),
    });
    expect(res.status).toBe(201);
  });

  it('an upload that fails to parse leaves no temp file, no staged upload and no blob', async () => {
    // The parse-error path: the staged upload is removed with the answer.
    const blobsDir = join(service.dataDir, 'blobs');
    const before = await filesUnder(blobsDir);
    const bad = await fetch(`${service.baseUrl}/v1/datasets`, {
      method: 'POST',
      headers: { authorization: `Bearer ${service.apiKey}`, 'content-type': 'application/json' },
      body: '{"sequences": [',
    });
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe('invalid_dataset');
    expect(await filesUnder(blobsDir)).toEqual(before);
  });
});

describe('orphan sweep after an API SIGKILL mid-upload (real API process)', () => {
  let service: Service;
  beforeAll(async () => {
    service = await startService({ env: { LOG_LEVEL: 'info' } });
  });
  afterAll(async () => {
    await service?.stop();
  });

  it('the startup sweep removes old orphans, the periodic sweep the rest once past the grace; referenced and young blobs stay', async () => {
    onTestFailed(() => console.error(service.group.logs().slice(-8000)));
    const port = Number(new URL(service.baseUrl).port);
    const blobsDir = join(service.dataDir, 'blobs');
    const referencedDataset = await service.uploadCorpus();
    const jobId = await service.createJob({ datasetId: referencedDataset, task: 'lm' });

    // The API dies while an upload streams in: its temp file stays.
    const socket = await partialUpload(port, service.apiKey, 50_000_000, 4 * 1024 * 1024, 0);
    await until(async () => (await filesUnder(blobsDir)).some(isTemp), 10_000, 'the upload temp file');
    service.api.child.kill('SIGKILL');
    await service.api.exited;
    socket.destroy();
    const killedTemps = (await filesUnder(blobsDir)).filter(isTemp);
    expect(killedTemps.length).toBe(1);

    // What other crashes leave: a blob stored with no record (killed while parsing), a staged
    // upload, a deleted job's artifacts; and what must stay: blobs that records reference.
    const plant = async (key: string) => {
      const path = join(blobsDir, ...key.split('/'));
      await mkdir(join(path, '..'), { recursive: true });
      await writeFile(path, 'x'.repeat(1000));
      return path;
    };
    const hourAgo = new Date(Date.now() - 3600_000);
    const old = [
      'datasets/ds_orphanoldorphanold01',
      'uploads/ds_orphanoldorphanold02',
      'jobs/job_orphanoldorphanold03/checkpoints/epoch-1.ckpt',
      'datasets/.ds_orphanoldorphanold04.tmp-0123456789ab',
    ];
    const referenced = [`datasets/${referencedDataset}`, `jobs/${jobId}/checkpoints/epoch-1.ckpt`];
    for (const key of old) await plant(key);
    await plant(referenced[1]);
    for (const key of [...old, ...referenced]) await utimes(join(blobsDir, ...key.split('/')), hourAgo, hourAgo);
    for (const t of killedTemps) await utimes(join(blobsDir, t), hourAgo, hourAgo);

    const graceMs = 8000;
    const young = 'datasets/ds_younggyounggyoungg05';
    await plant(young);
    await service.restartApi('api-2', { ORPHAN_SWEEP_GRACE_MS: String(graceMs), ORPHAN_SWEEP_INTERVAL_MS: '500' });
    await service.api.waitForLine(/orphan sweep/, 10_000);

    // Startup: old orphans (and the killed upload's temp file) are gone; referenced and young stay.
    const afterStart = await filesUnder(blobsDir);
    for (const key of [...old, ...killedTemps]) expect(afterStart).not.toContain(key);
    for (const key of [...referenced, young]) expect(afterStart).toContain(key);

    // Periodic: once older than the grace, the young orphan goes too; the referenced never.
    const youngPath = join(blobsDir, ...young.split('/'));
    const youngAge = Date.now() - (await stat(youngPath)).mtimeMs;
    await until(async () => !(await filesUnder(blobsDir)).includes(young), graceMs + 5000, 'the young orphan to be swept');
    expect(youngAge).toBeLessThan(graceMs); // it really was kept for being young, not by chance
    const final = await filesUnder(blobsDir);
    for (const key of referenced) expect(final).toContain(key);
    expect(final.filter(isTemp)).toEqual([]);

    // The referenced dataset still trains and reads.
    const get = await fetch(`${service.baseUrl}/v1/datasets/${referencedDataset}`, { headers: { authorization: `Bearer ${service.apiKey}` } });
    expect(get.status).toBe(200);
    console.info(`[figures] orphan sweep: SIGKILL mid-upload left ${killedTemps.length} temp file; startup sweep removed ${old.length + killedTemps.length} old orphans, kept ${referenced.length} referenced + 1 young; the young one went within grace ${graceMs} ms + interval`);
  });
});
