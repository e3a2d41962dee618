// saveWeights writes through a temp file: a download that breaks off mid-body leaves neither the
// target nor the temp file. Against a real HTTP server that sends part of a body and then drops
// the connection.
import { createServer, type Server } from 'node:http';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnrollClient } from '../src/client.ts';

describe('saveWeights', () => {
  let server: Server;
  let baseUrl: string;
  let dir: string;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '100000' });
      res.write(Buffer.alloc(1000, 7), () => res.socket?.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    dir = await mkdtemp(join(tmpdir(), 'unroll-save-weights-'));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it('a download cut short rejects and leaves no file, partial or temp (repeated)', async () => {
    const client = new UnrollClient({ baseUrl, apiKey: 'test-key-0123456789' });
    for (let i = 0; i < 30; i++) {
      await expect(client.saveWeights('job-1', join(dir, `w${i}.safetensors`))).rejects.toThrow();
    }
    expect(await readdir(dir)).toEqual([]);
  });
});
