// docker-compose.yml must stay valid and keep the worker scalable. No Docker engine is needed:
// `docker compose config` / `docker-compose config` validate and interpolate the file offline.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './support/processes.ts';

const COMPOSE_FILE = join(REPO_ROOT, 'docker-compose.yml');

/** The first compose CLI that works here: the docker plugin, else the standalone docker-compose. */
function findComposeCommand(): string[] | null {
  for (const cmd of [['docker', 'compose'], ['docker-compose']]) {
    const r = spawnSync(cmd[0], [...cmd.slice(1), 'version'], { encoding: 'utf8' });
    if (r.status === 0) return cmd;
  }
  return null;
}

const compose = findComposeCommand();
if (!compose) {
  console.warn('compose.test.ts: SKIPPED — neither `docker compose` nor `docker-compose` is installed (apt-get install docker-compose)');
}

function runCompose(file: string, args: string[]) {
  const [cmd, ...pre] = compose!;
  return spawnSync(cmd, [...pre, '-f', file, ...args], {
    encoding: 'utf8',
    cwd: REPO_ROOT,
    env: { ...process.env, UNROLL_API_KEYS: 'default:compose-test-key' },
  });
}

/** The text of one top-level service block of the compose file. */
function serviceBlock(text: string, name: string): string {
  const start = text.indexOf(`\n  ${name}:\n`);
  expect(start, `service ${name} is defined`).toBeGreaterThan(-1);
  const rest = text.slice(start + 1);
  const next = rest.slice(1).search(/\n {2}[a-z][\w-]*:\n|\n[a-z]/);
  return next === -1 ? rest : rest.slice(0, next + 1);
}

describe.skipIf(!compose)('docker-compose.yml', () => {
  it('is valid (compose config -q)', () => {
    const r = runCompose(COMPOSE_FILE, ['config', '-q']);
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });

  it('defines redis, api and worker', () => {
    const r = runCompose(COMPOSE_FILE, ['config', '--services']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(['api', 'redis', 'worker']);
  });

  it('keeps the worker scalable and Redis durable', () => {
    const text = readFileSync(COMPOSE_FILE, 'utf8');
    const worker = serviceBlock(text, 'worker');
    expect(worker).not.toMatch(/container_name:/);
    expect(worker).not.toMatch(/\n {4}ports:/);
    expect(worker).toMatch(/healthcheck:/);
    const redis = serviceBlock(text, 'redis');
    for (const flag of ['--appendonly", "yes', '--appendfsync", "always', '--maxmemory-policy", "noeviction']) expect(redis).toContain(flag);
    expect(serviceBlock(text, 'api')).toMatch(/"3000:3000"/);
  });

  it('rejects a broken file (the validation can fail)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'unroll-compose-'));
    try {
      const broken = join(dir, 'docker-compose.yml');
      writeFileSync(broken, readFileSync(COMPOSE_FILE, 'utf8').replace('    ports:\n      - "3000:3000"', '    ports: 3000'));
      const r = runCompose(broken, ['config', '-q']);
      expect(r.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
