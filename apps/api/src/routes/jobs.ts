import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  ApiErrorBody,
  CreateJobRequest,
  Job,
  JobId,
  JobSpec,
  JobStatus,
  EXAMPLE_CANCELLED_JOB,
  EXAMPLE_CANCEL_REQUESTED_JOB,
  EXAMPLE_JOB,
  EXAMPLE_JOB_TOO_LARGE_ERROR,
  EXAMPLE_QUEUED_JOB,
  EXAMPLE_UPLOADS,
  PageQuery,
  TASK_DATASET_KINDS,
  examplePageOf,
  type DatasetFormat,
  type MemoryEstimate,
  type Task,
} from '@unroll/protocol';
import { ActiveJobsCapError, blobKeys, IllegalTransitionError, JobNotFoundError, newDatasetId, newJobId, toPublicJob, type DatasetRecord } from '@unroll/store';
import { ApiError, isRedisUnavailable } from '../errors.ts';
import { parseDataset, statsOf } from '../dataset-ingest.ts';
import { DatasetError } from '../engine.ts';
import { checkJobFits } from '../job-memory.ts';
import { cancelJob } from '../job-cancel.ts';
import { withExamples } from './openapi-examples.ts';

export const JobIdParams = z.object({ id: JobId });
const errors = { 400: ApiErrorBody, 401: ApiErrorBody, 404: ApiErrorBody };

/** LM needs a text corpus; regression a CSV series or JSON regression sequences; classification JSON classification sequences. */
export function checkCompatible(task: Task, dataset: Pick<DatasetRecord, 'id' | 'kind' | 'stats'>): void {
  const kinds: readonly DatasetFormat[] = TASK_DATASET_KINDS[task];
  const jsonTask = dataset.stats.task;
  const ok = kinds.includes(dataset.kind) && (dataset.kind !== 'json' || jsonTask === undefined || jsonTask === task);
  if (!ok) {
    const what = dataset.kind === 'json' && typeof jsonTask === 'string' ? `a JSON ${jsonTask} dataset` : `a ${dataset.kind} dataset`;
    throw new ApiError(400, 'incompatible_dataset', `task ${task} cannot train on ${what} (needs ${kinds.join(' or ')})`, { param: 'task' });
  }
}

/** How long the API keeps trying to mark a job it could not enqueue as failed (Redis away). */
const ENQUEUE_FAILED_RETRY_MS = 120_000;
/**
 * How long a record that is not there yet may still appear once Redis answers again: a create
 * whose reply was lost can still run after the API gave up on it (replayed from the client's
 * offline queue, or re-sent as EVAL after the restarted Redis answered NOSCRIPT).
 */
const LATE_CREATE_GRACE_MS = 15_000;

