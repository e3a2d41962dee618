// The SDK's pure parts: error mapping from any response, upload sources, the event queue.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { UnrollApiError } from '../src/errors.ts';
import { EventQueue } from '../src/event-queue.ts';
import { contentTypeForFileName, resolveUploadSource } from '../src/upload-source.ts';
import { canSendKeyAsSubprotocol, messageText } from '../src/websocket.ts';

async function bodyText(body: unknown): Promise<string> {
  return new Response(body as ReadableStream).text();
}

describe('UnrollApiError.fromResponse', () => {
  it('keeps the API error body: status, code, message, param, line, column', async () => {
    const res = new Response(JSON.stringify({ error: { code: 'invalid_dataset', message: 'bad number', param: 'body', line: 3, column: 7 } }), { status: 400 });
    const err = await UnrollApiError.fromResponse(res);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'UnrollApiError', status: 400, code: 'invalid_dataset', message: 'bad number', param: 'body', line: 3, column: 7 });
  });

  it('turns a body that is not the API shape (a proxy page) into http_<status>', async () => {
    const err = await UnrollApiError.fromResponse(new Response('<html>Bad Gateway</html>', { status: 502, statusText: 'Bad Gateway' }));
    expect(err).toMatchObject({ status: 502, code: 'http_502', message: '<html>Bad Gateway</html>' });
    const empty = await UnrollApiError.fromResponse(new Response('', { status: 503, statusText: 'Service Unavailable' }));
    expect(empty).toMatchObject({ code: 'http_503', message: 'Service Unavailable' });
  });
});

describe('upload sources', () => {
  it('types files by extension', () => {
    expect(contentTypeForFileName('a/b/corpus.TXT')).toBe('text/plain');
    expect(contentTypeForFileName('series.csv')).toBe('text/csv');
    expect(contentTypeForFileName('seqs.json')).toBe('application/json');
    expect(contentTypeForFileName('noext')).toBe('text/plain');
    expect(contentTypeForFileName(null)).toBe('text/plain');
  });

  it('streams a file path, a Node stream, bytes and Blobs', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'unroll-client-unit-'));
    try {
      const path = join(dir, 'data.csv');
      await writeFile(path, 'a,b\n1,2\n');
      const file = await resolveUploadSource(path);
      expect(file).toMatchObject({ streamed: true, fileName: 'data.csv' });
      expect(await bodyText(file.body)).toBe('a,b\n1,2\n');

      const stream = await resolveUploadSource(Readable.from([Buffer.from('x'), Buffer.from('y')]));
      expect(stream.streamed).toBe(true);
      expect(await bodyText(stream.body)).toBe('xy');

      expect(await resolveUploadSource(new TextEncoder().encode('abc'))).toMatchObject({ streamed: false, fileName: null });
      expect((await resolveUploadSource(new File(['abc'], 'named.json'))).fileName).toBe('named.json');

      await expect(resolveUploadSource(join(dir, 'missing.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
      await expect(resolveUploadSource(dir)).rejects.toThrow(/is not a file/);
      await expect(resolveUploadSource(42 as never)).rejects.toThrow(TypeError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('EventQueue', () => {
  it('hands items over in order, then null after end, and fails after buffered items', async () => {
    const q = new EventQueue<number>();
    const first = q.next();
    q.push(1);
    q.push(2);
    expect(await first).toBe(1);
    expect(await q.next()).toBe(2);
    q.push(3);
    q.fail(new Error('boom'));
    expect(await q.next()).toBe(3);
    await expect(q.next()).rejects.toThrow('boom');
    const ended = new EventQueue<number>();
    ended.end();
    expect(await ended.next()).toBeNull();
  });
});

describe('WebSocket helpers', () => {
  it('decodes text from strings, Buffers and ArrayBuffers', () => {
    expect(messageText('a')).toBe('a');
    expect(messageText(Buffer.from('b'))).toBe('b');
    expect(messageText(new TextEncoder().encode('c').buffer)).toBe('c');
    expect(messageText([Buffer.from('d'), Buffer.from('e')])).toBe('de');
  });

  it('sends the key as a subprotocol only when it is a valid token', () => {
    expect(canSendKeyAsSubprotocol('key-acme_0123.x')).toBe(true);
    expect(canSendKeyAsSubprotocol('has space')).toBe(false);
    expect(canSendKeyAsSubprotocol('a,b')).toBe(false);
  });
});
