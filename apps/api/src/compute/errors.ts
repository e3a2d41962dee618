import { ApiError } from '../errors.ts';

/** The pool's queue is full: the client may retry shortly. */
export class ComputeBusyError extends ApiError {
  override name = 'ComputeBusyError';
  constructor(queued: number) {
    super(503, 'compute_busy', `the API's compute pool is busy (${queued} tasks queued); retry shortly`);
  }
}

/** The thread running the task died (a crash, or out of memory); a replacement has been started. */
export class ComputeThreadCrashedError extends ApiError {
  override name = 'ComputeThreadCrashedError';
  constructor(reason: string) {
    super(500, 'compute_failed', `the computation failed: ${reason}`);
  }
}

/** The pool is closing (API shutdown). */
export class ComputePoolClosedError extends ApiError {
  override name = 'ComputePoolClosedError';
  constructor() {
    super(503, 'compute_busy', 'the API is shutting down; retry shortly');
  }
}

/** The task's caller went away (request aborted) before it finished. */
export class ComputeAbortedError extends Error {
  override name = 'ComputeAbortedError';
  constructor() {
    super('compute task aborted by its caller');
  }
}

/** A task failure other than a bad request: the thread's message and stack, answered as a 500. */
export class ComputeTaskError extends Error {
  override name = 'ComputeTaskError';
  constructor(message: string, stack?: string) {
    super(message);
    if (stack) this.stack = `ComputeTaskError (in a compute thread): ${stack}`;
  }
}
