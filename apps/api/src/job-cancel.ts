// Cancelling a job in any non-terminal state. A queued job, or a job that no live worker holds
// (an orphan: its worker died, or BullMQ failed or dropped its entry while the record still reads
// running), is settled to `cancelled` at once by a fenced transition, which releases its dataset
// and its slot of the tenant's active-job cap. A job a live worker holds is flagged; the worker
// stops it between batches.
import { IllegalTransitionError, StaleFenceError, type JobRecord, type JobStore } from '@unroll/store';
import type { FastifyBaseLogger } from 'fastify';
import type { TrainQueue } from './plugins/queue.ts';

export type CancelOutcome = { settled: true; job: JobRecord } | { settled: false; job: JobRecord };

export async function cancelJob(jobs: JobStore, queue: TrainQueue, job: JobRecord, log: FastifyBaseLogger): Promise<CancelOutcome> {
  const { id } = job;
  // The flag first: a worker that picks the job up right now sees it and stops.
  await jobs.requestCancel(id);
  if (job.status === 'queued' || !(await queue.heldByWorker(id))) {
    try {
      // Fenced at the attempt we saw: if a worker claims the job meanwhile, it owns the ending (it
      // sees the flag) and this write is refused.
      await jobs.transition(id, 'cancelled', job.fence > 0 ? { fence: job.fence, reason: 'cancelled by the client' } : { reason: 'cancelled by the client' });
      await queue.remove(id).catch((err) => log.warn({ err: (err as Error).message }, 'could not remove the queue entry'));
    } catch (err) {
      if (!(err instanceof IllegalTransitionError) && !(err instanceof StaleFenceError)) throw err;
      // A worker started it meanwhile: it will honour the flag.
    }
  }
  const now = (await jobs.get(id))!;
  return { settled: now.status === 'cancelled', job: now };
}
