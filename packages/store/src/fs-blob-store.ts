import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertValidBlobKey, BlobTooLargeError, type BlobInfo, type BlobStat, type BlobStore, type PutOptions } from './blob-store.ts';

/**
 * Blobs as files under `root`. A put writes a temp file in the target's own directory
 * (`.name.tmp-<random>`, so the rename never crosses filesystems), fsyncs it, renames it over
 * the target and fsyncs the directory: after a crash the key holds the old or the new bytes.
 */
export class FsBlobStore implements BlobStore {
  constructor(readonly root: string) {}

  private pathOf(key: string): string {
    assertValidBlobKey(key);
    const path = join(this.root, ...key.split('/'));
    // Belt and braces: the key grammar already forbids escapes.
    if (relative(this.root, path).startsWith('..')) throw new Error(`blob key escapes the root: ${key}`);
    return path;
  }

  async put(key: string, data: Uint8Array | Readable, options: PutOptions = {}): Promise<BlobInfo> {
    const path = this.pathOf(key);
    const dir = dirname(path);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.${path.slice(dir.length + 1)}.tmp-${randomBytes(6).toString('hex')}`);
    const hash = createHash('sha256');
    let bytes = 0;
    const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    const meter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > maxBytes) return done(new BlobTooLargeError(maxBytes));
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const source = data instanceof Readable ? data : Readable.from([Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
    const out = createWriteStream(tmp, { flags: 'wx' });
    try {
      await pipeline(source, meter, out);
      const handle = await open(tmp, 'r+');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(tmp, path);
      await syncDir(dir);
    } catch (err) {
      // The stream opens its file asynchronously: a source that fails first leaves that open in
      // flight, and the file would appear after the rm. Wait until the stream has closed it.
      if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
      await rm(tmp, { force: true });
      // Stop reading the rest of a too-large upload.
      if (data instanceof Readable && !data.destroyed) data.destroy();
      throw err;
    }
    return { bytes, sha256: hash.digest('hex') };
  }

  async get(key: string): Promise<Buffer | null> {
    try {
      return await readFile(this.pathOf(key));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async stream(key: string): Promise<Readable | null> {
    const path = this.pathOf(key);
    const handle = await open(path, 'r').catch((err) => {
      if (isNotFound(err)) return null;
      throw err;
    });
    if (handle === null) return null;
    return handle.createReadStream({ autoClose: true });
  }

  async stat(key: string): Promise<BlobStat | null> {
    try {
      const s = await stat(this.pathOf(key));
      if (!s.isFile()) return null;
      return { bytes: s.size, modifiedAt: s.mtime };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async delete(key: string): Promise<boolean> {
    const path = this.pathOf(key);
    try {
      await rm(path);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  /**
   * Renames blob `from` to `to` (same filesystem, atomic) and fsyncs both directories: publishes
   * a staged upload under its final key once its record is committed.
   */
  async move(from: string, to: string): Promise<void> {
    const source = this.pathOf(from);
    const target = this.pathOf(to);
    await mkdir(dirname(target), { recursive: true });
    await rename(source, target);
    await syncDir(dirname(target));
    if (dirname(source) !== dirname(target)) await syncDir(dirname(source));
  }

  /** Removes every blob under `prefix/` (a job's artifacts). */
  async deletePrefix(prefix: string): Promise<void> {
    const trimmed = prefix.replace(/\/+$/, '');
    await rm(this.pathOf(trimmed), { recursive: true, force: true });
  }

  async list(prefix: string): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (isNotFound(err)) return;
        throw err;
      }
      for (const e of entries) {
        if (e.name.startsWith('.')) continue; // temp files of puts in flight
        const full = join(dir, e.name);
        if (e.isDirectory()) await walk(full);
        else if (e.isFile()) out.push(relative(this.root, full).split(sep).join('/'));
      }
    };
    // Walk only the deepest directory the prefix names, then filter by the full prefix.
    const slash = prefix.lastIndexOf('/');
    const dirPart = slash >= 0 ? prefix.slice(0, slash) : '';
    if (dirPart !== '') assertValidBlobKey(dirPart);
    await walk(dirPart === '' ? this.root : join(this.root, ...dirPart.split('/')));
    return out.filter((k) => k.startsWith(prefix)).sort();
  }
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT' || (err as NodeJS.ErrnoException)?.code === 'ENOTDIR';
}
