import type { FastifyReply } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import {
  ApiErrorBody,
  EXAMPLE_OUTPUT_TOO_LARGE_ERROR,
  EXAMPLE_PREDICT_TEXT_REQUEST,
  EXAMPLE_PREDICT_TOP_K_RESPONSE,
  PREDICT_MAX_OUTPUT_VALUES,
  PredictRequest,
  PredictResponse,
  SampleRequest,
  SampleResponse,
} from '@unroll/protocol';
import { ApiError } from '../errors.ts';
import { ModelCache, loadModelWithRef } from '../model-loader.ts';
import { runForReply } from '../compute/run-for-reply.ts';
import type { ModelRef } from '../compute/tasks.ts';
import { planPrediction } from '../inference/predict-plan.ts';
import { JobIdParams } from './jobs.ts';
import { withExamples } from './openapi-examples.ts';
import type { RnnModel } from '../engine.ts';

const errors = { 400: ApiErrorBody, 401: ApiErrorBody, 404: ApiErrorBody, 409: ApiErrorBody, 500: ApiErrorBody, 503: ApiErrorBody };

/** A body the compute thread already serialized: sent as is (the response schema documents it). */
function sendJsonBytes(reply: FastifyReply, json: Uint8Array): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(Buffer.from(json.buffer, json.byteOffset, json.byteLength));
}

const routes: FastifyPluginAsyncZod = async (app) => {
  const cache = new ModelCache(8);

  app.addHook('preHandler', async (request) => {
    const id = (request.params as { id?: string } | undefined)?.id;
    if (id) request.log = request.log.child({ jobId: id });
  });

  /** The job's model (its spec and vocabulary, for checks here) and where a compute thread finds it. */
  async function modelFor(jobId: string, tenant: string, which: 'final' | 'best'): Promise<{ model: RnnModel; ref: ModelRef }> {
    const job = await app.jobs.getForTenant(jobId, tenant);
    if (!job) throw ApiError.notFound('job', jobId);
    const loaded = await loadModelWithRef(app.blobs, jobId, which, cache, job.weightsKey);
    if (!loaded) throw new ApiError(409, 'not_ready', `job ${jobId} has no ${which} weights yet (status ${job.status})`, { param: 'weights' });
    return loaded;
  }

  app.post(
    '/v1/jobs/:id/predict',
    {
      config: {
        swaggerTransform: withExamples({
          requests: {
            vectors: { summary: 'Regression / classification: one sequence of 3 steps with 2 features', value: { inputs: [[[0.1, 0.5], [0.3, 0.2], [0.9, 0.4]]], weights: 'final' } },
            tokens: { summary: 'Language model: token ids (indexes into the dataset vocabulary), best checkpoint', value: { inputs: [[20, 43, 50, 50, 53]], weights: 'best' } },
            text: { summary: 'Language model: text, only the 3 most likely characters after its last one', value: EXAMPLE_PREDICT_TEXT_REQUEST },
            logProbsLast: { summary: 'Log-probabilities at the last step of each sequence', value: { inputs: [[20, 43, 50], [53, 1]], output: 'log_probs', positions: 'last' } },
          },
          responses: {
            400: { outputTooLarge: { summary: 'The answer would exceed the output limit (checked before any work)', value: EXAMPLE_OUTPUT_TOO_LARGE_ERROR } },
            200: {
              topK: { summary: 'output top_k, positions last: ids, probabilities and characters, most likely first', value: EXAMPLE_PREDICT_TOP_K_RESPONSE },
              classification: { summary: 'Class probabilities per step (2 classes)', value: { outputs: [[[0.8112, 0.1888], [0.3307, 0.6693], [0.0954, 0.9046]]] } },
              regression: { summary: 'Predicted values per step (1 target)', value: { outputs: [[[0.4127], [0.5381], [0.6012]]] } },
            },
          },
        }),
      },
      schema: {
        tags: ['inference'],
        summary: 'Run the trained model over input sequences',
        description:
          'inputs: token-id sequences (language models, token JSON datasets) or sequences of feature vectors; or text (character language models, encoded with the dataset vocabulary). ' +
          'Each sequence gets its outputs per step (positions: all) or at its last step (positions: last): probabilities (default for lm, classification), log_probs, logits, top_k (with k), or values (regression). ' +
          `The answer's size is checked before any work: more than ${PREDICT_MAX_OUTPUT_VALUES} values is a 400 output_too_large with the limit and the size. ` +
          'The model runs in a worker thread of the API; when every thread is busy and the queue is full: 503 compute_busy.',
        params: JobIdParams,
        body: PredictRequest,
        response: { 200: PredictResponse, ...errors },
      },
    },
    async (request, reply) => {
      const { model, ref } = await modelFor(request.params.id, request.tenant, request.body.weights);
      // Checked and sized here, computed and serialized in a pool thread.
      const { size: _size, ...plan } = planPrediction(model, request.body);
      const transfer = plan.sequences.map((x) => x.buffer as ArrayBuffer);
      const body = await runForReply(app.compute, reply, { type: 'predict', model: ref, ...plan }, transfer);
      return sendJsonBytes(reply, body);
    },
  );

  app.post(
    '/v1/jobs/:id/sample',
    {
      schema: {
        tags: ['inference'],
        summary: 'Sample text from a character language model',
        params: JobIdParams,
        body: SampleRequest,
        response: { 200: SampleResponse, ...errors },
      },
    },
    async (request, reply) => {
      const { model, ref } = await modelFor(request.params.id, request.tenant, request.body.weights);
      if (model.task !== 'lm') throw new ApiError(400, 'invalid_request', `sampling needs a language model; this job's task is ${model.task}`, { param: 'id' });
      const { prime, length, temperature, topK, seed } = request.body;
      const body = await runForReply(app.compute, reply, { type: 'sample', model: ref, prime, length, temperature, topK, seed });
      return sendJsonBytes(reply, body);
    },
  );
};
export default routes;
