import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckpointList,
  CreateJobRequest,
  Dataset,
  EventMessage,
  EXAMPLE_CANCELLED_JOB,
  EXAMPLE_CANCEL_REQUESTED_JOB,
  EXAMPLE_CHECKPOINT,
  EXAMPLE_CSV_DATASET,
  EXAMPLE_DATASET,
  EXAMPLE_EVENT_MESSAGES,
  EXAMPLE_FAILED_EVENT_MESSAGE,
  EXAMPLE_JOB,
  EXAMPLE_QUEUED_JOB,
  EXAMPLE_UPLOADS,
  EXAMPLE_WEIGHTS_JSON,
  Job,
  PredictRequest,
  SampleRequest,
  WeightsJson,
  ApiErrorBody,
  EXAMPLE_ERROR,
} from '@unroll/protocol';
import { startTestApp, type TestApp } from './helpers.ts';

// Issue #6 point 5: every operation of the OpenAPI document carries examples. A new route
// without a summary, a success example, a request body example or parameter examples fails here.

type Json = Record<string, any>;
const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function resolve(doc: Json, schema: Json | undefined): Json | undefined {
  let s = schema;
  for (let i = 0; s?.$ref && i < 10; i++) {
    const name = String(s.$ref).replace('#/components/schemas/', '');
    s = doc.components?.schemas?.[name];
  }
  return s;
}

/** An example on the media type, or on its schema (through `$ref` / a single `allOf`). */
function mediaHasExample(doc: Json, media: Json): boolean {
  if (media.example !== undefined) return true;
  if (media.examples && Object.keys(media.examples).length > 0) return true;
  let schema = resolve(doc, media.schema);
  for (let i = 0; schema && i < 10; i++) {
    if (schema.example !== undefined || (Array.isArray(schema.examples) && schema.examples.length > 0)) return true;
    schema = schema.allOf?.length === 1 ? resolve(doc, schema.allOf[0]) : undefined;
  }
  return false;
}

function paramHasExample(param: Json): boolean {
  return param.example !== undefined || param.examples !== undefined || param.schema?.example !== undefined || param.schema?.examples !== undefined;
}

/** What an operation lacks; empty when it is fully documented. */
export function missingExamples(doc: Json, op: Json): string[] {
  const problems: string[] = [];
  if (typeof op.summary !== 'string' || op.summary.trim() === '') problems.push('summary');
  const responses: [string, Json][] = Object.entries(op.responses ?? {});
  let any = false;
  for (const [code, response] of responses) {
    for (const [type, media] of Object.entries<Json>(response.content ?? {})) {
      const has = mediaHasExample(doc, media);
      any ||= has;
      if (!has && code.startsWith('2')) problems.push(`response ${code} ${type} example`);
    }
  }
  if (!any) problems.push('an example in its responses');
  if (!responses.some(([code]) => code.startsWith('2'))) problems.push('a success response');
  if (op.requestBody) {
    const content = Object.entries<Json>(op.requestBody.content ?? {});
    if (content.length === 0) problems.push('request body content');
    for (const [type, media] of content) if (!mediaHasExample(doc, media)) problems.push(`request ${type} example`);
  }
  for (const param of op.parameters ?? []) if (!paramHasExample(param)) problems.push(`${param.in} parameter ${param.name} example`);
  return problems;
}

let t: TestApp;
let doc: Json;
beforeAll(async () => {
  t = await startTestApp();
  const res = await t.app.inject('/openapi.json');
  expect(res.statusCode).toBe(200);
  doc = res.json();
});
afterAll(async () => t?.close());

function operations(): { method: string; path: string; op: Json }[] {
  const ops = [];
  for (const [path, item] of Object.entries<Json>(doc.paths)) {
    if (path === '/docs' || path.startsWith('/docs/')) continue; // the public UI assets
    for (const method of METHODS) if (item[method]) ops.push({ method: method.toUpperCase(), path, op: item[method] });
  }
  return ops;
}

