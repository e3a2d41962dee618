// One attempt of one training job: claim it (fence), train in a thread, publish every epoch
// (checkpoint blob first, then the fenced, idempotent epoch event), and end it in exactly one
// way — succeeded, failed, cancelled, back to the queue on shutdown, or retried on a crash.
import { availableParallelism } from 'node:os';
import type { Job as QueueJob } from 'bullmq';
import { UnrecoverableError, WaitingError } from 'bullmq';
import type { Logger } from 'pino';
import { checkpointsToKeep, isTerminal, type JobError, type JobEvent, type JobStatus } from '@unroll/protocol';
import {
  blobKeys,
  IllegalTransitionError,
  isRedisConnectionError,
  StaleFenceError,
  type BlobStore,
  type DatasetStore,
  type EventLog,
  type JobStore,
  type TrainJobData,
  type TransitionOptions,
} from '@unroll/store';
import { textCorpusBuffer } from '@unroll/rnn';
import { interruptedCheckpointKey, loadResumeCandidates, pruneCheckpoints } from './checkpoints.ts';
import { startTrainingThread, type TrainingThread } from './thread-runner.ts';
import type { PastEpoch, ThreadError } from './thread-protocol.ts';

export interface ProcessorDeps {
  jobs: JobStore;
  events: EventLog;
  datasets: DatasetStore;
  blobs: BlobStore;
  logger: Logger;
}

export interface ProcessorOptions {
  progressIntervalMs: number;
  /** Cores one job's training may use (the machine's divided among the jobs run at once; default: all). */
  coresPerJob?: number;
  /** Memory one job may take (WORKER_MEMORY_BUDGET_BYTES), checked by the training thread. */
  memoryBudgetBytes?: number;
  /** How often the attempt checks the job record for a cancel request. */
  cancelPollMs: number;
  /**
   * How long the attempt retries a Redis write that failed because Redis is unreachable (default
   * 5 min). Meanwhile the thread keeps training and its messages wait, in order, in memory.
   */
  redisOutageToleranceMs?: number;
  /**
   * TEST ONLY (env UNROLL_TEST_CRASH_AT_EPOCH): SIGKILL this process right after publishing an
   * epoch >= this number, to simulate a job that kills its worker (poison job, crash scenarios).
   */
  testCrashAtEpoch?: number;
}

const REDIS_RETRY_MAX_DELAY_MS = 1000;

/** Data of a BullMQ job on `unroll-train` (the BullMQ job id is the Unroll job id too). */
export type TrainQueueData = TrainJobData;

export type AttemptOutcome = { status: 'succeeded' | 'failed' | 'cancelled'; epochs: number } | { status: 'skipped'; reason: string };

/** Where the client downloads the weights (apps/api routes). */
export function weightsUrls(jobId: string): { safetensors: string; json: string } {
  return { safetensors: `/v1/jobs/${jobId}/weights`, json: `/v1/jobs/${jobId}/weights?format=json` };
}

/**
 * Runs one attempt. `shutdown` aborts when the process is stopping: the thread checkpoints at
 * the next batch boundary and the job goes back to the queue (WaitingError) for another worker.
 */
