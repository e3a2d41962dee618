// `pnpm start`: one command for a working local service. Finds Redis (or starts a private one),
// makes sure an API key exists, then runs the API and one worker as child processes with
// prefixed output, and stops everything gracefully on Ctrl-C / SIGTERM.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { ensureDefaultKey, loadConfig } from '@unroll/store';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const PRIVATE_REDIS_PORT = 6390;
const STOP_GRACE_MS = 45_000;

const children: { name: string; child: ChildProcess }[] = [];
let stopping = false;

function say(line: string): void {
  process.stdout.write(`[start] ${line}\n`);
}

/** True when something at host:port answers PING with +PONG. */
function redisAnswers(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect(port, host);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    sock.once('connect', () => sock.write('PING\r\n'));
    // -NOAUTH also proves a Redis is there; the clients will report the auth problem clearly.
    sock.once('data', (d) => done(d.toString().startsWith('+PONG') || d.toString().startsWith('-NOAUTH')));
    sock.once('error', () => done(false));
  });
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function anyFreePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

/** Pipes a child's output line by line to ours, each line prefixed with its name. */
function pipePrefixed(name: string, child: ChildProcess): void {
  const pad = `[${name}]`.padEnd(9);
  if (child.stdout) createInterface({ input: child.stdout }).on('line', (l) => process.stdout.write(`${pad} ${l}\n`));
  if (child.stderr) createInterface({ input: child.stderr }).on('line', (l) => process.stderr.write(`${pad} ${l}\n`));
}

function launch(name: string, command: string, args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  // Own process group: Ctrl-C reaches only this script, which then stops the children in order
  // (workers and API first, Redis last, so a worker can still hand its job back to the queue).
  const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  pipePrefixed(name, child);
  children.push({ name, child });
  child.once('error', (err) => {
    say(`${name} could not start: ${err.message}`);
    void shutdown(1);
  });
  child.once('exit', (code, signal) => {
    if (stopping) return;
    say(`${name} exited unexpectedly (code ${code}, signal ${signal}); stopping everything`);
    void shutdown(1);
  });
  return child;
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((r) => child.once('exit', () => r()));
}

async function stopChild(name: string, child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => {
    say(`${name} did not stop within ${STOP_GRACE_MS / 1000}s; killing it`);
    child.kill('SIGKILL');
  }, STOP_GRACE_MS);
  await exited(child);
  clearTimeout(timer);
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  say('stopping…');
  const redis = children.filter((c) => c.name === 'redis');
  await Promise.all(children.filter((c) => c.name !== 'redis').map((c) => stopChild(c.name, c.child)));
  await Promise.all(redis.map((c) => stopChild(c.name, c.child)));
  say('stopped');
  process.exit(code);
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (stopping) return;
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not come up within ${timeoutMs / 1000}s`);
}

/** Uses REDIS_URL if it answers; otherwise starts a private redis-server under DATA_DIR/redis. */
async function resolveRedis(redisUrl: string, dataDir: string): Promise<string> {
  const url = new URL(redisUrl);
  const host = url.hostname || '127.0.0.1';
  const port = Number(url.port || 6379);
  if (await redisAnswers(host, port)) {
    say(`using Redis at ${redisUrl}`);
    return redisUrl;
  }
  if (spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status !== 0) {
    throw new Error(
      `no Redis answers at ${redisUrl} and redis-server is not on PATH.\n` +
        `Start Redis (e.g. \`docker run -p 6379:6379 redis:7\`) or set REDIS_URL, then run pnpm start again.`,
    );
  }
  const privatePort = (await portIsFree(PRIVATE_REDIS_PORT)) ? PRIVATE_REDIS_PORT : await anyFreePort();
  const dir = join(dataDir, 'redis');
  await mkdir(dir, { recursive: true });
  // appendfsync always: the API answers 202 only after the job record is written; fsync on every
  // write means an accepted job survives a crash of this Redis. noeviction: BullMQ and job state
  // must never be silently evicted under memory pressure — Redis refuses writes instead.
  launch(
    'redis',
    'redis-server',
    ['--port', String(privatePort), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--maxmemory-policy', 'noeviction', '--save', '', '--loglevel', 'warning'],
    process.env,
  );
  await waitUntil(() => redisAnswers('127.0.0.1', privatePort), 15_000, `redis-server on port ${privatePort}`);
  const privateUrl = `redis://127.0.0.1:${privatePort}`;
  say(`no Redis at ${redisUrl}; started a private redis-server at ${privateUrl} (data in ${dir})`);
  return privateUrl;
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void shutdown(0));
  process.on('SIGTERM', () => void shutdown(0));
  // Children live in their own process groups; never leave one behind if this script dies.
  process.on('exit', () => {
    for (const { child } of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  const config = loadConfig(process.env);
  const dataDir = config.DATA_DIR; // already absolute
  await mkdir(dataDir, { recursive: true });
  const redisUrl = await resolveRedis(config.REDIS_URL, dataDir);

  if (config.UNROLL_API_KEYS || config.UNROLL_API_KEYS_FILE) {
    say('API keys: from UNROLL_API_KEYS / UNROLL_API_KEYS_FILE');
  } else {
    const created = await ensureDefaultKey(dataDir);
    if (created) {
      say(`created an API key for tenant "${created.tenant}" — shown only this once (only its hash is kept in ${dataDir}):`);
      say(`    ${created.key}`);
      say(`    e.g. curl -H 'authorization: Bearer ${created.key}' http://${config.HOST}:${config.PORT}/v1/jobs`);
    } else {
      say(`API keys: using the key for tenant "default" created earlier (hash in ${dataDir}; delete api-keys.json there for a new one)`);
    }
  }

  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: redisUrl, DATA_DIR: dataDir };
  launch('api', process.execPath, ['--import', 'tsx', 'apps/api/src/server.ts'], env);
  launch('worker', process.execPath, ['--import', 'tsx', 'apps/worker/src/main.ts'], env);

  const host = config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST;
  const baseUrl = `http://${host}:${config.PORT}`;
  await waitUntil(async () => (await fetch(`${baseUrl}/healthz`).catch(() => null))?.ok === true, 60_000, `the API at ${baseUrl}`);
  if (!stopping) say(`Unroll is up: ${baseUrl}  (docs: ${baseUrl}/docs)  — Ctrl-C to stop`);
}

main().catch((err: unknown) => {
  process.stderr.write(`[start] ${(err as Error).message}\n`);
  void (stopping ? undefined : shutdown(1));
});
