import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ApiErrorBody, PredictRequest, PredictResponse, SampleRequest, SampleResponse } from '@unroll/protocol';
import { ApiError } from '../errors.ts';
import { ModelCache, loadModel } from '../model-loader.ts';
import { JobIdParams } from './jobs.ts';
import { withExamples } from './openapi-examples.ts';
import type { RnnModel } from '../engine.ts';

const errors = { 400: ApiErrorBody, 401: ApiErrorBody, 404: ApiErrorBody, 409: ApiErrorBody };

const routes: FastifyPluginAsyncZod = async (app) => {
  const cache = new ModelCache(8);

  app.addHook('preHandler', async (request) => {
    const id = (request.params as { id?: string } | undefined)?.id;
    if (id) request.log = request.log.child({ jobId: id });
  });

  async function modelFor(jobId: string, tenant: string, which: 'final' | 'best'): Promise<RnnModel> {
    const job = await app.jobs.getForTenant(jobId, tenant);
    if (!job) throw ApiError.notFound('job', jobId);
    const model = await loadModel(app.blobs, jobId, which, cache, job.weightsKey);
    if (!model) throw new ApiError(409, 'not_ready', `job ${jobId} has no ${which} weights yet (status ${job.status})`, { param: 'weights' });
    return model;
  }

  app.post(
    '/v1/jobs/:id/predict',
    {
      config: {
        swaggerTransform: withExamples({
          requests: {
            vectors: { summary: 'Regression / classification: one sequence of 3 steps with 2 features', value: { inputs: [[[0.1, 0.5], [0.3, 0.2], [0.9, 0.4]]], weights: 'final' } },
            tokens: { summary: 'Language model: token ids (indexes into the dataset vocabulary), best checkpoint', value: { inputs: [[20, 43, 50, 50, 53]], weights: 'best' } },
          },
          responses: {
            200: {
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
          'inputs: token-id sequences (language models, token JSON datasets) or sequences of feature vectors. Each sequence gets its outputs per step: probabilities (lm, classification) or values (regression).',
        params: JobIdParams,
        body: PredictRequest,
        response: { 200: PredictResponse, ...errors },
      },
    },
    async (request) => {
      const model = await modelFor(request.params.id, request.tenant, request.body.weights);
      const { inputKind, inputSize: I, outputSize: O } = model.spec;
      const outputs = request.body.inputs.map((sequence, s) => {
        let x: Int32Array | Float32Array;
        if (inputKind === 'tokens') {
          if (!sequence.every((v) => typeof v === 'number')) throw new ApiError(400, 'invalid_request', 'this model takes token ids', { param: `inputs.${s}` });
          x = Int32Array.from(sequence as number[]);
        } else {
          const rows = sequence as unknown[];
          if (!rows.every((row) => Array.isArray(row) && row.length === I)) {
            throw new ApiError(400, 'invalid_request', `this model takes vectors of ${I} features per step`, { param: `inputs.${s}` });
          }
          x = Float32Array.from((rows as number[][]).flat());
        }
        if (x.length === 0) throw new ApiError(400, 'invalid_request', 'a sequence needs at least one step', { param: `inputs.${s}` });
        const result = model.predict(x);
        const steps: number[][] = [];
        for (let t = 0; t < result.T; t++) steps.push(Array.from(result.outputs.subarray(t * O, (t + 1) * O)));
        return steps;
      });
      return { outputs };
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
    async (request) => {
      const model = await modelFor(request.params.id, request.tenant, request.body.weights);
      if (model.task !== 'lm') throw new ApiError(400, 'invalid_request', `sampling needs a language model; this job's task is ${model.task}`, { param: 'id' });
      const { prime, length, temperature, topK, seed } = request.body;
      return { text: model.sample({ prime, length, temperature, topK, seed }) };
    },
  );
};
export default routes;