export async function processTrainingJob(
  queueJob: QueueJob<TrainQueueData>,
  token: string | undefined,
  deps: ProcessorDeps,
  options: ProcessorOptions,
  shutdown: AbortSignal,
): Promise<AttemptOutcome> {
  const maybeId = queueJob.data.jobId ?? queueJob.id;
  if (!maybeId) throw new UnrecoverableError('queue job carries no job id');
  const jobId: string = maybeId;
  const log = deps.logger.child({ jobId, queueAttempt: queueJob.attemptsMade + 1 });

  const record = await deps.jobs.get(jobId);
  if (!record) {
    log.warn('job record is gone (expired or never written); dropping the queue job');
    return { status: 'skipped', reason: 'missing record' };
  }
  if (isTerminal(record.status)) {
    log.info({ status: record.status }, 'job already finished; nothing to do');
    return { status: 'skipped', reason: `already ${record.status}` };
  }

  const fence = await deps.jobs.claimAttempt(jobId);
  const fenced = { fence };
  const attemptLog = log.child({ attempt: fence });

  /**
   * Runs a Redis write, retrying while Redis is unreachable (up to redisOutageToleranceMs; not once
   * the process is stopping, so a shutdown during an outage stays bounded). Fence and lifecycle
   * errors are never retried.
   */
  const untilRedisAnswers = async <T>(what: string, write: () => Promise<T>): Promise<T> => {
    const deadline = Date.now() + (options.redisOutageToleranceMs ?? 300_000);
    let delay = 100;
    let warned = false;
    for (;;) {
      try {
        const result = await write();
        if (warned) attemptLog.info({ what }, 'Redis is back; publishing what training produced meanwhile');
        return result;
      } catch (err) {
        if (!isRedisConnectionError(err) || shutdown.aborted || Date.now() >= deadline) throw err;
        if (!warned) attemptLog.warn({ what, err: (err as Error).message }, 'Redis unreachable; training continues, its events wait in memory');
        warned = true;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, REDIS_RETRY_MAX_DELAY_MS);
      }
    }
  };
  /**
   * A fenced transition that survives an outage. A write Redis applied but whose answer was lost
   * is re-sent after the reconnect and then refused as illegal: already there counts as done.
   */
  const transitionOnce = (to: JobStatus, opts: Omit<TransitionOptions, 'fence'> = {}) =>
    untilRedisAnswers(`${to} transition`, async () => {
      try {
        await deps.jobs.transition(jobId, to, { ...opts, fence });
      } catch (err) {
        if (!(err instanceof IllegalTransitionError)) throw err;
        const now = await deps.jobs.get(jobId);
        if (now?.status !== to || now.fence !== fence) throw err;
      }
    });
  /** Artifacts are written only while this attempt still owns the job (a zombie writes nothing). */
  const assertStillOwner = () => untilRedisAnswers('fence check', () => deps.jobs.assertFence(jobId, fence));

  if (record.cancelRequested) {
    await deps.jobs.transition(jobId, 'cancelled', fenced);
    attemptLog.info('cancelled before it started');
    return { status: 'cancelled', epochs: 0 };
  }
  // A previous attempt died while running (stalled or crashed): record the requeue first.
  if (record.status === 'running') await deps.jobs.transition(jobId, 'queued', fenced);
  await deps.jobs.transition(jobId, 'running', fenced);

  const fail = async (error: JobError & { epoch?: number; step?: number }): Promise<never> => {
    const { epoch, step, ...jobError } = error;
    const event: JobEvent = { type: 'failed', ...jobError, ...(epoch !== undefined ? { epoch } : {}), ...(step !== undefined ? { step } : {}) };
    await transitionOnce('failed', { error: jobError, event });
    attemptLog.warn({ error }, 'job failed');
    throw new UnrecoverableError(`${error.code}: ${error.message}`);
  };

  const dataset = await deps.datasets.get(record.spec.datasetId);
  // A private copy: its ArrayBuffer is transferred to the thread (and detached here). The fetched
  // Buffer stays inside privateCopy, so a large corpus is not held a second time during the run.
  const datasetBytes = dataset ? await privateCopy(deps.blobs.get(dataset.blobKey), dataset.kind === 'text') : null;
  if (!dataset || !datasetBytes) {
    return fail({ code: 'invalid_dataset', message: `dataset ${record.spec.datasetId} no longer exists`, param: 'datasetId' });
  }

  const checkpoints = await loadResumeCandidates(deps.blobs, jobId);
  const thread = startTrainingThread({
    jobId,
    spec: record.spec,
    dataset: { kind: dataset.kind, bytes: datasetBytes, csv: dataset.csv },
    checkpoints,
    pastEpochs: await readPastEpochs(deps.events, jobId),
    progressIntervalMs: options.progressIntervalMs,
    cores: options.coresPerJob ?? availableParallelism(),
    ...(options.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: options.memoryBudgetBytes } : {}),
  });

  const onShutdown = () => thread.requestStop('shutdown');
  shutdown.addEventListener('abort', onShutdown, { once: true });
  if (shutdown.aborted) onShutdown();
  const cancelPoll = setInterval(() => {
    deps.jobs.isCancelRequested(jobId).then(
      (requested) => requested && thread.requestStop('cancel'),
      (err: unknown) => attemptLog.warn({ err }, 'cancel poll failed (Redis unavailable?)'),
    );
  }, options.cancelPollMs);

  try {
    return await followThread(thread);
  } catch (err) {
    if (err instanceof StaleFenceError) {
      // A newer attempt owns the job (this one stalled and was re-run elsewhere): publish nothing more.
      attemptLog.warn('fence is stale: a newer attempt owns this job; abandoning this attempt');
    }
    throw err;
  } finally {
    clearInterval(cancelPoll);
    shutdown.removeEventListener('abort', onShutdown);
    await thread.terminate();
  }

  async function followThread(thread: TrainingThread): Promise<AttemptOutcome> {
    let lastEpoch = 0;
    let lastMetrics: { trainLoss: number; valLoss?: number | null } | null = null;
    for await (const msg of thread.messages) {
      switch (msg.type) {
        case 'started':
          lastEpoch = msg.resumedFromEpoch;
          for (const rejected of msg.rejectedCheckpoints) attemptLog.warn(rejected, 'checkpoint failed verification; trying an older one');
          if (msg.resumedFromKey) attemptLog.info({ from: msg.resumedFromKey, epoch: msg.resumedFromEpoch }, 'resuming from checkpoint');
          else attemptLog.info({ epochs: record!.spec.training.epochs }, 'training from scratch');
          break;

        case 'progress': {
          const { type: _type, ...progress } = msg;
          await untilRedisAnswers('progress event', () => deps.events.append(jobId, { type: 'progress', ...progress }, fenced));
          break;
        }

        case 'epoch': {
          // Durable state first: an epoch event always has its checkpoint behind it. (A null state
          // re-publishes the epoch of the checkpoint this attempt resumed from: already durable.)
          const ckptKey = blobKeys.checkpoint(jobId, msg.epoch);
          await assertStillOwner();
          const ckpt = msg.state ? await deps.blobs.put(ckptKey, msg.state) : null;
          if (msg.bestWeights) {
            const bestState = msg.state ?? (await deps.blobs.get(ckptKey));
            if (bestState) await deps.blobs.put(blobKeys.bestCheckpoint(jobId), bestState);
            await deps.blobs.put(blobKeys.bestWeights(jobId), msg.bestWeights);
          }
          const streamId = await untilRedisAnswers('epoch event', () =>
            deps.events.append(jobId, { type: 'epoch', ...msg.metrics, epoch: msg.epoch } as JobEvent, fenced),
          );
          if (streamId !== null) {
            const bytes = ckpt?.bytes ?? (await deps.blobs.stat(ckptKey))?.bytes;
            const checkpointEvent: JobEvent = { type: 'checkpoint', epoch: msg.epoch, ...(bytes !== undefined ? { bytes } : {}), ...(ckpt ? { sha256: ckpt.sha256 } : {}) };
            await untilRedisAnswers('checkpoint event', () => deps.events.append(jobId, checkpointEvent, fenced));
          }
          await pruneCheckpoints(deps.blobs, jobId, checkpointsToKeep(record!.spec));
          lastEpoch = msg.epoch;
          lastMetrics = msg.metrics;
          attemptLog.info({ epoch: msg.epoch, trainLoss: msg.metrics.trainLoss, valLoss: msg.metrics.valLoss, best: msg.metrics.best }, 'epoch done');
          if (msg.stopEarly) attemptLog.info({ epoch: msg.epoch }, 'early stopping: validation loss stopped improving');
          if (options.testCrashAtEpoch !== undefined && msg.epoch >= options.testCrashAtEpoch) {
            attemptLog.warn({ epoch: msg.epoch }, 'UNROLL_TEST_CRASH_AT_EPOCH: killing this worker process (test only)');
            process.kill(process.pid, 'SIGKILL');
          }
          break;
        }

        case 'done': {
          const earlyStopping = record!.spec.training.earlyStopping !== null;
          const best = earlyStopping && msg.bestEpoch !== null ? await deps.blobs.get(blobKeys.bestWeights(jobId)) : null;
          // With early stopping the delivered model is the best epoch's (restore-best semantics).
          const weights = best ?? msg.finalWeights;
          // Under this attempt's own key first: only the attempt whose fenced `succeeded` lands
          // gets its key recorded (weightsKey), and the API serves that key, so a zombie attempt's
          // weights are never served. The well-known final.safetensors is written too, before the
          // job reads as succeeded (readers of the blob store expect it then).
          const weightsKey = blobKeys.attemptFinalWeights(jobId, fence);
          await assertStillOwner();
          await deps.blobs.put(weightsKey, weights);
          await deps.blobs.put(blobKeys.finalWeights(jobId), weights);
          const finalLoss = msg.finalLoss ?? lastMetrics?.valLoss ?? lastMetrics?.trainLoss ?? null;
          await transitionOnce('succeeded', {
            fields: { weightsKey },
            event: { type: 'completed', weights: weightsUrls(jobId), bestEpoch: msg.bestEpoch, finalLoss },
          });
          attemptLog.info({ epochs: msg.epoch, bestEpoch: msg.bestEpoch, finalLoss }, 'job succeeded');
          return { status: 'succeeded', epochs: msg.epoch };
        }

        case 'stopped':
          if (msg.reason === 'cancel') {
            await transitionOnce('cancelled');
            attemptLog.info({ epoch: msg.epoch, step: msg.step }, 'job cancelled');
            return { status: 'cancelled', epochs: lastEpoch };
          }
          // Shutdown: save where it stopped (a batch boundary), then hand the job back to the queue
          // without using up an attempt; the next worker resumes from this checkpoint.
          if (msg.state) {
            await deps.jobs.assertFence(jobId, fence);
            await deps.blobs.put(interruptedCheckpointKey(jobId, msg.epoch, msg.step), msg.state);
          }
          await deps.jobs.transition(jobId, 'queued', fenced);
          if (token) await queueJob.moveToWait(token);
          attemptLog.info({ epoch: msg.epoch, step: msg.step }, 'worker stopping: checkpointed and returned the job to the queue');
          throw new WaitingError();

        case 'error':
          return handleThreadError(msg.error);
      }
    }
    throw new Error('training thread ended without a result');
  }

  async function handleThreadError(error: ThreadError): Promise<never> {
    const { retryable, stack, line, column, ...rest } = error;
    if (!retryable) {
      const message = line !== undefined ? `${rest.message} (line ${line}${column !== undefined ? `, column ${column}` : ''})` : rest.message;
      return fail({ ...rest, message });
    }
    const attemptsAllowed = queueJob.opts.attempts ?? 1;
    if (queueJob.attemptsMade + 1 >= attemptsAllowed) {
      return fail({ code: 'training_failed', message: `${rest.message} (after ${attemptsAllowed} attempts)` });
    }
    await transitionOnce('queued');
    attemptLog.warn({ error: rest.message, stack }, 'attempt failed; BullMQ retries it from the last checkpoint');
    throw new Error(rest.message);
  }
}

/**
 * A copy of a fetched blob in its own ArrayBuffer (a Buffer may be a view into a shared pool). A
 * text corpus goes where the thread decodes it in place (textCorpusBuffer), so its bytes and its
 * token array are not both held.
 */
async function privateCopy(fetching: Promise<Buffer | null>, textCorpus: boolean): Promise<Uint8Array | null> {
  const fetched = await fetching;
  if (!fetched) return null;
  const copy = textCorpus ? textCorpusBuffer(fetched.length) : new Uint8Array(fetched.length);
  copy.set(fetched);
  return copy;
}

/** Validation losses of the epochs already published, so early stopping survives a resume. */
async function readPastEpochs(events: EventLog, jobId: string): Promise<PastEpoch[]> {
  const out: PastEpoch[] = [];
  let after: string | undefined;
  for (;;) {
    const page = await events.read(jobId, { after, count: 1000 });
    for (const { event } of page) {
      if (event.type === 'epoch') out.push({ epoch: event.epoch, valLoss: event.valLoss ?? null });
    }
    if (page.length < 1000) return out;
    after = page[page.length - 1].id;
  }
}

