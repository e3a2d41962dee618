// Soak test (not in CI): the real service — private redis-server, API process, worker processes —
// trains jobs for SOAK_DURATION_MS while WebSocket clients follow them (some cut and resumed with
// ?after=<last id> along the way) and a prober measures API latency. Reports lost and duplicated
// events (must be 0), API p50/p99 latency, and the memory slope of every process.
//
//   node --import tsx scripts/soak.ts                           # 10 minutes
//   SOAK_DURATION_MS=60000 node --import tsx scripts/soak.ts    # a shortened run
//
// How long it lasts: jobs are capped at 1000 epochs by the job schema, so one batch sized up front
// cannot fill a long run (and an epoch's time under load is not known in advance). Instead one epoch
// is timed first (a calibration job, alone), the SOAK_JOBS jobs are sized to a tenth of the duration,
// and every job that ends is replaced by a new one (with new subscribers) as long as the epoch rate
// measured so far says it can finish in time; the last ones are shorter. So about SOAK_JOBS jobs and
// SOAK_SUBSCRIBERS subscribers stay live until the backlog has to drain before the deadline.
//
// Env:
//   SOAK_DURATION_MS      how long the run lasts, ms (600000)
//   SOAK_JOBS             jobs live at a time (50): a finished one is replaced while time remains
//   SOAK_SUBSCRIBERS      WebSocket clients live at a time (200, at least one per job), spread over the jobs
//   SOAK_WORKERS          worker processes (2)
//   SOAK_EPOCH_MS         one epoch's time on one worker, ms; skips the calibration (default: measured)
//   SOAK_RESUME_EVERY_MS  every this often a tenth of the subscribers are cut and resume (20000)
//   SOAK_CORPUS_REPEAT    the corpus is one sentence repeated this often (240); longer epochs, not a longer run
//
// Ctrl-C, SIGTERM (e.g. from `timeout`) or an uncaught error stops the API, the workers and Redis and
// removes the temp dir before exiting non-zero: nothing is left running.
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import type { EventMessage } from '@unroll/protocol';
import { freePort, startRedis } from '@unroll/testing';
import { ProcessGroup, spawnTs, waitForHttp, type ManagedProcess } from '../test/support/processes.ts';

const DURATION_MS = Number(process.env.SOAK_DURATION_MS ?? 600_000);
const JOBS = Number(process.env.SOAK_JOBS ?? 50);
const SUBSCRIBERS = Math.max(JOBS, Number(process.env.SOAK_SUBSCRIBERS ?? 200));
const WORKERS = Number(process.env.SOAK_WORKERS ?? 2);
const EPOCH_MS = process.env.SOAK_EPOCH_MS ? Number(process.env.SOAK_EPOCH_MS) : null;
const RESUME_EVERY_MS = Number(process.env.SOAK_RESUME_EVERY_MS ?? 20_000);
const CORPUS = 'the quick brown fox jumps over the lazy dog. '.repeat(Number(process.env.SOAK_CORPUS_REPEAT ?? 240));

const MAX_EPOCHS = 1000; // the job schema's cap
const CALIBRATION_EPOCHS = 40;
/**
 * The first batch fills this share of the duration at the calibrated speed. Calibration runs alone; under
 * the soak's load an epoch took 3 to 4× as long (a 2-core machine running other tests), and an oversized
 * first batch is the one thing the replacements cannot correct.
 */
const FIRST_BATCH_SHARE = 0.1;
/** Replacement jobs shorter than this are not worth their subscribers' connection churn. */
const MIN_REPLACEMENT_EPOCHS = 10;
/** The epoch rate is trusted for sizing replacements once it has been measured this long. */
const RATE_WARMUP_MS = 5_000;
const STOP_GRACE_MS = 5000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const log = (line: string) => process.stdout.write(`[soak] ${line}\n`);

// ---- teardown: once, whichever comes first of the normal end, an error, SIGINT or SIGTERM ----
const teardownSteps: (() => Promise<unknown>)[] = [];
let tearingDown: Promise<void> | null = null;
let interrupted = false;

/** Registers a cleanup step; steps run last-registered first (processes before Redis before files). */
function onTeardown(step: () => Promise<unknown>): void {
  teardownSteps.unshift(step);
}

function teardown(): Promise<void> {
  tearingDown ??= (async () => {
    for (const step of teardownSteps) await step().catch((err: unknown) => log(`teardown: ${(err as Error).message}`));
  })();
  return tearingDown;
}