describe('OpenAPI examples', () => {
  it('documents every API route (none hidden)', () => {
    const documented = new Set(operations().map(({ method, path }) => `${method} ${path}`));
    const apiRoutes = t.app.routeList.filter((r) => r.url.startsWith('/v1/') || r.url === '/healthz' || r.url === '/readyz');
    expect(apiRoutes.length).toBeGreaterThan(10);
    for (const r of apiRoutes) expect(documented, `${r.method} ${r.url}`).toContain(`${r.method} ${r.url.replace(/:(\w+)/g, '{$1}')}`);
  });

  it('every operation has a summary, a success example, request and parameter examples', () => {
    const ops = operations();
    expect(ops.length).toBeGreaterThanOrEqual(15);
    const missing = ops.map(({ method, path, op }) => ({ op: `${method} ${path}`, missing: missingExamples(doc, op) })).filter((m) => m.missing.length > 0);
    expect(missing).toEqual([]);
  });

  it('the checker rejects an operation without examples', () => {
    const bare = {
      summary: 'New route',
      parameters: [{ in: 'query', name: 'q', schema: { type: 'string' } }],
      requestBody: { content: { 'application/json': { schema: { type: 'object' } } } },
      responses: { 200: { description: 'ok', content: { 'application/json': { schema: { type: 'object' } } } } },
    };
    expect(missingExamples(doc, bare)).toEqual(['response 200 application/json example', 'an example in its responses', 'request application/json example', 'query parameter q example']);
    expect(missingExamples(doc, { responses: {} })).toEqual(['summary', 'an example in its responses', 'a success response']);
    // A component reference with an example counts.
    expect(missingExamples(doc, { summary: 's', responses: { 200: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Job' } } } } } })).toEqual([]);
  });

  it('documents the three upload content types, weights in both formats and the event message format', () => {
    const upload = doc.paths['/v1/datasets'].post.requestBody.content;
    expect(Object.keys(upload).sort()).toEqual(['application/json', 'text/csv', 'text/plain']);
    expect(upload['text/plain'].example).toBe(EXAMPLE_UPLOADS['text/plain']);
    expect(upload['text/csv'].example).toBe(EXAMPLE_UPLOADS['text/csv']);
    expect(upload['application/json'].example).toEqual(EXAMPLE_UPLOADS['application/json']);

    const weights = doc.paths['/v1/jobs/{id}/weights'].get.responses['200'].content;
    expect(weights['application/octet-stream'].schema).toMatchObject({ type: 'string', format: 'binary' });
    expect(weights['application/octet-stream'].schema.description).toContain('safetensors');
    expect(resolve(doc, weights['application/json'].schema)?.example).toEqual(EXAMPLE_WEIGHTS_JSON);

    const events = doc.paths['/v1/jobs/{id}/events'].get;
    for (const type of ['status', 'progress', 'epoch', 'checkpoint', 'completed', 'failed']) expect(events.description).toContain(`"type":"${type}"`);
    expect(events.description).toContain('{id, event}');
    expect(events.responses['200'].content['application/json'].examples.succeeded.value.items).toHaveLength(EXAMPLE_EVENT_MESSAGES.length);
  });

  it('the examples are valid against the schemas they illustrate', () => {
    for (const job of [EXAMPLE_JOB, EXAMPLE_QUEUED_JOB, EXAMPLE_CANCELLED_JOB, EXAMPLE_CANCEL_REQUESTED_JOB]) Job.parse(job);
    for (const ds of [EXAMPLE_DATASET, EXAMPLE_CSV_DATASET]) Dataset.parse(ds);
    for (const m of [...EXAMPLE_EVENT_MESSAGES, EXAMPLE_FAILED_EVENT_MESSAGE]) EventMessage.parse(m);
    CheckpointList.parse({ items: [EXAMPLE_CHECKPOINT] });
    WeightsJson.parse(EXAMPLE_WEIGHTS_JSON);
    ApiErrorBody.parse(EXAMPLE_ERROR);
    // Every request example in the document (component or named) passes its schema.
    const examplesOf = (path: string, method: string) => {
      const media = doc.paths[path][method].requestBody.content['application/json'];
      const named = Object.values<Json>(media.examples ?? {}).map((e) => e.value);
      return [...named, ...(media.example !== undefined ? [media.example] : []), resolve(doc, media.schema?.allOf?.[0] ?? media.schema)?.example].filter((e) => e !== undefined);
    };
    const create = examplesOf('/v1/jobs', 'post');
    expect(create.length).toBeGreaterThanOrEqual(2);
    for (const e of create) CreateJobRequest.parse(e);
    for (const e of examplesOf('/v1/jobs/{id}/predict', 'post')) PredictRequest.parse(e);
    for (const e of examplesOf('/v1/jobs/{id}/sample', 'post')) SampleRequest.parse(e);
  });

  it('the upload and job request examples are accepted by the API', async () => {
    for (const [type, body] of Object.entries(EXAMPLE_UPLOADS)) {
      const payload = typeof body === 'string' ? body : JSON.stringify(body);
      const query = type === 'text/csv' ? '?targetColumns=passengers&name=airline-passengers' : '';
      const res = await t.app.inject({ method: 'POST', url: `/v1/datasets${query}`, headers: { ...t.auth(), 'content-type': type }, payload });
      expect(res.statusCode, `${type}: ${res.body}`).toBe(201);
      if (type === 'text/csv') expect(res.json().stats).toMatchObject({ featureCount: 2, outputSize: 1, targetColumns: ['passengers'] });
    }
    const inline = doc.paths['/v1/jobs'].post.requestBody.content['application/json'].examples.inline.value;
    const res = await t.app.inject({ method: 'POST', url: '/v1/jobs', headers: t.auth(), payload: inline });
    expect(res.statusCode, res.body).toBe(202);
    expect(res.json()).toMatchObject({ status: 'queued', task: 'regression' });
  });
});
