import type {
  Checkpoint,
  CreateJobRequestInput,
  Dataset,
  EventMessage,
  Job,
  JobStatus,
  PredictRequest,
  SampleRequest,
} from '@unroll/protocol';
import { UnrollApiError } from './errors.ts';
import { contentTypeForFileName, resolveUploadSource, type UploadSource } from './upload-source.ts';
import { canSendKeyAsSubprotocol, defaultWebSocketFactory, WS_PROTOCOL, type WebSocketFactory, type WebSocketLike } from './websocket.ts';
import { watchJob, type WatchOptions } from './watch.ts';

export interface UnrollClientOptions {
  /** e.g. http://127.0.0.1:3000 (a trailing slash is fine). */
  baseUrl: string;
  apiKey: string;
  /** Defaults to the global fetch. */
  fetch?: typeof fetch;
  /** Defaults to `ws` on Node and the browser's WebSocket elsewhere. */
  webSocket?: WebSocketFactory;
}

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface UploadDatasetOptions {
  /** text/plain, application/json or text/csv; by default from the file name (text/plain otherwise). */
  contentType?: string;
  /** Dataset name (default: the file name). */
  name?: string;
  /** CSV only. */
  targetColumns?: string[];
  horizon?: number;
  normalize?: boolean;
  signal?: AbortSignal;
}

export interface WeightsOptions {
  format?: 'safetensors' | 'json';
  /** `best` or an epoch number; omitted: the final weights. */
  checkpoint?: 'best' | number;
}

/** Input of POST /v1/jobs/:id/predict and /sample: defaults may be left out. */
export type PredictInput = Pick<PredictRequest, 'output' | 'k'> &
  Partial<Pick<PredictRequest, 'weights' | 'positions'>> &
  ({ inputs: NonNullable<PredictRequest['inputs']>; text?: never } | { text: NonNullable<PredictRequest['text']>; inputs?: never });
export type SampleInput = Partial<SampleRequest>;

/** The Unroll API over fetch (REST) and WebSocket (live events). Works in Node 20+ and browsers. */
export class UnrollClient {
  readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly fetchImpl: typeof fetch;
  private webSocketFactory: WebSocketFactory | undefined;

  constructor(options: UnrollClientOptions) {
    if (!options.baseUrl) throw new TypeError('baseUrl is required');
    if (!options.apiKey) throw new TypeError('apiKey is required');
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.apiKey = options.apiKey;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.webSocketFactory = options.webSocket;
  }

  // Datasets

  /** Streams a dataset to POST /v1/datasets: a file path, a stream, a Blob/File or bytes. */
  async uploadDataset(source: UploadSource, options: UploadDatasetOptions = {}): Promise<Dataset> {
    const resolved = await resolveUploadSource(source);
    const contentType = options.contentType ?? contentTypeForFileName(resolved.fileName);
    const query: Record<string, string | number | boolean | undefined> = {
      name: options.name ?? resolved.fileName ?? undefined,
      targetColumns: options.targetColumns?.join(','),
      horizon: options.horizon,
      normalize: options.normalize,
    };
    const init: RequestInit & { duplex?: 'half' } = {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: resolved.body,
      signal: options.signal,
    };
    if (resolved.streamed) init.duplex = 'half';
    return this.json<Dataset>(`/v1/datasets${queryString(query)}`, init);
  }

  listDatasets(query: { cursor?: string; limit?: number } = {}): Promise<Page<Dataset>> {
    return this.json(`/v1/datasets${queryString(query)}`);
  }

  getDataset(id: string): Promise<Dataset> {
    return this.json(`/v1/datasets/${encodeURIComponent(id)}`);
  }

