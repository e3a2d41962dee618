import { resolve } from 'node:path';
import { z } from 'zod';

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
