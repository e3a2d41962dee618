// One attempt of one training job: claim it (fence), start the training thread and hand each of
// its messages to the attempt (apps/worker/src/attempt.ts), which owns every transition. Anything
// that goes wrong, here or there, ends in the attempt's one ending.
import { availableParallelism } from 'node:os';
import type { Job as QueueJob } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import type { Logger } from 'pino';
import { isTerminal } from '@unroll/protocol';
import type { BlobStore, DatasetStore, EventLog, JobStore, TrainJobData } from '@unroll/store';
import { textCorpusBuffer } from '@unroll/rnn';
import { AttemptFailure, TrainingAttempt, type AttemptOutcome } from './attempt.ts';
import { loadResumeCandidates } from './checkpoints.ts';
import { startTrainingThread, type TrainingThread } from './thread-runner.ts';
import type { PastEpoch } from './thread-protocol.ts';

export { weightsUrls, type AttemptOutcome } from './attempt.ts';

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

/** Data of a BullMQ job on `unroll-train` (the BullMQ job id is the Unroll job id too). */
export type TrainQueueData = TrainJobData;

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
  const attempt = new TrainingAttempt({
    jobId,
    fence,
    record,
    queueJob,
    token,
    jobs: deps.jobs,
    events: deps.events,
    blobs: deps.blobs,
    logger: log.child({ attempt: fence }),
    shutdown,
    redisOutageToleranceMs: options.redisOutageToleranceMs ?? 300_000,
    testCrashAtEpoch: options.testCrashAtEpoch,
  });
  let thread: TrainingThread | null = null;
  try {
    if (record.cancelRequested) return await attempt.cancel();
    await attempt.begin(record.status);

    const dataset = await deps.datasets.get(record.spec.datasetId);
    // A private copy: its ArrayBuffer is transferred to the thread (and detached here). The fetched
    // Buffer stays inside privateCopy, so a large corpus is not held a second time during the run.
    const datasetBytes = dataset ? await privateCopy(deps.blobs.get(dataset.blobKey), dataset.kind === 'text') : null;
    if (!dataset || !datasetBytes) {
      throw new AttemptFailure({ code: 'invalid_dataset', message: `dataset ${record.spec.datasetId} no longer exists`, param: 'datasetId' }, true);
    }
    const checkpoints = await loadResumeCandidates(deps.blobs, jobId);
    const pastEpochs = await readPastEpochs(deps.events, jobId);
    thread = startTrainingThread({
      jobId,
      spec: record.spec,
      dataset: { kind: dataset.kind, bytes: datasetBytes, csv: dataset.csv },
      checkpoints,
      pastEpochs,
      progressIntervalMs: options.progressIntervalMs,
      cores: options.coresPerJob ?? availableParallelism(),
      ...(options.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: options.memoryBudgetBytes } : {}),
    });
    return await followThread(thread, attempt, deps.jobs, jobId, options.cancelPollMs, shutdown);
  } catch (err) {
    return await attempt.fail(err);
  } finally {
    await thread?.terminate();
  }
}

/** Hands each thread message to the attempt; stop requests (shutdown, cancel) go to the thread. */
async function followThread(
  thread: TrainingThread,
  attempt: TrainingAttempt,
  jobs: JobStore,
  jobId: string,
  cancelPollMs: number,
  shutdown: AbortSignal,
): Promise<AttemptOutcome> {
  const onShutdown = () => thread.requestStop('shutdown');
  shutdown.addEventListener('abort', onShutdown, { once: true });
  if (shutdown.aborted) onShutdown();
  const cancelPoll = setInterval(() => {
    jobs.isCancelRequested(jobId).then(
      (requested) => requested && thread.requestStop('cancel'),
      (err: unknown) => attempt.log.warn({ err }, 'cancel poll failed (Redis unavailable?)'),
    );
  }, cancelPollMs);
  try {
    for await (const msg of thread.messages) {
      switch (msg.type) {
        case 'started':
          attempt.started(msg);
          break;
        case 'progress':
          await attempt.publishProgress(msg);
          break;
        case 'epoch':
          await attempt.publishEpoch(msg);
          break;
        case 'done':
          return await attempt.succeed(msg);
        case 'stopped':
          return msg.reason === 'cancel' ? await attempt.cancel({ epoch: msg.epoch, step: msg.step }) : await attempt.requeue(msg);
        case 'error':
          return await attempt.threadError(msg.error);
      }
    }
    throw new Error('training thread ended without a result');
  } finally {
    clearInterval(cancelPoll);
    shutdown.removeEventListener('abort', onShutdown);
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

