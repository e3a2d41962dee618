import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiErrorBody, Checkpoint, CheckpointList, DEFAULT_CHECKPOINTS_KEPT, isTerminal, WeightsJson, WeightsQuery, WeightsSafetensors } from '@unroll/protocol';
import { blobKeys, checkpointEpoch, type JobRecord } from '@unroll/store';
import { ApiError } from '../errors.ts';
import { JobIdParams } from './jobs.ts';
import { loadWeightsBytes } from '../model-loader.ts';
import { RnnModel } from '../engine.ts';

/**
 * Why the weights asked for are not there: not yet (409 not_ready, try again later) or never
 * again (404 checkpoint_not_found: an epoch past the last, or one the retention policy deleted).
 */
function missingWeightsError(job: JobRecord, which: 'final' | 'best' | number): ApiError {
  if (which === 'final') return new ApiError(409, 'not_ready', `job ${job.id} has no final weights yet (status ${job.status})`, { param: 'id' });
  const finished = isTerminal(job.status);
  if (which === 'best') {
    return finished
      ? new ApiError(404, 'checkpoint_not_found', `job ${job.id} ended (${job.status}) without a best checkpoint`, { param: 'checkpoint' })
      : new ApiError(409, 'not_ready', `job ${job.id} has no best checkpoint yet`, { param: 'checkpoint' });
  }
  const epochs = job.spec.training.epochs;
  if (which > epochs) return new ApiError(404, 'checkpoint_not_found', `job ${job.id} trains ${epochs} epochs; there is no epoch ${which}`, { param: 'checkpoint' });
  if (which <= job.lastEpoch || finished) {
    const keep = job.spec.training.checkpoints?.keep ?? DEFAULT_CHECKPOINTS_KEPT; // specs stored before the policy: the default
    return new ApiError(
      404,
      'checkpoint_not_found',
      `epoch ${which}'s checkpoint is not kept: the job keeps the newest ${keep} (training.checkpoints.keep; 'all' keeps one per epoch); GET /v1/jobs/${job.id}/checkpoints lists them`,
      { param: 'checkpoint' },
    );
  }
  return new ApiError(409, 'not_ready', `job ${job.id} has not finished epoch ${which} yet (last finished: ${job.lastEpoch})`, { param: 'checkpoint' });
}

const routes: FastifyPluginAsyncZod = async (app) => {
  app.addHook('preHandler', async (request) => {
    const id = (request.params as { id?: string } | undefined)?.id;
    if (id) request.log = request.log.child({ jobId: id });
  });

  app.get(
    '/v1/jobs/:id/weights',
    {
      schema: {
        tags: ['weights'],
        summary: 'Download weights (safetensors in the PyTorch nn.RNN + Linear layout, or JSON)',
        description: 'Final weights by default; `checkpoint=best` or `checkpoint=<epoch>` converts that checkpoint. 409 not_ready before weights exist; ' +
          "404 checkpoint_not_found for an epoch the job will never have or no longer keeps (`training.checkpoints.keep`, default 3, or 'all'). " +
          'safetensors loads in PyTorch: `rnn = torch.nn.RNN(I, H, batch_first=True); fc = torch.nn.Linear(H, O)` with the tensors `rnn.*` and `fc.*` (metadata in `__metadata__`).',
        params: JobIdParams,
        querystring: WeightsQuery,
        response: {
          200: {
            description: 'format=safetensors (default): application/octet-stream, `content-disposition: attachment; filename="<job>-final.safetensors"`. format=json: application/json.',
            content: { 'application/octet-stream': { schema: WeightsSafetensors }, 'application/json': { schema: WeightsJson } },
          },
          400: ApiErrorBody,
          401: ApiErrorBody,
          404: ApiErrorBody,
          409: ApiErrorBody,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const job = await app.jobs.getForTenant(id, request.tenant);
      if (!job) throw ApiError.notFound('job', id);
      const { format, checkpoint } = request.query;
      const which = checkpoint === undefined ? 'final' : checkpoint === 'best' ? 'best' : Number(checkpoint);
      const dataset = which === 'final' ? null : await app.datasets.get(job.datasetId);
      const weights = await loadWeightsBytes(app.blobs, id, which, { spec: job.spec, dataset, weightsKey: job.weightsKey });
      if (!weights) throw missingWeightsError(job, which);
      const name = `${id}-${which === 'final' ? 'final' : which === 'best' ? 'best' : `epoch-${which}`}`;
      if (format === 'json') {
        reply.header('content-disposition', `attachment; filename="${name}.json"`);
        // Bytes (not the object): the response schema documents the format, a multi-MB model is not re-validated.
        return reply.type('application/json; charset=utf-8').send(Buffer.from(JSON.stringify(RnnModel.fromSafetensors(weights).toJSON())));
      }
      reply.header('content-disposition', `attachment; filename="${name}.safetensors"`);
      return reply.type('application/octet-stream').send(Buffer.from(weights));
    },
  );

  app.get(
    '/v1/jobs/:id/checkpoints',
    {
      schema: {
        tags: ['weights'],
        summary: "The epoch checkpoints a job keeps: the newest `training.checkpoints.keep` (default 3), or one per epoch with 'all'",
        params: JobIdParams,
        response: { 200: CheckpointList, 400: ApiErrorBody, 401: ApiErrorBody, 404: ApiErrorBody },
      },
    },
    async (request) => {
      const { id } = request.params;
      const job = await app.jobs.getForTenant(id, request.tenant);
      if (!job) throw ApiError.notFound('job', id);
      const items: Checkpoint[] = [];
      for (const key of await app.blobs.list(blobKeys.checkpointsPrefix(id))) {
        const epoch = checkpointEpoch(key);
        if (epoch === null) continue;
        const [bytes, stat] = await Promise.all([app.blobs.get(key), app.blobs.stat(key)]);
        if (!bytes || !stat) continue; // removed meanwhile
        items.push({ epoch, bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), createdAt: stat.modifiedAt.toISOString() });
      }
      items.sort((a, b) => a.epoch - b.epoch);
      return { items };
    },
  );
};
export default routes;
