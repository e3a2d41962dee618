import type { Redis } from 'ioredis';
import type { CsvOptions, Dataset, DatasetFormat, DatasetStats } from '@unroll/protocol';
import { keys } from './keys.ts';
import { LuaScript } from './scripts.ts';
import { zsetPage, type Page } from './pagination.ts';

export interface DatasetRecord extends Dataset {
  tenant: string;
  blobKey: string;
}

// KEYS: dataset, activeJobs, tenantDatasets, tenantStoredBytes. Refuses while a queued/running job uses it.
const DELETE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
if redis.call('SCARD', KEYS[2]) > 0 then return 'in_use' end
local id = redis.call('HGET', KEYS[1], 'id')
local bytes = tonumber(redis.call('HGET', KEYS[1], 'bytes') or '0')
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], id)
if redis.call('DECRBY', KEYS[4], bytes) < 0 then redis.call('SET', KEYS[4], '0') end
return 'deleted'
`);

// KEYS: dataset, tenantDatasets, tenantStoredBytes. ARGV: maxBytes (0 = no cap), bytes, createdMs, field, value, ...
// Checks the tenant's stored bytes and counts the new dataset in the same atomic write.
const CREATE = new LuaScript(`
local stored = tonumber(redis.call('GET', KEYS[3]) or '0')
if tonumber(ARGV[1]) > 0 and stored + tonumber(ARGV[2]) > tonumber(ARGV[1]) then return {'cap', tostring(stored)} end
redis.call('INCRBY', KEYS[3], ARGV[2])
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('ZADD', KEYS[2], ARGV[3], redis.call('HGET', KEYS[1], 'id'))
return {'ok'}
`);

/** Storing this dataset would take the tenant past its stored-bytes cap. */
export class StorageQuotaError extends Error {
  override name = 'StorageQuotaError';
  constructor(
    readonly tenant: string,
    readonly maxBytes: number,
    readonly storedBytes: number,
  ) {
    super(`tenant stores ${storedBytes} bytes of datasets; the limit is ${maxBytes} bytes`);
  }
}

/** Dataset records (`unroll:dataset:{id}` hashes); the bytes live in the BlobStore. */
export class DatasetStore {
  constructor(readonly redis: Redis) {}

  /** `maxStoredBytes` (> 0): refuses with StorageQuotaError past the tenant's stored-bytes cap. */
  async create(record: DatasetRecord, opts: { maxStoredBytes?: number } = {}): Promise<DatasetRecord> {
    const createdMs = Date.parse(record.createdAt);
    const fields: Record<string, string> = {
        id: record.id,
        tenant: record.tenant,
        kind: record.kind,
        name: record.name ?? '',
        blobKey: record.blobKey,
        bytes: String(record.bytes),
        sha256: record.sha256,
        stats: JSON.stringify(record.stats),
        csv: record.csv ? JSON.stringify(record.csv) : '',
        createdAt: String(createdMs),
    };
    const reply = (await CREATE.run(
      this.redis,
      [keys.dataset(record.id), keys.tenantDatasets(record.tenant), keys.tenantStoredBytes(record.tenant)],
      [opts.maxStoredBytes ?? 0, record.bytes, createdMs, ...Object.entries(fields).flat()],
    )) as [string, string?];
    if (reply[0] === 'cap') throw new StorageQuotaError(record.tenant, opts.maxStoredBytes ?? 0, Number(reply[1]));
    return record;
  }

  /** Bytes of datasets the tenant stores (what the stored-bytes cap counts). */
  async storedBytes(tenant: string): Promise<number> {
    return Number((await this.redis.get(keys.tenantStoredBytes(tenant))) ?? 0);
  }

  async get(id: string): Promise<DatasetRecord | null> {
    return parseDatasetHash(await this.redis.hgetall(keys.dataset(id)));
  }

  async getForTenant(id: string, tenant: string): Promise<DatasetRecord | null> {
    const ds = await this.get(id);
    return ds && ds.tenant === tenant ? ds : null;
  }

  async list(tenant: string, opts: { cursor?: string; limit: number }): Promise<Page<DatasetRecord>> {
    return zsetPage<DatasetRecord>(this.redis, keys.tenantDatasets(tenant), opts, async (ids) => {
      const pipe = this.redis.pipeline();
      for (const id of ids) pipe.hgetall(keys.dataset(id));
      const results = (await pipe.exec()) ?? [];
      return results.map(([err, hash]) => {
        if (err) throw err;
        const ds = parseDatasetHash(hash as Record<string, string>);
        return ds ? { item: ds } : { skip: true as const, stale: true };
      });
    });
  }

  /** Ids of queued/running jobs that use the dataset. */
  async activeJobs(id: string): Promise<string[]> {
    return this.redis.smembers(keys.datasetActiveJobs(id));
  }

  /** 'in_use' while a queued/running job uses it; the caller deletes the blob after 'deleted'. */
  async delete(id: string, tenant: string): Promise<'deleted' | 'missing' | 'in_use'> {
    const ds = await this.getForTenant(id, tenant);
    if (!ds) return 'missing';
    return (await DELETE.run(this.redis, [keys.dataset(id), keys.datasetActiveJobs(id), keys.tenantDatasets(tenant), keys.tenantStoredBytes(tenant)], [])) as 'deleted' | 'missing' | 'in_use';
  }
}

export function parseDatasetHash(hash: Record<string, string> | null | undefined): DatasetRecord | null {
  if (!hash || !hash.id) return null;
  return {
    id: hash.id,
    tenant: hash.tenant,
    kind: hash.kind as DatasetFormat,
    name: hash.name === '' ? null : hash.name,
    blobKey: hash.blobKey,
    bytes: Number(hash.bytes),
    sha256: hash.sha256,
    stats: JSON.parse(hash.stats) as DatasetStats,
    csv: hash.csv ? (JSON.parse(hash.csv) as CsvOptions) : null,
    createdAt: new Date(Number(hash.createdAt)).toISOString(),
  };
}

/** The public view (no tenant, no blob key). */
export function toPublicDataset(record: DatasetRecord): Dataset {
  const { tenant: _tenant, blobKey: _blobKey, ...ds } = record;
  return ds;
}
