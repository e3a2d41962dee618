// The worker process itself: a clear, fast failure when Redis is not there.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort } from '@unroll/testing';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

describe('worker main', () => {
  it('exits 1 with a message naming REDIS_URL when Redis is unreachable', async () => {
    const port = await freePort(); // nothing listens there
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN], {
      env: { ...process.env, REDIS_URL: `redis://127.0.0.1:${port}`, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(1);
    expect(output).toContain(`cannot reach Redis at REDIS_URL=redis://127.0.0.1:${port}`);
    expect(output).not.toContain('worker ready');
  });
});
