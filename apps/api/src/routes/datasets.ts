import type { IncomingMessage } from 'node:http';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  ApiErrorBody,
  Dataset,
  DATASET_CONTENT_TYPES,
  DatasetId,
  DatasetUploadBodies,
  EXAMPLE_CSV_DATASET,
  EXAMPLE_DATASET,
  PageQuery,
  UploadDatasetQuery,
  examplePageOf,
  type CsvOptions,
} from '@unroll/protocol';
import { BlobTooLargeError, blobKeys, newDatasetId, StorageQuotaError, toPublicDataset } from '@unroll/store';
import { ApiError } from '../errors.ts';
import { datasetStatsInPool } from '../dataset-ingest.ts';
import { uploadBody, UploadAbortedError } from '../upload-body.ts';
import { withExamples } from './openapi-examples.ts';

const IdParams = z.object({ id: DatasetId });
const errors = { 400: ApiErrorBody, 401: ApiErrorBody, 404: ApiErrorBody };

const routes: FastifyPluginAsyncZod = async (app) => {
  // Uploads are streamed to the blob store, never buffered: in this plugin's scope the body
  // parsers hand the raw request stream through (other routes keep Fastify's JSON parser).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(Object.keys(DATASET_CONTENT_TYPES), (_request, payload, done) => done(null, payload));

  app.post(
    '/v1/datasets',
    {
      config: {
        // The body is streamed, not validated: documented per content type, each with its example.
        swaggerTransform: withExamples({
          bodies: DatasetUploadBodies,
          responses: {
            201: {
              text: { summary: 'text/plain upload', value: EXAMPLE_DATASET },
              csv: { summary: 'text/csv upload with ?targetColumns=passengers', value: EXAMPLE_CSV_DATASET },
            },
          },
        }),
      },
      schema: {
        tags: ['datasets'],
        summary: 'Upload a dataset (streamed)',
        description:
          'The body is streamed to storage (not buffered) and then parsed; pick the content type for the dataset kind. ' +
          'Body: `text/plain` (character LM corpus), `application/json` (sequences), or `text/csv` (time series; query targetColumns / horizon / normalize). ' +
          'Larger than MAX_UPLOAD_BYTES: 413 payload_too_large. Invalid content: 400 invalid_dataset with line / column.',
        querystring: UploadDatasetQuery,
        response: { 201: Dataset, ...errors, 413: ApiErrorBody, 415: ApiErrorBody, 429: ApiErrorBody, 503: ApiErrorBody },
      },
    },
    async (request, reply) => {
      const mediaType = String(request.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      const kind = DATASET_CONTENT_TYPES[mediaType];
      if (!kind) throw new ApiError(415, 'unsupported_media_type', 'use text/plain, application/json or text/csv', { param: 'content-type' });
      const q = request.query;
      const csvParams = q.targetColumns !== undefined || q.horizon !== undefined || q.normalize !== undefined;
      if (kind !== 'csv' && csvParams) throw new ApiError(400, 'invalid_request', 'targetColumns / horizon / normalize apply to text/csv only', { param: 'querystring' });
      const csv: CsvOptions | null =
        kind === 'csv'
          ? {
              ...(q.targetColumns ? { targetColumns: q.targetColumns.split(',').map((c) => c.trim()) } : {}),
              horizon: q.horizon ?? 1,
              normalize: q.normalize ?? true,
            }
          : null;

      // A tenant already at its stored-bytes cap is refused before a byte is read.
      const quota = app.config.MAX_STORED_BYTES_PER_TENANT;
      const stored = quota > 0 ? await app.datasets.storedBytes(request.tenant) : 0;
      if (quota > 0 && stored >= quota) throw new StorageQuotaError(request.tenant, quota, stored);

      const id = newDatasetId();
      const blobKey = blobKeys.dataset(id);
      // Streamed and parsed under a staging key; published under blobKey only once the record is
      // committed, so a crash in between leaves a staged blob for the orphan sweep, never a
      // dataset blob with no record.
      const uploadKey = blobKeys.stagedDataset(id);
      const body = uploadBody(request.body as IncomingMessage);
      let info;
      try {
        info = await app.blobs.put(uploadKey, body.stream, { maxBytes: app.config.MAX_UPLOAD_BYTES });
      } catch (err) {
        // The rest of the body is never read: close after answering, so the client is not left sending.
        reply.header('connection', 'close');
        if (err instanceof BlobTooLargeError) {
          throw new ApiError(413, 'payload_too_large', `dataset exceeds MAX_UPLOAD_BYTES (${app.config.MAX_UPLOAD_BYTES} bytes)`, { param: 'body' });
        }
        // Nobody is left to read the answer; a 400 keeps it out of the 500 counts.
        if (err instanceof UploadAbortedError || body.aborted) throw new ApiError(400, 'upload_aborted', new UploadAbortedError().message, { param: 'body' });
        throw err;
      } finally {
        body.detach();
      }

      let committed = false;
      try {
        const stats = await datasetStatsInPool(app.compute, kind, uploadKey, csv);
        const record = await app.datasets.create({
          id,
          tenant: request.tenant,
          kind,
          name: q.name ?? null,
          blobKey,
          bytes: info.bytes,
          sha256: info.sha256,
          stats,
          csv,
          createdAt: new Date().toISOString(),
        }, { maxStoredBytes: quota });
        committed = true;
        await app.blobs.move(uploadKey, blobKey);
        return reply.code(201).send(toPublicDataset(record));
      } catch (err) {
        // Record committed but the blob not published (storage error): take the record back too.
        if (committed) await app.datasets.delete(id, request.tenant).catch(() => {});
        await app.blobs.delete(uploadKey).catch(() => {});
        throw err;
      }
    },
  );

  app.get(
    '/v1/datasets',
    { schema: { tags: ['datasets'], summary: 'List datasets, newest first', querystring: PageQuery, response: { 200: examplePageOf(Dataset, [EXAMPLE_CSV_DATASET, EXAMPLE_DATASET]), ...errors } } },
    async (request) => {
      const page = await app.datasets.list(request.tenant, request.query);
      return { items: page.items.map(toPublicDataset), nextCursor: page.nextCursor };
    },
  );

  app.get(
    '/v1/datasets/:id',
    { schema: { tags: ['datasets'], summary: 'A dataset and its stats', params: IdParams, response: { 200: Dataset, ...errors } } },
    async (request) => {
      const ds = await app.datasets.getForTenant(request.params.id, request.tenant);
      if (!ds) throw ApiError.notFound('dataset', request.params.id);
      return toPublicDataset(ds);
    },
  );

  app.delete(
    '/v1/datasets/:id',
    {
      config: {
        swaggerTransform: withExamples({
          responses: {
            409: {
              inUse: {
                summary: 'A queued or running job uses the dataset',
                value: { error: { code: 'dataset_in_use', message: `dataset ${EXAMPLE_DATASET.id} is used by a queued or running job`, param: 'id' } },
              },
            },
          },
        }),
      },
      schema: {
        tags: ['datasets'],
        summary: 'Delete a dataset (409 dataset_in_use while a queued/running job uses it)',
        params: IdParams,
        response: { 204: z.undefined(), ...errors, 409: ApiErrorBody },
      },
    },
    async (request, reply) => {
      const ds = await app.datasets.getForTenant(request.params.id, request.tenant);
      if (!ds) throw ApiError.notFound('dataset', request.params.id);
      const outcome = await app.datasets.delete(ds.id, request.tenant);
      if (outcome === 'missing') throw ApiError.notFound('dataset', ds.id);
      if (outcome === 'in_use') throw new ApiError(409, 'dataset_in_use', `dataset ${ds.id} is used by a queued or running job`, { param: 'id' });
      await app.blobs.delete(ds.blobKey);
      return reply.code(204).send();
    },
  );
};
export default routes;