const routes: FastifyPluginAsyncZod = async (app) => {
  let closing = false;
  app.addHook('onClose', async () => {
    closing = true;
  });

  /**
   * Marks a job the client was not given (a 503) failed, retrying in the background while Redis is
   * away, so no record stays queued without a queue entry. The record may not exist: its create
   * may have failed, or may still land (see LATE_CREATE_GRACE_MS), so "not found" is only believed
   * once Redis has kept answering it for that long.
   */
  async function failUnqueuedJob(jobId: string): Promise<void> {
    const deadline = Date.now() + ENQUEUE_FAILED_RETRY_MS;
    let absentSince: number | null = null;
    for (let delay = 200; !closing && Date.now() < deadline; delay = Math.min(delay * 2, 5000)) {
      try {
        await app.jobs.transition(jobId, 'failed', { error: { code: 'enqueue_failed', message: 'the job could not be queued (Redis unavailable); it was not acknowledged' } });
        return;
      } catch (err) {
        if (err instanceof IllegalTransitionError) return; // it moved on: not ours to fail any more
        if (err instanceof JobNotFoundError) {
          absentSince ??= Date.now();
          if (Date.now() - absentSince >= LATE_CREATE_GRACE_MS) return; // its create never ran
          delay = 200; // Redis answers: look again soon
        } else {
          absentSince = null;
        }
        await new Promise((r) => setTimeout(r, delay).unref());
      }
    }
    app.log.error({ jobId }, 'could not mark an unqueued job failed');
  }

  // Job routes log the job id on every line.
  app.addHook('preHandler', async (request) => {
    const id = (request.params as { id?: string } | undefined)?.id;
    if (id) request.log = request.log.child({ jobId: id });
  });

  app.post(
    '/v1/jobs',
    {
      config: {
        swaggerTransform: withExamples({
          requests: {
            datasetId: {
              summary: 'Character LM on an uploaded corpus',
              value: { datasetId: EXAMPLE_JOB.datasetId, task: 'lm', model: { hiddenSize: 128 }, training: { epochs: 20, batchSize: 32, optimizer: { name: 'adam', lr: 0.002 } } },
            },
            inline: {
              summary: 'Regression on a small inline CSV series',
              value: {
                inline: { format: 'csv', content: EXAMPLE_UPLOADS['text/csv'], csv: { targetColumns: ['passengers'], horizon: 1 } },
                task: 'regression',
                model: { hiddenSize: 32, activation: 'tanh', init: { scheme: 'orthogonal', gain: 1 } },
                training: { epochs: 50, batchSize: 1, bptt: { mode: 'full' }, schedule: { kind: 'cosine', tMax: 50 }, earlyStopping: { patience: 5 } },
              },
            },
          },
          responses: {
            202: { queued: { summary: 'Queued, defaults filled in spec', value: EXAMPLE_QUEUED_JOB } },
            400: { jobTooLarge: { summary: 'The job cannot fit in a worker: the estimate, the limit and the field to lower', value: EXAMPLE_JOB_TOO_LARGE_ERROR } },
          },
        }),
      },
      schema: {
        tags: ['jobs'],
        summary: 'Queue a training job',
        description:
          'Unknown fields are rejected (400 naming the field); every number is bounded; defaults are filled in and echoed in `spec`. ' +
          'The memory the job will need is estimated from the spec and the dataset statistics (`memoryEstimate` in the job): past the worker budget or the engine maximum, 400 `job_too_large` with the estimate and `param` naming the field to lower.',
        body: CreateJobRequest,
        response: { 202: Job, ...errors, 413: ApiErrorBody, 429: ApiErrorBody, 503: ApiErrorBody },
      },
    },
    async (request, reply) => {
      const body = request.body;
      const specOn = (datasetId: string) => JobSpec.parse({ datasetId, task: body.task, model: body.model, training: body.training });
      const budget = app.config.WORKER_MEMORY_BUDGET_BYTES;
      let dataset: DatasetRecord;
      let memoryEstimate: MemoryEstimate;
      // Cheap early refusal; the create script checks the cap again atomically.
      const cap = app.config.MAX_ACTIVE_JOBS_PER_TENANT;
      if (cap > 0 && (await app.jobs.activeCount(request.tenant)) >= cap) throw new ActiveJobsCapError(request.tenant, cap);
      if (body.inline) {
        // A small dataset in the request: validated and stored like an upload.
        const csv = body.inline.format === 'csv' ? { horizon: 1, normalize: true, ...body.inline.csv } : null;
        let stats;
        try {
          stats = statsOf(parseDataset(body.inline.format, body.inline.content, csv));
        } catch (err) {
          if (!(err instanceof DatasetError)) throw err;
          throw new ApiError(400, 'invalid_dataset', err.message, { param: 'inline.content', line: err.line, column: err.column });
        }
        checkCompatible(body.task, { id: 'inline', kind: body.inline.format, stats });
        const id = newDatasetId();
        // before anything is stored: a job that cannot fit leaves no dataset behind
        memoryEstimate = checkJobFits(specOn(id), { kind: body.inline.format, stats }, budget);
        const info = await app.blobs.put(blobKeys.dataset(id), Buffer.from(body.inline.content, 'utf8'));
        dataset = await app.datasets.create({
          id,
          tenant: request.tenant,
          kind: body.inline.format,
          name: 'inline',
          blobKey: blobKeys.dataset(id),
          bytes: info.bytes,
          sha256: info.sha256,
          stats,
          csv,
          createdAt: new Date().toISOString(),
        }, { maxStoredBytes: app.config.MAX_STORED_BYTES_PER_TENANT }).catch(async (err: unknown) => {
          await app.blobs.delete(blobKeys.dataset(id)).catch(() => {});
          throw err;
        });
      } else {
        const found = await app.datasets.getForTenant(body.datasetId!, request.tenant);
        if (!found) throw new ApiError(404, 'not_found', `dataset ${body.datasetId} not found`, { param: 'datasetId' });
        checkCompatible(body.task, found);
        memoryEstimate = checkJobFits(specOn(found.id), found, budget);
        dataset = found;
      }
      const spec = specOn(dataset.id);
      // Durable record first (Redis runs with AOF), then the queue entry. The id is chosen here so
      // that a create whose outcome is unknown (Redis went away mid-call) can still be failed.
      const jobId = newJobId();
      let job;
      try {
        job = await app.jobs.create({ id: jobId, tenant: request.tenant, spec, memoryEstimate, maxActiveJobs: app.config.MAX_ACTIVE_JOBS_PER_TENANT });
      } catch (err) {
        if (isRedisUnavailable(err)) void failUnqueuedJob(jobId);
        throw err;
      }
      request.log.info({ jobId: job.id }, 'job created');
      try {
        await app.queue.enqueue(job.id);
      } catch (err) {
        // The client gets an error (not a 202), so the record must not stay queued forever with no
        // queue entry: mark it failed, retrying in the background while Redis is away.
        void failUnqueuedJob(job.id);
        throw err;
      }
      return reply.code(202).send(toPublicJob(job));
    },
  );

  app.get(
    '/v1/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'List jobs, newest first',
        querystring: PageQuery.extend({ status: JobStatus.optional().meta({ description: 'Only jobs in this status', example: 'running' }) }),
        response: { 200: examplePageOf(Job, [EXAMPLE_JOB]), ...errors },
      },
    },
    async (request) => {
      const page = await app.jobs.list(request.tenant, request.query);
      return { items: page.items.map(toPublicJob), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/jobs/:id',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Status, transition timestamps, progress, latest metrics, error; for a queued job its place in the queue and the live workers',
        params: JobIdParams,
        response: { 200: Job, ...errors },
      },
    },
    async (request) => {
      const job = await app.jobs.getForTenant(request.params.id, request.tenant);
      if (!job) throw ApiError.notFound('job', request.params.id);
      if (job.status !== 'queued') return toPublicJob(job);
      return { ...toPublicJob(job), queue: await app.queue.placeOf(job.id) };
    },
  );

  app.post(
    '/v1/jobs/:id/cancel',
    {
      config: {
        swaggerTransform: withExamples({
          responses: {
            200: { cancelled: { summary: 'A queued job, cancelled at once', value: EXAMPLE_CANCELLED_JOB } },
            202: { cancelRequested: { summary: 'A running job: cancel requested, the worker stops it between batches', value: EXAMPLE_CANCEL_REQUESTED_JOB } },
          },
        }),
      },
      schema: {
        tags: ['jobs'],
        summary: 'Cancel a job',
        description:
          'queued, or running with no live worker holding it (orphaned) → cancelled at once and removed from the queue (200). running on a live worker → cancel requested, the worker stops it between batches (202, cancelRequested true). ' +
          'Already cancelled: 200 (idempotent). succeeded / failed: 409 job_finished.',
        params: JobIdParams,
        response: { 200: Job, 202: Job, ...errors, 409: ApiErrorBody, 503: ApiErrorBody },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const job = await app.jobs.getForTenant(id, request.tenant);
      if (!job) throw ApiError.notFound('job', id);
      if (job.status === 'succeeded' || job.status === 'failed') {
        throw new ApiError(409, 'job_finished', `job ${id} already ${job.status}`, { param: 'id' });
      }
      if (job.status === 'cancelled') return reply.code(200).send(toPublicJob(job));
      const outcome = await cancelJob(app.jobs, app.queue, job, request.log);
      return reply.code(outcome.settled ? 200 : 202).send(toPublicJob(outcome.job));
    },
  );
};
export default routes;
