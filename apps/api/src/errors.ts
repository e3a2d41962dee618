import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import type { ApiErrorBody, ErrorDetail, MemoryEstimate } from '@unroll/protocol';
import {
  ActiveJobsCapError,
  BlobTooLargeError,
  DatasetNotFoundError,
  InvalidCursorError,
  JobNotFoundError,
  StorageQuotaError,
} from '@unroll/store';
import { CheckpointError, DatasetError, ModelFormatError, ModelInputError, SafetensorsError } from './engine.ts';

/** An error we answer on purpose: HTTP status + machine-readable code (+ offending field). */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly details: { param?: string; line?: number; column?: number; memoryEstimate?: MemoryEstimate; position?: number; limit?: number; size?: number } = {},
  ) {
    super(message);
  }

  static notFound(what: string, id: string): ApiError {
    return new ApiError(404, 'not_found', `${what} ${id} not found`, { param: 'id' });
  }
}

/** Redis down or unreachable: the command connection fails fast (no offline queue, 1.5 s timeout). */
export function isRedisUnavailable(err: unknown): boolean {
  const message = String((err as Error)?.message ?? '');
  return (
    (err as Error)?.name === 'RedisUnavailableError' ||
    (err as Error)?.name === 'MaxRetriesPerRequestError' ||
    /enableOfflineQueue|Connection is closed|Command timed out|ECONNREFUSED|Stream isn't writeable|Redis connection timeout/i.test(message)
  );
}

/** The blob store's disk (or quota) is full: a server condition the client can act on, not an internal error. */
function isStorageFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code ?? ((err as { cause?: NodeJS.ErrnoException })?.cause?.code);
  return code === 'ENOSPC' || code === 'EDQUOT';
}

export class RedisUnavailableError extends Error {
  override name = 'RedisUnavailableError';
}

