import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiKeyRing, assertRedisReachable, ConfigError, ensureDefaultKey, freePortFree, hashApiKey, loadApiKeys, loadConfig, parseApiKeysEnv, parseApiKeysFile } from './helpers.ts';

describe('loadConfig', () => {
  it('fills defaults', () => {
    const c = loadConfig({});
    expect(c.PORT).toBe(3000);
    expect(c.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(c.WORKER_CONCURRENCY).toBe(1);
    expect(c.JOB_ATTEMPTS).toBe(3);
    expect(c.DATA_DIR.startsWith('/')).toBe(true);
  });
  it('names every bad variable', () => {
    expect(() => loadConfig({ PORT: 'abc', REDIS_URL: 'http://x' })).toThrow(ConfigError);
    expect(() => loadConfig({ PORT: 'abc', REDIS_URL: 'http://x' })).toThrow(/PORT[\s\S]*REDIS_URL|REDIS_URL[\s\S]*PORT/);
  });
});

describe('API keys', () => {
  it('parses env keys into hashes and verifies in constant time', () => {
    const ring = new ApiKeyRing(parseApiKeysEnv('acme:secret-key-1, beta:secret-key-2'));
    expect(ring.verify('secret-key-1')).toBe('acme');
    expect(ring.verify('secret-key-2')).toBe('beta');
    expect(ring.verify('secret-key-3')).toBeNull();
    expect(() => parseApiKeysEnv('nocolon')).toThrow(/entry 1/);
    expect(() => parseApiKeysEnv('nocolon-secretvalue')).not.toThrow(/secretvalue/);
  });
  it('parses JSON and line files', () => {
    const h = hashApiKey('k');
    expect(parseApiKeysFile(`# comment\nacme:${h}\n`)).toEqual([{ tenant: 'acme', sha256: h }]);
    expect(parseApiKeysFile(JSON.stringify([{ tenant: 'a', sha256: h }]))).toEqual([{ tenant: 'a', sha256: h }]);
    expect(() => parseApiKeysFile('acme:nothex')).toThrow(/sha256/);
  });
  it('ensureDefaultKey writes only a hash, once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'unroll-keys-'));
    try {
      const created = await ensureDefaultKey(dir);
      expect(created?.tenant).toBe('default');
      const file = await readFile(join(dir, 'api-keys.json'), 'utf8');
      expect(file).not.toContain(created!.key);
      expect(file).toContain(hashApiKey(created!.key));
      expect(await ensureDefaultKey(dir)).toBeNull();
      const ring = new ApiKeyRing(await loadApiKeys({ DATA_DIR: dir }));
      expect(ring.verify(created!.key)).toBe('default');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('assertRedisReachable', () => {
  it('fails fast naming REDIS_URL when nothing listens', async () => {
    const port = await freePortFree();
    const started = Date.now();
    await expect(assertRedisReachable(`redis://127.0.0.1:${port}`, 1500)).rejects.toThrow(/REDIS_URL=redis:\/\/127\.0\.0\.1/);
    expect(Date.now() - started).toBeLessThan(3000);
  });
});
