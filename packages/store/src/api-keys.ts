import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

// API keys are never kept in plaintext: only SHA-256 hashes are loaded, stored and compared.

export interface ApiKeyEntry {
  tenant: string;
  /** hex SHA-256 of the key */
  sha256: string;
}

export const API_KEYS_FILE_NAME = 'api-keys.json';
const TENANT = /^[A-Za-z0-9_-]{1,64}$/;
const HEX64 = /^[0-9a-f]{64}$/;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export class ApiKeyConfigError extends Error {
  override name = 'ApiKeyConfigError';
}

/** Parses UNROLL_API_KEYS ("tenant:key,tenant2:key2"); keys are hashed immediately. */
export function parseApiKeysEnv(spec: string): ApiKeyEntry[] {
  return spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((pair, i) => {
      const colon = pair.indexOf(':');
      const tenant = pair.slice(0, colon);
      const key = pair.slice(colon + 1);
      if (colon <= 0 || !TENANT.test(tenant) || key.length < 8) {
        // Never echo the pair itself: it holds a secret.
        throw new ApiKeyConfigError(`UNROLL_API_KEYS entry ${i + 1}: expected tenant:key (tenant [A-Za-z0-9_-], key at least 8 characters)`);
      }
      return { tenant, sha256: hashApiKey(key) };
    });
}

/** Parses a keys file: JSON (`[{tenant, sha256}]` or `{keys: [...]}`) or lines `tenant:sha256hex` (# comments). */
export function parseApiKeysFile(text: string, source = 'api keys file'): ApiKeyEntry[] {
  const trimmed = text.trim();
  let entries: unknown[];
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    const json = JSON.parse(trimmed) as unknown;
    entries = Array.isArray(json) ? json : ((json as { keys?: unknown[] }).keys ?? []);
  } else {
    entries = trimmed
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => {
        const colon = l.indexOf(':');
        return { tenant: l.slice(0, colon), sha256: l.slice(colon + 1).toLowerCase() };
      });
  }
  return entries.map((e, i) => {
    const { tenant, sha256 } = (e ?? {}) as Partial<ApiKeyEntry>;
    if (typeof tenant !== 'string' || !TENANT.test(tenant) || typeof sha256 !== 'string' || !HEX64.test(sha256)) {
      throw new ApiKeyConfigError(`${source} entry ${i + 1}: expected tenant and a 64-hex-digit sha256`);
    }
    return { tenant, sha256 };
  });
}

/**
 * All configured keys: UNROLL_API_KEYS, UNROLL_API_KEYS_FILE, and DATA_DIR/api-keys.json
 * (written by ensureDefaultKey). Empty when none is configured.
 */
export async function loadApiKeys(config: { UNROLL_API_KEYS?: string; UNROLL_API_KEYS_FILE?: string; DATA_DIR: string }): Promise<ApiKeyEntry[]> {
  const entries: ApiKeyEntry[] = [];
  if (config.UNROLL_API_KEYS) entries.push(...parseApiKeysEnv(config.UNROLL_API_KEYS));
  if (config.UNROLL_API_KEYS_FILE) {
    entries.push(...parseApiKeysFile(await readFile(config.UNROLL_API_KEYS_FILE, 'utf8'), config.UNROLL_API_KEYS_FILE));
  }
  const defaultFile = join(config.DATA_DIR, API_KEYS_FILE_NAME);
  const text = await readFile(defaultFile, 'utf8').catch(() => null);
  if (text !== null) entries.push(...parseApiKeysFile(text, defaultFile));
  return entries;
}

/** Resolves a presented key to its tenant, comparing SHA-256 digests in constant time. */
export class ApiKeyRing {
  private readonly digests: { tenant: string; digest: Buffer }[];
  constructor(entries: readonly ApiKeyEntry[]) {
    this.digests = entries.map((e) => ({ tenant: e.tenant, digest: Buffer.from(e.sha256, 'hex') }));
  }

  get size(): number {
    return this.digests.length;
  }

  /** Tenant of the key, or null. Checks every entry so timing does not reveal which one matched. */
  verify(key: string): string | null {
    const presented = createHash('sha256').update(key, 'utf8').digest();
    let tenant: string | null = null;
    for (const entry of this.digests) {
      if (timingSafeEqual(presented, entry.digest) && tenant === null) tenant = entry.tenant;
    }
    return tenant;
  }
}

/**
 * With no key configured, creates one for tenant `default`: stores only its hash in
 * DATA_DIR/api-keys.json and returns the plaintext key ONCE (for `pnpm start` to print).
 * Returns null when the file already exists (the key was shown when it was created).
 */
export async function ensureDefaultKey(dataDir: string): Promise<{ tenant: string; key: string } | null> {
  await mkdir(dataDir, { recursive: true });
  const file = join(dataDir, API_KEYS_FILE_NAME);
  const key = `unroll_${randomBytes(24).toString('base64url')}`;
  const body = `${JSON.stringify({ keys: [{ tenant: 'default', sha256: hashApiKey(key) }] }, null, 2)}\n`;
  const tmp = `${file}.tmp-${randomBytes(4).toString('hex')}`;
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(body);
    await handle.sync();
  } finally {
    await handle.close();
  }
  // Claim the name exclusively first, so two processes starting at once never both create a key.
  try {
    const existing = await open(file, 'wx', 0o600);
    await existing.close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      await rm(tmp, { force: true });
      return null;
    }
    throw err;
  }
  await rename(tmp, file);
  return { tenant: 'default', key };
}