for (const [signal, exitCode] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.on(signal, () => {
    if (interrupted) return log(`${signal} again: still stopping the service`);
    interrupted = true;
    log(`${signal}: stopping the API, the workers and Redis`);
    void teardown().finally(() => process.exit(exitCode));
  });
}

function fail(err: unknown): void {
  if (interrupted) return; // errors of a service being stopped on purpose
  process.stderr.write(`soak failed: ${(err as Error).stack ?? String(err)}\n`);
  void teardown().finally(() => process.exit(1));
}
process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

/** One job of the soak and how far its subscribers have seen it train. */
interface JobRun {
  id: string;
  epochs: number;
  lastEpoch: number;
  finished: boolean;
}

/** A subscriber: follows one job to its end, reconnecting with the last id when cut. */
class Subscriber {
  readonly received: EventMessage[] = [];
  reconnects = 0;
  finished = false;
  private socket: WebSocket | null = null;
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
    readonly job: JobRun,
  ) {}

  start(): Promise<void> {
    return new Promise((resolve) => {
      const open = () => {
        const after = this.received.at(-1)?.id;
        const ws = new WebSocket(`${this.baseUrl.replace('http', 'ws')}/v1/jobs/${this.job.id}/events${after ? `?after=${after}` : ''}`, {
          headers: { authorization: `Bearer ${this.apiKey}` },
        });
        this.socket = ws;
        ws.on('message', (d) => {
          const message = JSON.parse(d.toString()) as EventMessage;
          this.received.push(message);
          if (message.event.type === 'epoch') this.job.lastEpoch = Math.max(this.job.lastEpoch, message.event.epoch);
        });
        ws.on('error', () => {});
        ws.on('close', (code) => {
          if (code === 1000) {
            this.finished = true;
            this.job.finished = true;
            return resolve();
          }
          if (interrupted) return resolve();
          this.reconnects++;
          setTimeout(open, 100);
        });
      };
      open();
    });
  }

  /** Cuts the connection as a network drop would; the subscriber resumes from its last id. */
  cut(): void {
    if (!this.finished) this.socket?.terminate();
  }
}

function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map(Number);
  const [bm, bs] = b.split('-').map(Number);
  return am - bm || as - bs;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Least-squares slope of (t ms, y) in y-units per minute. */
function slopePerMinute(points: { t: number; y: number }[]): number {
  if (points.length < 2) return NaN;
  const n = points.length;
  const mt = points.reduce((s, p) => s + p.t, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const num = points.reduce((s, p) => s + (p.t - mt) * (p.y - my), 0);
  const den = points.reduce((s, p) => s + (p.t - mt) ** 2, 0);
  return (num / den) * 60_000;
}

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : NaN;
}

type Request = (path: string, init?: RequestInit) => Promise<Response>;

function jobBody(datasetId: string, epochs: number, seed: number): string {
  return JSON.stringify({ datasetId, task: 'lm', model: { hiddenSize: 8 }, training: { epochs, batchSize: 4, bptt: { mode: 'truncated', k1: 8, k2: 8 }, seed } });
}

