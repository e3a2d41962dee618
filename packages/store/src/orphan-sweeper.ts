import { readdir, rm, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import type { Redis } from 'ioredis';
import type { FsBlobStore } from './fs-blob-store.ts';
import { blobKeys, keys } from './keys.ts';

export interface OrphanSweepResult {
  /** Blob-store paths removed ('/'-separated, relative to the store's root). */
  removed: string[];
  /** Staged uploads whose record was committed before a crash: moved to their final key. */
  published: string[];
  /** Orphans kept because they are younger than the grace period. */
  keptYoung: number;
}

interface Entry {
  path: string;
  mtimeMs: number;
}

const TEMP_FILE = /^\..*\.tmp-[0-9a-f]+$/;

/**
 * Removes what crashes and aborted writes leave in the blob store: temp files of puts that never
 * finished, staged uploads and dataset blobs with no dataset record, job artifacts with no job
 * record. Only what is older than `graceMs` (by mtime): anything younger may be a write in flight.
 * Never removes a blob a record references; a Redis error aborts the sweep before it removes anything
 * it could not check.
 */
export class OrphanSweeper {
  constructor(
    private readonly blobs: Pick<FsBlobStore, 'root' | 'move' | 'deletePrefix'>,
    private readonly redis: Redis,
    private readonly graceMs: number,
  ) {}

  async sweep(now = Date.now()): Promise<OrphanSweepResult> {
    const result: OrphanSweepResult = { removed: [], published: [], keptYoung: 0 };
    const entries = await this.walk();
    const old = (e: Entry) => now - e.mtimeMs >= this.graceMs;

    const temps = entries.filter((e) => TEMP_FILE.test(e.path.split('/').at(-1)!));
    const datasets = new Map<string, Entry[]>(); // dataset id → its final and staged blobs
    const jobs = new Map<string, Entry[]>(); // job id → its artifacts
    for (const e of entries) {
      if (temps.includes(e)) continue;
      const [top, id] = e.path.split('/');
      if (id === undefined) continue;
      if (top === 'datasets' || top === 'uploads') push(datasets, id, e);
      else if (top === 'jobs') push(jobs, id, e);
    }

    for (const e of temps) await this.remove(e, old(e), result);

    const datasetIds = [...datasets.keys()];
    const datasetExists = await this.exists(datasetIds.map((id) => keys.dataset(id)));
    for (const [i, id] of datasetIds.entries()) {
      for (const e of datasets.get(id)!) {
        if (!old(e)) {
          result.keptYoung++;
          continue;
        }
        const staged = e.path === blobKeys.stagedDataset(id);
        if (!datasetExists[i]) await this.remove(e, true, result);
        else if (staged && !datasets.get(id)!.some((other) => other.path === blobKeys.dataset(id))) {
          // Killed between committing the record and publishing the blob: finish the publish.
          await this.blobs.move(e.path, blobKeys.dataset(id));
          result.published.push(e.path);
        } else if (staged) await this.remove(e, true, result);
      }
    }

    const jobIds = [...jobs.keys()];
    const jobExists = await this.exists(jobIds.map((id) => keys.job(id)));
    for (const [i, id] of jobIds.entries()) {
      if (jobExists[i]) continue;
      const artifacts = jobs.get(id)!;
      // A job's artifacts go together, and only once the newest of them is past the grace.
      if (!artifacts.every(old)) {
        result.keptYoung++;
        continue;
      }
      await this.blobs.deletePrefix(blobKeys.jobPrefix(id));
      result.removed.push(...artifacts.map((e) => e.path));
    }
    return result;
  }

  private async remove(e: Entry, old: boolean, result: OrphanSweepResult): Promise<void> {
    if (!old) {
      result.keptYoung++;
      return;
    }
    await rm(join(this.blobs.root, ...e.path.split('/')), { force: true });
    result.removed.push(e.path);
  }

  private async exists(redisKeys: string[]): Promise<boolean[]> {
    if (redisKeys.length === 0) return [];
    const pipe = this.redis.pipeline();
    for (const key of redisKeys) pipe.exists(key);
    const replies = (await pipe.exec()) ?? [];
    return replies.map(([err, n]) => {
      if (err) throw err;
      return Number(n) > 0;
    });
  }

  /** Every file under the store's root, temp files included, with its mtime. */
  private async walk(): Promise<Entry[]> {
    const out: Entry[] = [];
    const visit = async (dir: string): Promise<void> => {
      let names;
      try {
        names = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of names) {
        const full = join(dir, e.name);
        if (e.isDirectory()) await visit(full);
        else if (e.isFile()) {
          // Gone meanwhile (a put renamed or removed it): nothing to sweep.
          const s = await stat(full).catch(() => null);
          if (s) out.push({ path: relative(this.blobs.root, full).split(sep).join('/'), mtimeMs: s.mtimeMs });
        }
      }
    };
    await visit(this.blobs.root);
    return out;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
