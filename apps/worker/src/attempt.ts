// One attempt of one training job, from its claim (fence) to its single ending. It owns the fence,
// the logger, the Redis-outage retry of its writes and every transition the attempt may make, so
// whatever happens — a thread message, a storage error, an unexpected exception — the job record
// ends in exactly one state: succeeded, failed, cancelled, back to the queue on shutdown, or back to
// the queue with the reason of a retried failure.
import type { Job as QueueJob } from 'bullmq';
import { UnrecoverableError, WaitingError } from 'bullmq';
import type { Logger } from 'pino';
import { checkpointsToKeep, type JobError, type JobEvent, type JobStatus } from '@unroll/protocol';
import {
  blobKeys,
  IllegalTransitionError,
  isRedisConnectionError,
  StaleFenceError,
  type BlobStore,
  type EventLog,
  type JobRecord,
  type JobStore,
  type TransitionOptions,
} from '@unroll/store';
import { interruptedCheckpointKey, pruneCheckpoints } from './checkpoints.ts';
import type { ThreadError, ThreadMessage } from './thread-protocol.ts';

const REDIS_RETRY_MAX_DELAY_MS = 1000;

/** Filesystem errors of the blob store: infrastructure (retried), reported as `storage_failed`. */
const STORAGE_ERROR_CODES = new Set(['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'EIO', 'ENOTDIR', 'EISDIR', 'EEXIST', 'EMFILE', 'ENFILE', 'EBUSY']);

export type AttemptOutcome = { status: 'succeeded' | 'failed' | 'cancelled'; epochs: number } | { status: 'skipped'; reason: string };

/** A failure the attempt reports as the job's error: deterministic ones are never retried. */
export class AttemptFailure extends Error {
  constructor(
    readonly error: JobError & { epoch?: number; step?: number },
    readonly deterministic: boolean,
  ) {
    super(`${error.code}: ${error.message}`);
  }
}

export interface AttemptContext {
  jobId: string;
  fence: number;
  record: JobRecord;
  queueJob: QueueJob;
  token: string | undefined;
  jobs: JobStore;
  events: EventLog;
  blobs: BlobStore;
  logger: Logger;
  shutdown: AbortSignal;
  redisOutageToleranceMs: number;
  /** TEST ONLY: see ProcessorOptions.testCrashAtEpoch. */
  testCrashAtEpoch?: number;
}

/** Where the client downloads the weights (apps/api routes). */
export function weightsUrls(jobId: string): { safetensors: string; json: string } {
  return { safetensors: `/v1/jobs/${jobId}/weights`, json: `/v1/jobs/${jobId}/weights?format=json` };
}

type EpochMessage = Extract<ThreadMessage, { type: 'epoch' }>;
type DoneMessage = Extract<ThreadMessage, { type: 'done' }>;
type StoppedMessage = Extract<ThreadMessage, { type: 'stopped' }>;

export class TrainingAttempt {
  readonly log: Logger;
  private finished: Promise<AttemptOutcome> | null = null;
  private lastEpoch = 0;
  private lastMetrics: { trainLoss: number | null; valLoss?: number | null } | null = null;

  constructor(private readonly ctx: AttemptContext) {
    this.log = ctx.logger;
  }

  get epochsDone(): number {
    return this.lastEpoch;
  }

  /** Whether the attempt has already made (or is making) its one ending. */
  get isFinished(): boolean {
    return this.finished !== null;
  }

  /**
   * The attempt starts: `running`, after recording the requeue of a previous attempt that died
   * while running (stalled or crashed). Both survive a Redis outage, including one that lost the
   * reply of an applied write (ioredis re-sends it; the repeat is refused as illegal, already done).
   */
  async begin(previousStatus: JobStatus): Promise<void> {
    if (previousStatus === 'running') await this.transitionOnce('queued', { reason: 'the previous attempt stopped responding (worker crashed or stalled)' });
    await this.transitionOnce('running');
  }

  /** The thread started: resumed from a checkpoint (epoch) or from scratch. */
  started(msg: Extract<ThreadMessage, { type: 'started' }>): void {
    this.lastEpoch = msg.resumedFromEpoch;
    for (const rejected of msg.rejectedCheckpoints) this.log.warn(rejected, 'checkpoint failed verification; trying an older one');
    if (msg.resumedFromKey) this.log.info({ from: msg.resumedFromKey, epoch: msg.resumedFromEpoch }, 'resuming from checkpoint');
    else this.log.info({ epochs: this.ctx.record.spec.training.epochs }, 'training from scratch');
  }

  async publishProgress(msg: Extract<ThreadMessage, { type: 'progress' }>): Promise<void> {
    const { type: _type, ...progress } = msg;
    await this.untilRedisAnswers('progress event', () => this.ctx.events.append(this.ctx.jobId, { type: 'progress', ...progress }, this.fenced));
  }

  /** Durable state first: an epoch event always has its checkpoint behind it. */
  async publishEpoch(msg: EpochMessage): Promise<void> {
    const { jobId, blobs, events } = this.ctx;
    // A null state re-publishes the epoch of the checkpoint this attempt resumed from: already durable.
    const ckptKey = blobKeys.checkpoint(jobId, msg.epoch);
    await this.assertStillOwner();
    const ckpt = msg.state ? await blobs.put(ckptKey, msg.state) : null;
    if (msg.bestWeights) {
      const bestState = msg.state ?? (await blobs.get(ckptKey));
      if (bestState) await blobs.put(blobKeys.bestCheckpoint(jobId), bestState);
      await blobs.put(blobKeys.bestWeights(jobId), msg.bestWeights);
    }
    const streamId = await this.untilRedisAnswers('epoch event', () => events.append(jobId, { type: 'epoch', ...msg.metrics, epoch: msg.epoch } as JobEvent, this.fenced));
    if (streamId !== null) {
      const bytes = ckpt?.bytes ?? (await blobs.stat(ckptKey))?.bytes;
      const checkpointEvent: JobEvent = { type: 'checkpoint', epoch: msg.epoch, ...(bytes !== undefined ? { bytes } : {}), ...(ckpt ? { sha256: ckpt.sha256 } : {}) };
      await this.untilRedisAnswers('checkpoint event', () => events.append(jobId, checkpointEvent, this.fenced));
    }
    await pruneCheckpoints(blobs, jobId, checkpointsToKeep(this.ctx.record.spec));
    this.lastEpoch = msg.epoch;
    this.lastMetrics = msg.metrics as { trainLoss: number | null; valLoss?: number | null };
    this.log.info({ epoch: msg.epoch, trainLoss: msg.metrics.trainLoss, valLoss: msg.metrics.valLoss, best: msg.metrics.best }, 'epoch done');
    if (msg.stopEarly) this.log.info({ epoch: msg.epoch }, 'early stopping: validation loss stopped improving');
    if (this.ctx.testCrashAtEpoch !== undefined && msg.epoch >= this.ctx.testCrashAtEpoch) {
      this.log.warn({ epoch: msg.epoch }, 'UNROLL_TEST_CRASH_AT_EPOCH: killing this worker process (test only)');
      process.kill(process.pid, 'SIGKILL');
    }
  }

  /** Final weights, then the fenced `succeeded` (a storage error before it is a retryable failure). */
  async succeed(msg: DoneMessage): Promise<AttemptOutcome> {
    const { jobId, fence, blobs, record } = this.ctx;
    const earlyStopping = record.spec.training.earlyStopping !== null;
    const best = earlyStopping && msg.bestEpoch !== null ? await blobs.get(blobKeys.bestWeights(jobId)) : null;
    // With early stopping the delivered model is the best epoch's (restore-best semantics).
    const weights = best ?? msg.finalWeights;
    // Under this attempt's own key first: only the attempt whose fenced `succeeded` lands gets its
    // key recorded (weightsKey), and the API serves that key, so a zombie attempt's weights are
    // never served. The well-known final.safetensors is written too, before the job reads as
    // succeeded (readers of the blob store expect it then).
    const weightsKey = blobKeys.attemptFinalWeights(jobId, fence);
    await this.assertStillOwner();
    await blobs.put(weightsKey, weights);
    await blobs.put(blobKeys.finalWeights(jobId), weights);
    const candidate = msg.finalLoss ?? this.lastMetrics?.valLoss ?? this.lastMetrics?.trainLoss ?? null;
    const finalLoss = candidate !== null && Number.isFinite(candidate) ? candidate : null;
    return this.finish(async () => {
      await this.transitionOnce('succeeded', {
        fields: { weightsKey },
        event: { type: 'completed', weights: weightsUrls(jobId), bestEpoch: msg.bestEpoch, finalLoss },
      });
      this.log.info({ epochs: msg.epoch, bestEpoch: msg.bestEpoch, finalLoss }, 'job succeeded');
      return { status: 'succeeded' as const, epochs: msg.epoch };
    });
  }

  cancel(at?: { epoch: number; step: number }): Promise<AttemptOutcome> {
    return this.finish(async () => {
      await this.transitionOnce('cancelled');
      this.log.info(at ?? {}, at ? 'job cancelled' : 'cancelled before it started');
      return { status: 'cancelled' as const, epochs: this.lastEpoch };
    });
  }

  /**
   * Shutdown: save where the thread stopped (a batch boundary), then hand the job back to the queue
   * without using up an attempt (WaitingError); the next worker resumes from this checkpoint.
   */
  async requeue(msg: StoppedMessage): Promise<never> {
    const { jobId, fence, blobs, jobs, queueJob, token } = this.ctx;
    if (msg.state) {
      await jobs.assertFence(jobId, fence);
      await blobs.put(interruptedCheckpointKey(jobId, msg.epoch, msg.step), msg.state);
    }
    return this.finish(async () => {
      await jobs.transition(jobId, 'queued', { ...this.fenced, reason: 'worker stopping: resumes on another worker from its checkpoint' });
      if (token) await queueJob.moveToWait(token);
      this.log.info({ epoch: msg.epoch, step: msg.step }, 'worker stopping: checkpointed and returned the job to the queue');
      throw new WaitingError();
    }) as Promise<never>;
  }

  /** A thread error: deterministic ones (bad data, NaN losses, bad specs: retryable false) fail at once. */
  threadError(error: ThreadError): Promise<never> {
    const { retryable, stack, line, column, ...rest } = error;
    if (!retryable) {
      const message = line !== undefined ? `${rest.message} (line ${line}${column !== undefined ? `, column ${column}` : ''})` : rest.message;
      return this.fail(new AttemptFailure({ ...rest, message }, true));
    }
    if (stack) this.log.warn({ stack }, 'training thread error');
    return this.fail(new AttemptFailure({ code: rest.code || 'training_failed', message: rest.message }, false));
  }

  /**
   * Ends the attempt on any error. Deterministic failures, and any failure on the last attempt,
   * make the job `failed` (UnrecoverableError: BullMQ does not retry). Earlier attempts record the
   * retry with its reason (`queued`, reason) and rethrow, so BullMQ retries with backoff. A stale
   * fence (a newer attempt owns the job) and a shutdown requeue make no transition here.
   */
  fail(cause: unknown): Promise<never> {
    if (cause instanceof WaitingError) return Promise.reject(cause);
    if (cause instanceof StaleFenceError) {
      // A newer attempt owns the job (this one stalled and was re-run elsewhere): publish nothing more.
      this.log.warn('fence is stale: a newer attempt owns this job; abandoning this attempt');
      return Promise.reject(cause);
    }
    if (this.finished) {
      // The one ending is already made (or failed while being made): report, change nothing.
      this.log.warn({ err: describe(cause) }, 'error after the attempt ended; ignored');
      return this.finished.then(() => Promise.reject(cause), () => Promise.reject(cause));
    }
    const failure = cause instanceof AttemptFailure ? cause : classify(cause);
    const attemptsAllowed = this.ctx.queueJob.opts.attempts ?? 1;
    const lastAttempt = this.ctx.queueJob.attemptsMade + 1 >= attemptsAllowed;
    return this.finish(async () => {
      if (failure.deterministic || lastAttempt) {
        const jobError = failure.deterministic ? failure.error : { ...failure.error, message: `${failure.error.message} (after ${attemptsAllowed} attempts)` };
        const { epoch, step, ...stored } = jobError;
        const event: JobEvent = { type: 'failed', ...stored, ...(epoch !== undefined ? { epoch } : {}), ...(step !== undefined ? { step } : {}) };
        await this.transitionOnce('failed', { error: stored, event });
        this.log.warn({ error: jobError }, 'job failed');
        throw new UnrecoverableError(`${stored.code}: ${stored.message}`);
      }
      const reason = `${failure.error.code}: ${failure.error.message}`;
      await this.transitionOnce('queued', { reason });
      this.log.warn({ reason, attempt: this.ctx.queueJob.attemptsMade + 1, of: attemptsAllowed }, 'attempt failed; BullMQ retries it from the last checkpoint');
      throw new Error(reason);
    }) as Promise<never>;
  }

  /** The single ending: a second call is a no-op that answers the first one's outcome. */
  private finish<T extends AttemptOutcome>(end: () => Promise<T>): Promise<T> {
    this.finished ??= end();
    return this.finished as Promise<T>;
  }

  private get fenced(): { fence: number } {
    return { fence: this.ctx.fence };
  }

  /**
   * Runs a Redis write, retrying while Redis is unreachable (up to redisOutageToleranceMs; not once
   * the process is stopping, so a shutdown during an outage stays bounded). Fence and lifecycle
   * errors are never retried.
   */
  async untilRedisAnswers<T>(what: string, write: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.ctx.redisOutageToleranceMs;
    let delay = 100;
    let warned = false;
    for (;;) {
      try {
        const result = await write();
        if (warned) this.log.info({ what }, 'Redis is back; publishing what training produced meanwhile');
        return result;
      } catch (err) {
        if (!isRedisConnectionError(err) || this.ctx.shutdown.aborted || Date.now() >= deadline) throw err;
        if (!warned) this.log.warn({ what, err: (err as Error).message }, 'Redis unreachable; training continues, its events wait in memory');
        warned = true;
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, REDIS_RETRY_MAX_DELAY_MS);
      }
    }
  }

  /**
   * A fenced transition that survives an outage. A write Redis applied but whose answer was lost
   * is re-sent after the reconnect and then refused as illegal: already there counts as done.
   */
  private transitionOnce(to: JobStatus, opts: Omit<TransitionOptions, 'fence'> = {}): Promise<void> {
    const { jobs, jobId, fence } = this.ctx;
    return this.untilRedisAnswers(`${to} transition`, async () => {
      try {
        await jobs.transition(jobId, to, { ...opts, fence });
      } catch (err) {
        if (!(err instanceof IllegalTransitionError)) throw err;
        const now = await jobs.get(jobId);
        if (now?.status !== to || now.fence !== fence) throw err;
      }
    });
  }

  /** Artifacts are written only while this attempt still owns the job (a zombie writes nothing). */
  private assertStillOwner(): Promise<void> {
    return this.untilRedisAnswers('fence check', () => this.ctx.jobs.assertFence(this.ctx.jobId, this.ctx.fence));
  }
}

/** An unexpected error as the job's error: storage faults, Redis, anything else. */
function classify(err: unknown): AttemptFailure {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && STORAGE_ERROR_CODES.has(code)) {
    // Code, syscall and the system's words, not the path: DATA_DIR's layout is not the client's business.
    const { syscall } = err as NodeJS.ErrnoException;
    const words = describe(err).split(',')[0];
    return new AttemptFailure({ code: 'storage_failed', message: `the blob store failed: ${words}${syscall ? ` (${syscall})` : ''}` }, false);
  }
  if (isRedisConnectionError(err)) return new AttemptFailure({ code: 'redis_unavailable', message: `Redis was unreachable: ${describe(err)}` }, false);
  return new AttemptFailure({ code: 'training_failed', message: describe(err) }, false);
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}
