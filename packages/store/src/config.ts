import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';

/** Default WORKER_MEMORY_BUDGET_BYTES: 2 GiB per job. */
export const DEFAULT_WORKER_MEMORY_BUDGET_BYTES = 2 * 1024 ** 3;

const int = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

/** Environment of the API and the worker, parsed once at startup. */
export const ConfigSchema = z.object({
  PORT: int(3000, 0, 65535),
  HOST: z.string().min(1).default('127.0.0.1'),
  REDIS_URL: z.string().regex(/^rediss?:\/\//, 'expected redis://host:port or rediss://...').default('redis://127.0.0.1:6379'),
  DATA_DIR: z
    .string()
    .min(1)
    .default('./.data')
    .transform((p) => resolve(p)),
  /** "tenant:key,tenant2:key2" — plaintext keys, hashed at load. */
  UNROLL_API_KEYS: optionalString,
  /** JSON ([{tenant, sha256}] or {keys: [...]}) or lines `tenant:sha256hex`. */
  UNROLL_API_KEYS_FILE: optionalString,
  WORKER_CONCURRENCY: int(1, 1, 64),
  LOCK_DURATION_MS: int(30_000, 1_000, 600_000),
  JOB_ATTEMPTS: int(3, 1, 100),
  MAX_UPLOAD_BYTES: int(200 * 1024 * 1024, 1, 16 * 1024 ** 3),
  /** Max entries kept per job event stream (XADD MAXLEN ~). */
  EVENT_RETENTION: int(100_000, 100, 10_000_000),
  /** Seconds a finished job's record and events stay in Redis; 0 keeps them forever. */
  JOB_RETENTION: int(7 * 24 * 3600, 0, 10 * 365 * 24 * 3600),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  PROGRESS_INTERVAL_MS: int(1000, 50, 600_000),
  /** API: worker threads for inference and dataset parsing (the event loop never computes); default: one core left to the event loop. */
  COMPUTE_THREADS: int(Math.max(1, availableParallelism() - 1), 1, 64),
  /** API: compute tasks waiting for a thread; past it predict / sample / uploads answer 503 compute_busy. */
  COMPUTE_QUEUE: int(16, 0, 10_000),
  /** Queued + running jobs one tenant may have at once; past it POST /v1/jobs answers 429 too_many_active_jobs. 0 = no cap. */
  MAX_ACTIVE_JOBS_PER_TENANT: int(20, 0, 1_000_000),
  /** Dataset bytes one tenant may store; past it uploads answer 429 storage_quota_exceeded. 0 = no cap. */
  MAX_STORED_BYTES_PER_TENANT: int(2 * 1024 ** 3, 0, 16 * 1024 ** 4),
  /** Requests per API key (tenant) per RATE_LIMIT_WINDOW_MS, counted in Redis across API processes. 0 = no limit. */
  RATE_LIMIT_MAX: int(600, 0, 10_000_000),
  RATE_LIMIT_WINDOW_MS: int(60_000, 100, 3_600_000),
  /** Worker: how long a graceful stop waits for running jobs to checkpoint before forcing the close. */
  WORKER_SHUTDOWN_TIMEOUT_MS: int(30_000, 100, 600_000),
  /**
   * Worker: how long a training attempt keeps retrying its Redis writes through an outage (the
   * thread keeps training; its events wait in memory and are published in order once Redis is back).
   */
  REDIS_OUTAGE_TOLERANCE_MS: int(300_000, 0, 3_600_000),
  /**
   * API: how old (by mtime) a temp file, staged upload or blob with no dataset / job record must be
   * before the orphan sweep removes it. Longer than any upload or checkpoint write takes between two writes.
   */
  ORPHAN_SWEEP_GRACE_MS: int(3_600_000, 1_000, 30 * 24 * 3_600_000),
  /** API: how often the orphan sweep runs after the one at startup; 0 = only at startup. */
  ORPHAN_SWEEP_INTERVAL_MS: int(600_000, 0, 24 * 3_600_000),
  /**
   * Memory one training job may take in a worker (engine memory + JS heap, estimated from the spec
   * and the dataset statistics): POST /v1/jobs answers 400 job_too_large past it, and the worker
   * checks again before training. The engine's own memory is capped at 1 GiB whatever this says.
   */
  WORKER_MEMORY_BUDGET_BYTES: int(DEFAULT_WORKER_MEMORY_BUDGET_BYTES, 1024 * 1024, 1024 ** 4),
  /**
   * Worker: how often the reconciler looks for queued/running records that no attempt will end (their
   * queue entry gone, failed or completed) and settles them; one worker at a time (a Redis lock).
   */
  RECONCILE_INTERVAL_MS: int(60_000, 100, 3_600_000),
  /** Worker: records updated more recently than this are left alone by the reconciler. */
  RECONCILE_GRACE_MS: int(60_000, 0, 86_400_000),
  /** Refuse to start (instead of warning) when Redis does not run appendonly yes + appendfsync always. */
  REQUIRE_DURABLE_REDIS: z.enum(['0', '1', 'true', 'false']).default('0').transform((v) => v === '1' || v === 'true'),
});
export type Config = z.infer<typeof ConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment once; throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv | Record<string, string | undefined> = process.env): Config {
  const picked: Record<string, string | undefined> = {};
  for (const key of Object.keys(ConfigSchema.shape)) {
    const value = env[key];
    // An empty variable means "not set", so the default applies.
    if (value !== undefined && value !== '') picked[key] = value;
  }
  const parsed = ConfigSchema.safeParse(picked);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