  async deleteDataset(id: string): Promise<void> {
    await this.request(`/v1/datasets/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  // Jobs

  /** Queues a training job; the answer echoes the spec with every default filled in. */
  createJob(request: CreateJobRequestInput): Promise<Job> {
    return this.json('/v1/jobs', jsonBody('POST', request));
  }

  listJobs(query: { cursor?: string; limit?: number; status?: JobStatus } = {}): Promise<Page<Job>> {
    return this.json(`/v1/jobs${queryString(query)}`);
  }

  /** Every job, newest first, following the cursor page by page. */
  async *allJobs(query: { status?: JobStatus; pageSize?: number } = {}): AsyncGenerator<Job, void, undefined> {
    let cursor: string | undefined;
    do {
      const page = await this.listJobs({ status: query.status, limit: query.pageSize ?? 100, cursor });
      yield* page.items;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }

  getJob(id: string): Promise<Job> {
    return this.json(`/v1/jobs/${encodeURIComponent(id)}`);
  }

  /** Cancels a job: queued ones at once, running ones at the worker's next step (status stays `running` until then). */
  cancelJob(id: string): Promise<Job> {
    return this.json(`/v1/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
  }

  // Events

  /** One page of a job's event history over plain HTTP. */
  listEvents(id: string, query: { after?: string; limit?: number } = {}): Promise<{ items: EventMessage[]; nextAfter: string | null }> {
    return this.json(`/v1/jobs/${encodeURIComponent(id)}/events${queryString(query)}`);
  }

  /**
   * The job's events over a WebSocket: history, then live, until its terminal status event.
   * Reconnects from the last event id by itself; `break` out of the loop to stop early.
   */
  watch(id: string, options: WatchOptions = {}): AsyncGenerator<EventMessage, void, undefined> {
    return watchJob(
      {
        openSocket: (jobId, after) => this.openEventSocket(jobId, after),
        probeEvents: async (jobId, after) => {
          await this.listEvents(jobId, { after, limit: 1 });
        },
        jobIsFinished: async (jobId) => {
          const job = await this.getJob(jobId);
          return job.status === 'succeeded' || job.status === 'failed' || job.status === 'cancelled';
        },
      },
      id,
      options,
    );
  }

  /** URL of the events WebSocket (ws:// or wss://), resuming after `after`. */
  eventsSocketUrl(id: string, after?: string, token?: string): string {
    const url = new URL(`${this.baseUrl}/v1/jobs/${encodeURIComponent(id)}/events`);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    if (after) url.searchParams.set('after', after);
    if (token) url.searchParams.set('token', token);
    return url.toString();
  }

  private async openEventSocket(id: string, after: string | undefined): Promise<WebSocketLike> {
    let factory = this.webSocketFactory;
    let sendsHeaders = false;
    if (!factory) {
      const found = await defaultWebSocketFactory();
      factory = this.webSocketFactory = found.factory;
      sendsHeaders = found.sendsHeaders;
    }
    const protocols = [WS_PROTOCOL];
    // Browsers cannot set headers: the key goes in a subprotocol (kept out of URLs and logs),
    // or in ?token= when it has characters a subprotocol cannot carry.
    let token: string | undefined;
    if (!sendsHeaders) {
      if (canSendKeyAsSubprotocol(this.apiKey)) protocols.push(`bearer.${this.apiKey}`);
      else token = this.apiKey;
    }
    return factory(this.eventsSocketUrl(id, after, token), protocols, { authorization: `Bearer ${this.apiKey}` });
  }

  // Weights

  /** Weights as bytes: safetensors (PyTorch nn.RNN + Linear names) or the JSON form's UTF-8 text. */
  async downloadWeights(id: string, options: WeightsOptions = {}): Promise<Uint8Array> {
    const response = await this.request(this.weightsPath(id, options));
    return new Uint8Array(await response.arrayBuffer());
  }

  /** Weights in the JSON form. */
  async weightsJson(id: string, options: Omit<WeightsOptions, 'format'> = {}): Promise<unknown> {
    return this.json(this.weightsPath(id, { ...options, format: 'json' }));
  }

  /** Streams weights into a file (Node), written to a temp file first so a failure leaves no partial file. */
  async saveWeights(id: string, filePath: string, options: WeightsOptions = {}): Promise<{ path: string; bytes: number }> {
    const response = await this.request(this.weightsPath(id, options));
    const fs = await import('node:fs');
    const { Readable, Transform } = await import('node:stream');
    const { pipeline } = await import('node:stream/promises');
    const temp = `${filePath}.${process.pid}.part`;
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    const out = fs.createWriteStream(temp);
    try {
      await pipeline(Readable.fromWeb(response.body! as import('node:stream/web').ReadableStream<Uint8Array>), counter, out);
      await fs.promises.rename(temp, filePath);
    } catch (err) {
      // the stream opens its file asynchronously: wait until it has closed it, or the file could
      // appear after the rm
      if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
      await fs.promises.rm(temp, { force: true });
      throw err;
    }
    return { path: filePath, bytes };
  }

  /** URL that downloads weights (for links; needs the Authorization header, so browsers fetch it). */
  weightsUrl(id: string, options: WeightsOptions = {}): string {
    return `${this.baseUrl}${this.weightsPath(id, options)}`;
  }

  async listCheckpoints(id: string): Promise<Checkpoint[]> {
    const page = await this.json<{ items: Checkpoint[] }>(`/v1/jobs/${encodeURIComponent(id)}/checkpoints`);
    return page.items;
  }

  // Inference

  /**
   * Per-step outputs for each input sequence (token ids, vectors, or text for a language model):
   * probabilities (lm, classification) or values (regression) by default; `output` (logits,
   * log_probs, probs, top_k with k) and `positions: 'last'` shrink the answer.
   */
  predict(id: string, request: PredictInput): Promise<{ outputs: unknown[] }> {
    return this.json(`/v1/jobs/${encodeURIComponent(id)}/predict`, jsonBody('POST', request));
  }

  /** Text from a language model job. */
  sample(id: string, request: SampleInput = {}): Promise<{ text: string }> {
    return this.json(`/v1/jobs/${encodeURIComponent(id)}/sample`, jsonBody('POST', request));
  }

  // Plumbing

  private weightsPath(id: string, options: WeightsOptions): string {
    const checkpoint = options.checkpoint === undefined ? undefined : String(options.checkpoint);
    return `/v1/jobs/${encodeURIComponent(id)}/weights${queryString({ format: options.format, checkpoint })}`;
  }

  private async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    const response = await this.request(path, init);
    return (await response.json()) as T;
  }

  /** fetch with the key; non-2xx answers and lost connections become UnrollApiError. */
  async request(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${this.apiKey}`);
    let response: Response;
    try {
      response = await this.fetchImpl(`${this.baseUrl}${path}`, { ...init, headers });
    } catch (err) {
      if ((err as Error)?.name === 'AbortError') throw err;
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new UnrollApiError(0, { code: 'connection_failed', message: `cannot reach ${this.baseUrl}: ${why}` }, { cause: err });
    }
    if (!response.ok) throw await UnrollApiError.fromResponse(response);
    return response;
  }
}

function jsonBody(method: string, body: unknown): RequestInit {
  return { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

function queryString(query: Record<string, string | number | boolean | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) params.set(key, String(value));
  const s = params.toString();
  return s ? `?${s}` : '';
}
