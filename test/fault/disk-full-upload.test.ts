// A full disk during an upload (issue #11: "bad input and faults get a clear error and never
// corrupt anything stored"), on a real API process whose blob store is a 2 MiB tmpfs: the upload
// that does not fit is 507 insufficient_storage in our envelope (was 500 internal), leaves no
// temp file, the dataset already stored stays intact, and after a delete the next upload fits.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startService, type Service } from '../support/service.ts';

const blobDir = (s: Service) => join(s.dataDir, 'blobs');
let service: Service;
let mounted = false;

function canMount(dir: string): boolean {
  if (process.platform !== 'linux') return false;
  mkdirSync(dir, { recursive: true });
  return spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', dir]).status === 0;
}

beforeAll(async () => {
  service = await startService();
  mounted = canMount(blobDir(service));
  if (!mounted) console.warn('[skip] disk-full upload: this process may not mount a tmpfs');
});
afterAll(async () => {
  if (mounted) spawnSync('umount', ['-l', blobDir(service)]);
  await service?.stop();
});

/** Every file under the blob store, temp files and staged uploads included. */
function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath, d.name));
}

describe('disk full during an upload', () => {
  it('is 507 insufficient_storage, leaves nothing behind and corrupts nothing', async (ctx) => {
    if (!mounted) return ctx.skip();
    onTestFailed(() => console.error(service.group.logs().slice(-4000)));
    const text = 'to be or not to be, that is the question. '.repeat(36_000); // 1.5 MB
    const first = await service.uploadCorpus(text);
    const before = files(blobDir(service));

    const res = await service.request('/v1/datasets', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: text });
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(res.status, JSON.stringify(body)).toBe(507);
    expect(body.error.code).toBe('insufficient_storage');
    expect(body.error.message).toMatch(/storage is full/);
    expect(files(blobDir(service)), 'temp or staged files left').toEqual(before);
    expect((await service.request(`/v1/datasets/${first}`)).status).toBe(200);

    expect((await service.request(`/v1/datasets/${first}`, { method: 'DELETE' })).status).toBe(204);
    expect(await service.uploadCorpus(text)).toMatch(/^ds_/);
  });
});
