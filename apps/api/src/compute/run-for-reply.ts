import type { FastifyReply } from 'fastify';
import { ComputeBusyError } from './errors.ts';
import type { ComputePool } from './pool.ts';
import type { ComputeResults, ComputeTask } from './tasks.ts';

/** Aborts when the client goes away before its answer is sent, so a pool slot is freed for others. */
export function abortSignalOf(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const onClose = () => {
    if (!reply.raw.writableFinished) controller.abort();
  };
  reply.raw.once('close', onClose);
  return controller.signal;
}

/** Seconds a client refused with 503 compute_busy is told to wait. */
const BUSY_RETRY_AFTER_S = 1;

/** Runs a request's task in the pool: cancelled if the client leaves; a busy pool answers 503 with Retry-After. */
export async function runForReply<T extends ComputeTask>(
  pool: ComputePool,
  reply: FastifyReply,
  task: T,
  transfer: ArrayBuffer[] = [],
): Promise<ComputeResults[T['type']]> {
  try {
    return await pool.run(task, { transfer, signal: abortSignalOf(reply) });
  } catch (err) {
    if (err instanceof ComputeBusyError) reply.header('retry-after', String(BUSY_RETRY_AFTER_S));
    throw err;
  }
}
