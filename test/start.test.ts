// `pnpm start` (scripts/start.ts) as a user runs it: no Redis at REDIS_URL, so it starts a private
// redis-server under DATA_DIR, prints a fresh API key once, runs the API and a worker, and stops
// everything on Ctrl-C.
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, onTestFailed } from 'vitest';
import { freePort } from '@unroll/testing';
import { ProcessGroup, spawnTs } from './support/processes.ts';

const group = new ProcessGroup();
let dataDir: string | undefined;

afterAll(async () => {
  await group.stopAll();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('pnpm start', () => {
  it('starts a private Redis, prints a working API key once, serves, and stops cleanly on SIGINT', async () => {
    onTestFailed(() => console.error(group.logs()));
    dataDir = await mkdtemp(join(tmpdir(), 'unroll-start-'));
    const port = await freePort();
    const unreachable = await freePort(); // nothing listens there
    const start = group.add(
      spawnTs('start', 'scripts/start.ts', {
        env: { REDIS_URL: `redis://127.0.0.1:${unreachable}`, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', UNROLL_API_KEYS: undefined, UNROLL_API_KEYS_FILE: undefined },
      }),
    );
    const [, redisUrl] = await start.waitForLine(/started a private redis-server at (redis:\/\/\S+)/, 30_000);
    expect(redisUrl).not.toBe('redis://127.0.0.1:6379');
    const [, key] = await start.waitForLine(/^\[start\]\s+(unroll_\S+)$/, 30_000);
    await start.waitForLine(/Unroll is up: http:\/\/127\.0\.0\.1:\d+/, 60_000);
    await start.waitForLine(/worker ready/, 30_000);

    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/v1/jobs`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(200);
    expect((await fetch(`${base}/v1/jobs`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect(await readdir(join(dataDir, 'redis'))).toContain('appendonlydir');

    start.child.kill('SIGINT');
    const { code } = await start.exited;
    expect(code).toBe(0);
    expect(start.log()).toMatch(/worker stopped/);
    // The API and the private Redis are gone with it.
    await expect(fetch(`${base}/healthz`)).rejects.toThrow();
    const redisPort = Number(new URL(redisUrl).port);
    const redisAnswers = await new Promise<boolean>((resolve) => {
      const sock = connect(redisPort, '127.0.0.1');
      sock.once('connect', () => (sock.destroy(), resolve(true)));
      sock.once('error', () => resolve(false));
    });
    expect(redisAnswers).toBe(false);
  });
});
