import { createHash } from 'node:crypto';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApiErrorBody, Checkpoint, CheckpointList, WeightsJson, WeightsQuery, WeightsSafetensors } from '@unroll/protocol';
import { blobKeys, checkpointEpoch } from '@unroll/store';
import { ApiError } from '../errors.ts';
import { JobIdParams } from './jobs.ts';
import { loadWeightsBytes } from '../model-loader.ts';
import { RnnModel } from '../engine.ts';

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
        description: 'Final weights by default; `checkpoint=best` or `checkpoint=<epoch>` converts that checkpoint. 409 not_ready before weights exist. ' +
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
      if (!weights) {
        throw new ApiError(409, 'not_ready', which === 'final' ? `job ${id} has no final weights yet (status ${job.status})` : `job ${id} has no ${which === 'best' ? 'best' : `epoch ${which}`} checkpoint`, {
          param: which === 'final' ? 'id' : 'checkpoint',
        });
      }
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
        summary: 'Checkpoints of a job (one per epoch)',
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
