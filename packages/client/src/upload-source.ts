// What POST /v1/datasets can stream from, and the content type each file name implies.
// Node-only pieces (files, Node streams) are imported lazily so the client also bundles for browsers.

/** A file path (Node), a Node readable stream, a web ReadableStream, a Blob / File, bytes or a string. */
export type UploadSource = string | URL | NodeJS.ReadableStream | ReadableStream<Uint8Array> | Blob | Uint8Array | ArrayBuffer;

export interface ResolvedBody {
  body: NonNullable<RequestInit['body']>;
  /** Node's fetch needs `duplex: 'half'` for streamed bodies. */
  streamed: boolean;
  /** File name, when the source had one: used for the content type and the dataset name. */
  fileName: string | null;
}

const CONTENT_TYPES: Record<string, string> = {
  txt: 'text/plain',
  text: 'text/plain',
  md: 'text/plain',
  json: 'application/json',
  csv: 'text/csv',
};

/** text/plain, application/json or text/csv from a file name's extension (text/plain when unknown). */
export function contentTypeForFileName(fileName: string | null): string {
  const ext = fileName?.toLowerCase().match(/\.([a-z0-9]+)$/)?.[1];
  return (ext && CONTENT_TYPES[ext]) || 'text/plain';
}

function isNodeReadable(source: unknown): source is NodeJS.ReadableStream {
  return typeof source === 'object' && source !== null && typeof (source as NodeJS.ReadableStream).pipe === 'function' && Symbol.asyncIterator in source;
}

/**
 * A string is a file path (the contents of a string are uploaded with `Uint8Array`/`Blob`).
 * Files are streamed, never read whole into memory.
 */
export async function resolveUploadSource(source: UploadSource): Promise<ResolvedBody> {
  if (typeof source === 'string' || source instanceof URL) {
    const fs = await import('node:fs');
    const path = await import('node:path');
    const { fileURLToPath } = await import('node:url');
    const filePath = source instanceof URL ? fileURLToPath(source) : source;
    // Fails early (ENOENT, EISDIR) with a clear message instead of a half-sent request.
    const stat = await fs.promises.stat(filePath);
    if (!stat.isFile()) throw new Error(`${filePath} is not a file`);
    const { Readable } = await import('node:stream');
    const web = Readable.toWeb(fs.createReadStream(filePath)) as unknown as ReadableStream<Uint8Array>;
    return { body: web, streamed: true, fileName: path.basename(filePath) };
  }
  if (isNodeReadable(source)) {
    const { Readable } = await import('node:stream');
    const nodeStream = source as NodeJS.ReadableStream & { path?: unknown };
    const fileName = typeof nodeStream.path === 'string' ? nodeStream.path.split(/[\\/]/).pop()! : null;
    const web = Readable.toWeb(Readable.from(nodeStream as AsyncIterable<Uint8Array>)) as unknown as ReadableStream<Uint8Array>;
    return { body: web, streamed: true, fileName };
  }
  if (typeof ReadableStream !== 'undefined' && source instanceof ReadableStream) return { body: source, streamed: true, fileName: null };
  if (typeof Blob !== 'undefined' && source instanceof Blob) {
    const name = (source as Blob & { name?: unknown }).name;
    return { body: source, streamed: false, fileName: typeof name === 'string' ? name : null };
  }
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) return { body: source as NonNullable<RequestInit['body']>, streamed: false, fileName: null };
  throw new TypeError('upload source must be a file path, a stream, a Blob or bytes');
}