async function createJob(request: Request, datasetId: string, epochs: number, seed: number): Promise<string> {
  const res = await request('/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: jobBody(datasetId, epochs, seed) });
  if (res.status !== 202) throw new Error(`job (seed ${seed}): ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: string }).id;
}

/** Times one epoch of the soak's job on an idle worker, from the stream ids (ms) of its epoch events. */
async function calibrateEpochMs(request: Request, datasetId: string): Promise<number> {
  const id = await createJob(request, datasetId, CALIBRATION_EPOCHS, 1_000_000);
  const deadline = Date.now() + 120_000;
  for (;;) {
    const { status } = (await (await request(`/v1/jobs/${id}`)).json()) as { status: string };
    if (status === 'succeeded') break;
    if (status === 'failed' || status === 'cancelled' || Date.now() > deadline) throw new Error(`calibration job ${id}: ${status}`);
    await sleep(200);
  }
  const page = (await (await request(`/v1/jobs/${id}/events?limit=1000`)).json()) as { items: EventMessage[] };
  const times = page.items.filter((m) => m.event.type === 'epoch').map((m) => Number(m.id.split('-')[0]));
  return (times.at(-1)! - times[0]) / (times.length - 1);
}

async function main(): Promise<void> {
  // Registered before they are awaited, so a signal during start-up still stops them.
  const redisStarting = startRedis();
  onTeardown(async () => (await redisStarting).stop());
  const dataDirCreating = mkdtemp(join(tmpdir(), 'unroll-soak-'));
  onTeardown(async () => rm(await dataDirCreating, { recursive: true, force: true }));
  const group = new ProcessGroup();
  onTeardown(() => group.stopAll(STOP_GRACE_MS));
  const [redis, dataDir, port] = await Promise.all([redisStarting, dataDirCreating, freePort()]);

  const baseUrl = `http://127.0.0.1:${port}`;
  const apiKey = `soak_${randomBytes(12).toString('hex')}`;
  const env = {
    HOST: '127.0.0.1',
    PORT: String(port),
    REDIS_URL: redis.url,
    DATA_DIR: dataDir,
    UNROLL_API_KEYS: `soak:${apiKey}`,
    LOG_LEVEL: 'warn',
    PROGRESS_INTERVAL_MS: '500',
    RATE_LIMIT_MAX: '0',
    MAX_ACTIVE_JOBS_PER_TENANT: String(JOBS + 10),
  };
  const request: Request = (path, init = {}) =>
    fetch(`${baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${apiKey}`, ...(init.headers as Record<string, string>) } });

  const api = group.add(spawnTs('api', 'apps/api/src/server.ts', { env }));
  await waitForHttp(`${baseUrl}/readyz`, 60_000, api);
  const workers: ManagedProcess[] = [];
  for (let i = 0; i < WORKERS; i++) {
    workers.push(group.add(spawnTs(`worker${i + 1}`, 'apps/worker/src/main.ts', { env: { ...env, LOG_LEVEL: 'info' } })));
    await workers[i].waitForLine(/worker ready/, 60_000);
  }
  const upload = await request('/v1/datasets', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: CORPUS });
  const datasetId = ((await upload.json()) as { id: string }).id;

  const epochMs = EPOCH_MS ?? (await calibrateEpochMs(request, datasetId));
  const firstEpochs = Math.max(2, Math.min(MAX_EPOCHS, Math.round((FIRST_BATCH_SHARE * DURATION_MS * WORKERS) / (JOBS * epochMs))));
  log(`duration ${DURATION_MS} ms; one epoch ${epochMs.toFixed(1)} ms (${EPOCH_MS === null ? 'calibrated' : 'SOAK_EPOCH_MS'})`);
  log(`${JOBS} jobs × ${firstEpochs} epochs, ${SUBSCRIBERS} subscribers, ${WORKERS} workers; finished jobs replaced while time remains`);

  const runs: JobRun[] = [];
  const subscribers: Subscriber[] = [];
  const follow = (job: JobRun) => {
    const subscriber = new Subscriber(baseUrl, apiKey, job);
    subscribers.push(subscriber);
    void subscriber.start();
  };
  const addJob = async (epochs: number) => {
    const job: JobRun = { id: await createJob(request, datasetId, epochs, runs.length), epochs, lastEpoch: 0, finished: false };
    runs.push(job);
    return job;
  };

  const started = Date.now();
  const deadline = started + DURATION_MS;
  for (let i = 0; i < JOBS; i++) await addJob(firstEpochs);
  for (let i = 0; i < SUBSCRIBERS; i++) follow(runs[i % JOBS]);

  /**
   * Replaces finished jobs (back to JOBS live) with jobs that, at the epoch rate measured so far, finish
   * before the deadline behind everything already queued (one queue, WORKERS workers).
   */
  const replaceFinishedJobs = async () => {
    const elapsed = Date.now() - started;
    const trained = runs.reduce((n, r) => n + r.lastEpoch, 0);
    if (elapsed < RATE_WARMUP_MS || trained === 0) return 0;
    const epochsPerMs = trained / elapsed;
    const live = runs.filter((r) => !r.finished);
    const outstanding = live.reduce((n, r) => n + r.epochs - r.lastEpoch, 0);
    let room = Math.floor(epochsPerMs * (deadline - Date.now()) - outstanding);
    let added = 0;
    for (let alive = live.length; alive < JOBS && room >= MIN_REPLACEMENT_EPOCHS; alive++) {
      const job = await addJob(Math.min(firstEpochs, room));
      for (let i = 0; i < Math.max(1, Math.round(SUBSCRIBERS / JOBS)); i++) follow(job);
      room -= job.epochs;
      added++;
    }
    return added;
  };

  const latencies: number[] = [];
  const memory = new Map<string, { t: number; y: number }[]>();
  let probing = true;
  const prober = (async () => {
    let i = 0;
    while (probing) {
      const path = i++ % 2 === 0 ? `/v1/jobs/${runs[i % runs.length].id}` : '/v1/jobs?limit=20';
      const t0 = performance.now();
      const res = await request(path).catch(() => null);
      await res?.arrayBuffer();
      latencies.push(performance.now() - t0);
      await sleep(100);
    }
  })();
  const sampler = setInterval(() => {
    for (const p of [api, ...workers]) {
      void rssMb(p.child.pid!).then((mb) => {
        if (!Number.isFinite(mb)) return;
        const points = memory.get(p.name) ?? [];
        points.push({ t: Date.now() - started, y: mb });
        memory.set(p.name, points);
      });
    }
  }, 2000);
  const cutter = setInterval(() => {
    // Cut a tenth of the live subscribers: they must resume without loss or duplicates.
    for (const s of subscribers) if (Math.random() < 0.1) s.cut();
  }, RESUME_EVERY_MS);

  let replacements = 0;
  while (Date.now() < deadline) {
    replacements += await replaceFinishedJobs();
    await sleep(1000);
  }
  // Drain what was started; the limit only guards against a stuck run.
  const giveUpAt = deadline + DURATION_MS + 120_000;
  while (subscribers.some((s) => !s.finished) && Date.now() < giveUpAt) await sleep(250);
  const elapsed = Date.now() - started;
  clearInterval(cutter);
  clearInterval(sampler);
  probing = false;
  await prober;
  if (subscribers.some((s) => !s.finished)) log(`WARNING: ${subscribers.filter((s) => !s.finished).length} subscribers did not see their job end`);

  // Compare what every subscriber got with the stored history.
  let lost = 0;
  let duplicated = 0;
  let outOfOrder = 0;
  let events = 0;
  const histories = new Map<string, string[]>();
  for (const { id } of runs) {
    const ids: string[] = [];
    let after = '';
    for (;;) {
      const page = (await (await request(`/v1/jobs/${id}/events?limit=1000${after ? `&after=${after}` : ''}`)).json()) as { items: EventMessage[] };
      ids.push(...page.items.map((m) => m.id));
      if (page.items.length < 1000) break;
      after = page.items.at(-1)!.id;
    }
    histories.set(id, ids);
  }
  for (const s of subscribers) {
    const history = histories.get(s.job.id)!;
    const got = s.received.map((m) => m.id);
    events += got.length;
    const seen = new Set(got);
    duplicated += got.length - seen.size;
    lost += history.filter((id) => !seen.has(id)).length;
    for (let i = 1; i < got.length; i++) if (compareStreamIds(got[i], got[i - 1]) <= 0) outOfOrder++;
  }
  const statuses = await Promise.all(runs.map(async ({ id }) => ((await (await request(`/v1/jobs/${id}`)).json()) as { status: string }).status));
  const succeeded = statuses.filter((s) => s === 'succeeded').length;
  const reconnects = subscribers.reduce((n, s) => n + s.reconnects, 0);
  const trained = runs.reduce((n, r) => n + r.epochs, 0);

  log('---- results ----');
  log(`elapsed ${Math.round(elapsed / 1000)} s of ${Math.round(DURATION_MS / 1000)} s requested; jobs succeeded ${succeeded}/${runs.length} (${JOBS} first, ${replacements} replacements), ${trained} epochs`);
  log(`epoch time under load ≈ ${((elapsed * WORKERS) / trained).toFixed(1)} ms per worker (calibration ${epochMs.toFixed(1)} ms)`);
  log(`subscribers ${subscribers.length}, events delivered ${events}, reconnects (cut + resumed) ${reconnects}`);
  log(`lost events ${lost}, duplicated ${duplicated}, out of order ${outOfOrder}`);
  log(`API latency over ${latencies.length} probes: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`);
  for (const [name, points] of memory) {
    const first = points[0]?.y ?? NaN;
    const last = points.at(-1)?.y ?? NaN;
    log(`memory ${name}: RSS ${first.toFixed(0)} → ${last.toFixed(0)} MB, slope ${slopePerMinute(points).toFixed(2)} MB/min over ${points.length} samples`);
  }
  process.exitCode = lost === 0 && duplicated === 0 && outOfOrder === 0 && succeeded === runs.length ? 0 : 1;
}

main()
  .then(async () => {
    await teardown();
    // Subscribers of a job that never ended would keep reconnecting: the run is over, say so.
    process.exit(process.exitCode ?? 0);
  })
  .catch(fail);
