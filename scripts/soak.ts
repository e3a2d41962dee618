// Soak test (not in CI): the real service — private redis-server, API process, worker processes —
// runs SOAK_JOBS training jobs while SOAK_SUBSCRIBERS WebSocket clients follow them (some cut and
// resumed with ?after=<last id> along the way) and a prober measures API latency. Reports lost and
// duplicated events (must be 0), API p50/p99 latency, and the memory slope of every process.
//
//   node --import tsx scripts/soak.ts                       # 10 minutes, 50 jobs, 200 subscribers
//   SOAK_DURATION_MS=120000 node --import tsx scripts/soak.ts   # a shortened run
//
// Env: SOAK_DURATION_MS (600000), SOAK_JOBS (50), SOAK_SUBSCRIBERS (200), SOAK_WORKERS (2),
// SOAK_EPOCH_MS (measured time of one epoch on one worker, 30), SOAK_RESUME_EVERY_MS (20000),
// SOAK_CORPUS_REPEAT (240; the corpus is a sentence repeated this often).
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
const SUBSCRIBERS = Number(process.env.SOAK_SUBSCRIBERS ?? 200);
const WORKERS = Number(process.env.SOAK_WORKERS ?? 2);
const EPOCH_MS = Number(process.env.SOAK_EPOCH_MS ?? 30);
const RESUME_EVERY_MS = Number(process.env.SOAK_RESUME_EVERY_MS ?? 20_000);
// Epochs are capped at 1000 by the job schema: a longer corpus makes each epoch (and the run) longer.
const CORPUS = 'the quick brown fox jumps over the lazy dog. '.repeat(Number(process.env.SOAK_CORPUS_REPEAT ?? 240));

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const log = (line: string) => process.stdout.write(`[soak] ${line}\n`);

/** A subscriber: follows one job to its end, reconnecting with the last id when cut. */
class Subscriber {
  readonly received: EventMessage[] = [];
  reconnects = 0;
  finished = false;
  private socket: WebSocket | null = null;
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
    readonly jobId: string,
  ) {}

  start(): Promise<void> {
    return new Promise((resolve) => {
      const open = () => {
        const after = this.received.at(-1)?.id;
        const ws = new WebSocket(`${this.baseUrl.replace('http', 'ws')}/v1/jobs/${this.jobId}/events${after ? `?after=${after}` : ''}`, {
          headers: { authorization: `Bearer ${this.apiKey}` },
        });
        this.socket = ws;
        ws.on('message', (d) => this.received.push(JSON.parse(d.toString()) as EventMessage));
        ws.on('error', () => {});
        ws.on('close', (code) => {
          if (code === 1000) {
            this.finished = true;
            return resolve();
          }
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

async function main(): Promise<void> {
  const redis = await startRedis();
  const dataDir = await mkdtemp(join(tmpdir(), 'unroll-soak-'));
  const port = await freePort();
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
  const group = new ProcessGroup();
  const request = (path: string, init: RequestInit = {}) =>
    fetch(`${baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${apiKey}`, ...(init.headers as Record<string, string>) } });
  try {
    const api = group.add(spawnTs('api', 'apps/api/src/server.ts', { env }));
    await waitForHttp(`${baseUrl}/readyz`, 60_000, api);
    const workers: ManagedProcess[] = [];
    for (let i = 0; i < WORKERS; i++) {
      workers.push(group.add(spawnTs(`worker${i + 1}`, 'apps/worker/src/main.ts', { env: { ...env, LOG_LEVEL: 'info' } })));
      await workers[i].waitForLine(/worker ready/, 60_000);
    }
    const upload = await request('/v1/datasets', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: CORPUS });
    const datasetId = ((await upload.json()) as { id: string }).id;

    // Size the jobs so that training the whole batch takes about the duration on WORKERS workers.
    const epochs = Math.max(2, Math.min(1000, Math.round((DURATION_MS * WORKERS) / (JOBS * EPOCH_MS))));
    log(`duration ${DURATION_MS} ms, ${JOBS} jobs × ${epochs} epochs, ${SUBSCRIBERS} subscribers, ${WORKERS} workers`);
    const jobIds: string[] = [];
    for (let i = 0; i < JOBS; i++) {
      const res = await request('/v1/jobs', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ datasetId, task: 'lm', model: { hiddenSize: 8 }, training: { epochs, batchSize: 4, bptt: { mode: 'truncated', k1: 8, k2: 8 }, seed: i } }),
      });
      if (res.status !== 202) throw new Error(`job ${i}: ${res.status} ${await res.text()}`);
      jobIds.push(((await res.json()) as { id: string }).id);
    }
    const subscribers = Array.from({ length: SUBSCRIBERS }, (_, i) => new Subscriber(baseUrl, apiKey, jobIds[i % JOBS]));
    const followed = Promise.all(subscribers.map((s) => s.start()));

    const started = Date.now();
    const latencies: number[] = [];
    const memory = new Map<string, { t: number; y: number }[]>();
    let probing = true;
    const prober = (async () => {
      let i = 0;
      while (probing) {
        const path = i++ % 2 === 0 ? `/v1/jobs/${jobIds[i % JOBS]}` : '/v1/jobs?limit=20';
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

    const deadline = Date.now() + DURATION_MS * 3 + 120_000;
    while (subscribers.some((s) => !s.finished) && Date.now() < deadline) await sleep(1000);
    clearInterval(cutter);
    clearInterval(sampler);
    probing = false;
    await prober;
    const elapsed = Date.now() - started;
    if (subscribers.some((s) => !s.finished)) log(`WARNING: ${subscribers.filter((s) => !s.finished).length} subscribers did not see their job end`);
    void followed;

    // Compare what every subscriber got with the stored history.
    let lost = 0;
    let duplicated = 0;
    let outOfOrder = 0;
    let events = 0;
    const histories = new Map<string, string[]>();
    for (const id of jobIds) {
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
      const history = histories.get(s.jobId)!;
      const got = s.received.map((m) => m.id);
      events += got.length;
      const seen = new Set(got);
      duplicated += got.length - seen.size;
      lost += history.filter((id) => !seen.has(id)).length;
      for (let i = 1; i < got.length; i++) if (compareStreamIds(got[i], got[i - 1]) <= 0) outOfOrder++;
    }
    const statuses = await Promise.all(jobIds.map(async (id) => ((await (await request(`/v1/jobs/${id}`)).json()) as { status: string }).status));
    const succeeded = statuses.filter((s) => s === 'succeeded').length;
    const reconnects = subscribers.reduce((n, s) => n + s.reconnects, 0);

    log('---- results ----');
    log(`elapsed ${Math.round(elapsed / 1000)} s; jobs succeeded ${succeeded}/${JOBS}`);
    log(`subscribers ${SUBSCRIBERS}, events delivered ${events}, reconnects (cut + resumed) ${reconnects}`);
    log(`lost events ${lost}, duplicated ${duplicated}, out of order ${outOfOrder}`);
    log(`API latency over ${latencies.length} probes: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms`);
    for (const [name, points] of memory) {
      const first = points[0]?.y ?? NaN;
      const last = points.at(-1)?.y ?? NaN;
      log(`memory ${name}: RSS ${first.toFixed(0)} → ${last.toFixed(0)} MB, slope ${slopePerMinute(points).toFixed(2)} MB/min over ${points.length} samples`);
    }
    process.exitCode = lost === 0 && duplicated === 0 && outOfOrder === 0 && succeeded === JOBS ? 0 : 1;
  } finally {
    await group.stopAll(10_000);
    await redis.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`soak failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