/** Rejects with RedisUnavailableError when `promise` does not settle within `ms` (BullMQ waits for a connection otherwise). */
export async function withRedisDeadline<T>(promise: Promise<T>, ms = 1500): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new RedisUnavailableError(`Redis did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function body(code: string, message: string, extra: Omit<ErrorDetail, 'code' | 'message'> = {}): ApiErrorBody {
  const error: ErrorDetail = { code, message };
  if (extra.param !== undefined) error.param = extra.param;
  if (extra.line !== undefined) error.line = extra.line;
  if (extra.column !== undefined) error.column = extra.column;
  if (extra.memoryEstimate !== undefined) error.memoryEstimate = extra.memoryEstimate;
  if (extra.position !== undefined) error.position = extra.position;
  if (extra.limit !== undefined) error.limit = extra.limit;
  if (extra.size !== undefined) error.size = extra.size;
  return { error };
}

/** Maps every error to `{error: {code, message, param?, line?, column?}}`; unknown ones to 500 without internals. */
export function toErrorResponse(err: FastifyError | Error): { statusCode: number; body: ApiErrorBody } {
  if (hasZodFastifySchemaValidationErrors(err)) {
    const issue = err.validation[0];
    const path = issue.instancePath.split('/').filter(Boolean);
    const keysParam = (issue.params as { keys?: string[] }).keys;
    if (issue.keyword === 'unrecognized_keys' && keysParam?.length) path.push(keysParam[0]);
    const param = path.join('.');
    const context = (err as FastifyError).validationContext;
    const where = param === '' ? (context ?? 'body') : param;
    const message = issue.keyword === 'unrecognized_keys' ? `unknown field ${where}` : `${where}: ${issue.message}`;
    return { statusCode: 400, body: body('invalid_request', message, { param: where }) };
  }
  if (err instanceof ApiError) return { statusCode: err.statusCode, body: body(err.code, err.message, err.details) };
  if (err instanceof DatasetError) {
    return { statusCode: 400, body: body('invalid_dataset', err.message, { param: err.field ?? 'body', line: err.line, column: err.column }) };
  }
  if (err instanceof ModelInputError) return { statusCode: 400, body: body('invalid_request', err.message, { param: err.field }) };
  if (err instanceof CheckpointError) return { statusCode: 409, body: body('not_ready', `checkpoint unusable: ${err.message}`, { param: 'checkpoint' }) };
  if (err instanceof SafetensorsError || err instanceof ModelFormatError) {
    return { statusCode: 422, body: body('invalid_weights', err.message) };
  }
  if (err instanceof BlobTooLargeError) {
    return { statusCode: 413, body: body('payload_too_large', `body exceeds the limit of ${err.maxBytes} bytes`) };
  }
  if (err instanceof ActiveJobsCapError) {
    return { statusCode: 429, body: body('too_many_active_jobs', `${err.message}; wait for one to finish or cancel one`, { param: 'tenant' }) };
  }
  if (err instanceof StorageQuotaError) {
    return { statusCode: 429, body: body('storage_quota_exceeded', `${err.message}; delete datasets to make room`, { param: 'body' }) };
  }
  if (err instanceof InvalidCursorError) return { statusCode: 400, body: body('invalid_request', 'invalid cursor', { param: 'cursor' }) };
  if (err instanceof JobNotFoundError) return { statusCode: 404, body: body('not_found', err.message, { param: 'id' }) };
  if (err instanceof DatasetNotFoundError) return { statusCode: 404, body: body('not_found', err.message, { param: 'datasetId' }) };
  if (isRedisUnavailable(err)) return { statusCode: 503, body: body('redis_unavailable', 'Redis is unavailable; try again shortly') };
  if (isStorageFull(err)) {
    return { statusCode: 507, body: body('insufficient_storage', "the server's storage is full; nothing was stored. Try again later, or delete datasets you no longer need") };
  }
  if (!isResponseSerializationError(err)) {
    const fe = err as FastifyError;
    // Fastify's own client errors (bad JSON, unsupported media type, body too large...).
    if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
      const code =
        fe.statusCode === 413 ? 'payload_too_large' : fe.statusCode === 415 ? 'unsupported_media_type' : fe.statusCode === 404 ? 'not_found' : 'invalid_request';
      return { statusCode: fe.statusCode, body: body(code, fe.message, fe.statusCode === 415 ? { param: 'content-type' } : { param: 'body' }) };
    }
  }
  return { statusCode: 500, body: body('internal', 'internal error') };
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const { statusCode, body: payload } = toErrorResponse(err);
    if (statusCode >= 500) request.log.error({ err }, 'request failed');
    else request.log.info({ code: payload.error.code, param: payload.error.param }, 'request rejected');
    return reply.code(statusCode).send(payload);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(body('not_found', `no route ${request.method} ${request.url.split('?')[0]}`));
  });
}

/** Longest path parameter the router accepts (Fastify's default maxParamLength). */
const MAX_PARAM_LENGTH = 100;

/**
 * Fastify's `frameworkErrors`: errors its router raises before any route or hook runs. The
 * message never repeats the URL (it may carry a key).
 */
export function frameworkErrorHandler(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    reply.code(414).send(body('uri_too_long', `a path segment exceeds ${MAX_PARAM_LENGTH} characters`, { param: 'url' }));
  } else if (err.code === 'FST_ERR_BAD_URL') {
    reply.code(400).send(body('invalid_request', 'the URL path is not valid percent-encoded UTF-8', { param: 'url' }));
  } else {
    reply.code(400).send(body('invalid_request', 'the request could not be routed', { param: 'url' }));
  }
}

/**
 * Node's `clientError`: requests its HTTP parser rejects (malformed request line or chunking,
 * headers past maxHeaderSize, a request that took too long), answered on the raw socket.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, payload] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, body('headers_too_large', 'the request line and headers exceed the server limit (16 KiB); send long inputs in the body', { param: 'headers' })]
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, body('request_timeout', 'the request was not received in time')]
        : [400, body('invalid_request', 'malformed HTTP request')];
  const json = JSON.stringify(payload);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
    );
  }
  socket.destroy();
}
