import { finished, PassThrough } from 'node:stream';
import type { IncomingMessage } from 'node:http';

/** The client went away before its upload's body was complete. */
export class UploadAbortedError extends Error {
  override name = 'UploadAbortedError';
  constructor() {
    super('the client disconnected before the upload was complete');
  }
}

/**
 * The request body as a stream of our own, for the blob store to consume. Ours so that stopping
 * at the size limit (the store destroys its source) leaves the request socket alone long enough
 * to answer 413. `.pipe` alone does not pass an abort on: a client that disconnects mid-body left
 * this stream open for ever, and with it the store's write, its fd and its temp file. Here an
 * aborted or failed request destroys it at once, so the store's pipeline fails and cleans up.
 * `detach()` (idempotent) removes the listeners once the store is done with the stream.
 */
export function uploadBody(request: IncomingMessage): { stream: PassThrough; readonly aborted: boolean; detach(): void } {
  const stream = new PassThrough();
  // The abort may come before the store attached its pipeline (it creates the directory first):
  // the pipeline then sees a destroyed stream and fails; this keeps the error from being uncaught.
  stream.on('error', () => {});
  request.pipe(stream);
  let aborted = false;
  const stopWatching = finished(request, (err) => {
    if (!err) return;
    aborted = true;
    if (!stream.destroyed) stream.destroy(new UploadAbortedError());
  });
  let detached = false;
  return {
    stream,
    get aborted() {
      return aborted;
    },
    detach() {
      if (detached) return;
      detached = true;
      stopWatching();
      request.unpipe(stream);
    },
  };
}
