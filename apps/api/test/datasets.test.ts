import { Readable } from 'node:stream';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, uploadText, createJob, type TestApp } from './helpers.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ MAX_UPLOAD_BYTES: String(256 * 1024) });
});
afterAll(async () => t?.close());

function upload(contentType: string, payload: string | Readable, query = '') {
  return t.app.inject({ method: 'POST', url: `/v1/datasets${query}`, headers: { ...t.auth(), 'content-type': contentType }, payload });
}

const JSON_SEQS = JSON.stringify({
  task: 'regression',
  sequences: [
    { inputs: [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]], targets: [[1], [2], [3]] },
    { inputs: [[0.7, 0.8]], targets: [[4]] },
  ],
});
const CSV = 'time,temp,load\n1,10.5,3\n2,11.0,4\n3,11.5,5\n4,12.0,6\n5,12.5,7\n';

/** Every file of the blob store, staged uploads and temp files (`.name.tmp-…`) included. */
async function blobFiles(): Promise<string[]> {
  const entries = await readdir(join(t.config.DATA_DIR, 'blobs'), { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name)).sort();
}

describe('POST /v1/datasets', () => {
  it('text/plain: a character corpus with its vocabulary', async () => {
    const res = await upload('text/plain; charset=utf-8', 'abcabcabd', '?name=tiny');
    expect(res.statusCode, res.body).toBe(201);
    const ds = res.json();
    expect(ds).toMatchObject({ kind: 'text', name: 'tiny', bytes: 9, stats: { length: 9, sequences: 1, vocabularySize: 4 }, csv: null });
    expect(ds.id).toMatch(/^ds_/);
    expect(ds.sha256).toMatch(/^[0-9a-f]{64}$/);
    const got = await t.app.inject({ url: `/v1/datasets/${ds.id}`, headers: t.auth() });
    expect(got.json()).toEqual(ds);
  });

  it('application/json: sequences with feature count', async () => {
    const res = await upload('application/json', JSON_SEQS);
    expect(res.statusCode, res.body).toBe(201);
    expect(res.json().stats).toMatchObject({ length: 4, sequences: 2, featureCount: 2, outputSize: 1, task: 'regression' });
  });

  it('text/csv with target columns, horizon and normalize', async () => {
    const res = await upload('text/csv', CSV, '?targetColumns=temp&horizon=2&normalize=false');
    expect(res.statusCode, res.body).toBe(201);
    const ds = res.json();
    expect(ds.kind).toBe('csv');
    expect(ds.csv).toEqual({ targetColumns: ['temp'], horizon: 2, normalize: false });
    expect(ds.stats).toMatchObject({ length: 3, sequences: 1, featureCount: 3, outputSize: 1 });
  });

  it('names line and column of a bad CSV value, and removes the blob', async () => {
    const before = await blobFiles();
    const res = await upload('text/csv', 'a,b\n1,2\n3,oops\n');
    expect(res.statusCode).toBe(400);
    const { error } = res.json();
    expect(error).toMatchObject({ code: 'invalid_dataset', line: 3, column: 2 });
    expect(await blobFiles()).toEqual(before);
  });

  it('text/plain is decoded from its bytes as the worker does: a leading BOM dropped, ill-formed UTF-8 named by line and column', async () => {
    const send = (payload: Buffer) =>
      t.app.inject({ method: 'POST', url: '/v1/datasets', headers: { ...t.auth(), 'content-type': 'text/plain' }, payload });
    const bom = await send(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('abcab😀', 'utf8')]));
    expect(bom.statusCode, bom.body).toBe(201);
    expect(bom.json().stats).toMatchObject({ length: 6, vocabularySize: 4 });
    const before = await blobFiles();
    const bad = await send(Buffer.concat([Buffer.from('ab\ncd', 'utf8'), Buffer.from([0xc3, 0x28]), Buffer.from('ef', 'utf8')]));
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'invalid_dataset', line: 2, column: 3 });
    expect(bad.json().error.message).toMatch(/invalid UTF-8/);
    expect(await blobFiles()).toEqual(before);
  });

  it('names line and column of a JSON syntax error', async () => {
    const res = await upload('application/json', '{\n  "task": "regression",\n  "sequences": [ }\n');
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toMatchObject({ code: 'invalid_dataset', line: 3 });
    expect(res.json().error.column).toBeGreaterThan(0);
  });

  it('names the field of a JSON shape error', async () => {
    const res = await upload('application/json', JSON.stringify({ task: 'regression', sequences: [{ inputs: [[1, 'x']], targets: [[1]] }] }));
    expect(res.statusCode).toBe(400);
    expect(res.json().error.code).toBe('invalid_dataset');
    expect(res.json().error.param).toMatch(/sequences\[0\]\.inputs/);
  });

  it('rejects an empty corpus and unknown media types', async () => {
    expect((await upload('text/plain', '')).json().error.code).toBe('invalid_dataset');
    const res = await upload('image/png', 'xx');
    expect(res.statusCode).toBe(415);
    expect(res.json().error.code).toBe('unsupported_media_type');
    const csvOnText = await upload('text/plain', 'abc', '?horizon=2');
    expect(csvOnText.statusCode).toBe(400);
    expect(csvOnText.json().error.param).toBe('querystring');
  });

  it('413 for a streamed body past MAX_UPLOAD_BYTES, stopping long before its end', async () => {
    const before = await blobFiles();
    const total = 64 * 1024 * 1024; // 256x the limit
    let produced = 0;
    const body = new Readable({
      read() {
        if (produced >= total) return this.push(null);
        produced += 64 * 1024;
        this.push(Buffer.alloc(64 * 1024, 97));
      },
    });
    const res = await upload('text/plain', body);
    expect(res.statusCode).toBe(413);
    expect(res.json().error.code).toBe('payload_too_large');
    // The limit triggered while streaming: the rest of the body was never read.
    expect(produced).toBeLessThan(4 * 1024 * 1024);
    expect(await blobFiles()).toEqual(before);
  });
});

