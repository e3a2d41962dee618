import type { Redis } from 'ioredis';
import type { CsvOptions, Dataset, DatasetFormat, DatasetStats } from '@unroll/protocol';
import { keys } from './keys.ts';
import { LuaScript } from './scripts.ts';
import { zsetPage, type Page } from './pagination.ts';

export interface DatasetRecord extends Dataset {
  tenant: string;
  blobKey: string;
}

// KEYS: dataset, activeJobs, tenantDatasets. Refuses while a queued/running job uses it.
const DELETE = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 'missing' end
if redis.call('SCARD', KEYS[2]) > 0 then return 'in_use' end
local id = redis.call('HGET', KEYS[1], 'id')
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], id)
return 'deleted'
`);

/** Dataset records (`unroll:dataset:{id}` hashes); the bytes live in the BlobStore. */
export class DatasetStore {
  constructor(readonly redis: Redis) {}

  async create(record: DatasetRecord): Promise<DatasetRecord> {
    const createdMs = Date.parse(record.createdAt);
    await this.redis
      .multi()
      .hset(keys.dataset(record.id), {
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
      })
      .zadd(keys.tenantDatasets(record.tenant), createdMs, record.id)
      .exec();
    return record;
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
    return (await DELETE.run(this.redis, [keys.dataset(id), keys.datasetActiveJobs(id), keys.tenantDatasets(tenant)], [])) as 'deleted' | 'missing' | 'in_use';
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