describe('upload failures leave nothing behind', () => {
  it('a storage error while staging answers our 500 envelope; no temp file, no blob, no record; the next upload works', async () => {
    const before = await blobFiles();
    const listed = (await t.app.inject({ url: '/v1/datasets?limit=100', headers: t.auth() })).json().items.length;
    // The staging folder cannot be created: a file sits where it should be.
    const uploads = join(t.config.DATA_DIR, 'blobs', 'uploads');
    await rm(uploads, { recursive: true, force: true });
    await writeFile(uploads, 'in the way');
    try {
      const res = await upload('text/plain', 'abcabc');
      expect(res.statusCode).toBe(500);
      expect(res.json().error.code).toBe('internal');
      expect((await blobFiles()).filter((f) => !f.endsWith('/uploads'))).toEqual(before.filter((f) => !f.endsWith('/uploads')));
      expect((await t.app.inject({ url: '/v1/datasets?limit=100', headers: t.auth() })).json().items.length).toBe(listed);
    } finally {
      await rm(uploads, { force: true });
    }
    expect((await upload('text/plain', 'abcabc')).statusCode).toBe(201);
  });
});

describe('listing and deleting', () => {
  it('pages newest first with a cursor, tenant-scoped', async () => {
    const fresh = await startTestApp();
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await uploadText(fresh, 'acme', `corpus number ${i}`));
      await uploadText(fresh, 'other', 'not yours');
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res: { json(): unknown; statusCode: number; body: string } = await fresh.app.inject({ url: `/v1/datasets?limit=2${cursor ? `&cursor=${cursor}` : ''}`, headers: fresh.auth() });
        expect(res.statusCode, res.body).toBe(200);
        const page = res.json() as { items: { id: string }[]; nextCursor: string | null };
        expect(page.items.length).toBeLessThanOrEqual(2);
        seen.push(...page.items.map((d: { id: string }) => d.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect([...seen].sort()).toEqual([...ids].sort());
      expect(new Set(seen).size).toBe(5);
      const bad = await fresh.app.inject({ url: '/v1/datasets?cursor=garbage', headers: fresh.auth() });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error.param).toBe('cursor');
    } finally {
      await fresh.close();
    }
  });

  it('DELETE answers 409 dataset_in_use while a job uses it, then deletes record and blob', async () => {
    const id = await uploadText(t);
    const job = await createJob(t, { datasetId: id, task: 'lm' });
    expect(job.statusCode, job.body).toBe(202);
    const inUse = await t.app.inject({ method: 'DELETE', url: `/v1/datasets/${id}`, headers: t.auth() });
    expect(inUse.statusCode).toBe(409);
    expect(inUse.json().error.code).toBe('dataset_in_use');
    const cancel = await t.app.inject({ method: 'POST', url: `/v1/jobs/${job.json().id}/cancel`, headers: t.auth() });
    expect(cancel.statusCode).toBe(200);
    expect(await blobFiles()).toContain(join(t.config.DATA_DIR, 'blobs', 'datasets', id));
    const del = await t.app.inject({ method: 'DELETE', url: `/v1/datasets/${id}`, headers: t.auth() });
    expect(del.statusCode).toBe(204);
    expect(await blobFiles()).not.toContain(join(t.config.DATA_DIR, 'blobs', 'datasets', id));
    expect((await t.app.inject({ url: `/v1/datasets/${id}`, headers: t.auth() })).statusCode).toBe(404);
  });
});
