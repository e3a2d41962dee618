// Jobs as the suites build and check them: a small LM job body, the epochs and statuses of an
// event history, and the trained weights as bytes (compared by hash).
import { createHash } from 'node:crypto';
import type { EventMessage, JobEvent } from '@unroll/protocol';
import type { ApiRequests } from './api-requests.ts';

/** A small LM job body: ~0.1 s per epoch on one core with CORPUS. */
export function lmJobBody(datasetId: string, training: Record<string, unknown> = {}, model: Record<string, unknown> = { hiddenSize: 8 }): Record<string, unknown> {
  return {
    datasetId,
    task: 'lm',
    model,
    training: { epochs: 10, batchSize: 4, bptt: { mode: 'truncated', k1: 8, k2: 8 }, optimizer: { name: 'adam', lr: 0.01 }, seed: 3, ...training },
  };
}

/** The epoch numbers of the `epoch` events, in order (stored messages or bare events). */
export function epochsOf(messages: readonly (EventMessage | JobEvent)[]): number[] {
  return messages.flatMap((m) => {
    const e = ('id' in m && 'event' in m ? m.event : m) as JobEvent;
    return e.type === 'epoch' ? [e.epoch] : [];
  });
}

/** The statuses of the `status` events, in order. */
export function statusesOf(messages: readonly EventMessage[]): string[] {
  return messages.flatMap((m) => (m.event.type === 'status' ? [m.event.status] : []));
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** GET /v1/jobs/:id/weights as bytes (expects 200). */
export async function downloadWeights(api: Pick<ApiRequests, 'request'>, id: string, query = ''): Promise<Uint8Array> {
  const res = await api.request(`/v1/jobs/${id}/weights${query}`);
  if (res.status !== 200) throw new Error(`weights: ${res.status} ${await res.text()}`);
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Weights of the same job trained without interruption by the service itself (same workers, same
 * compute backend — the worker picks WASM or JS kernels, so an in-process reference could differ).
 */
export async function uninterruptedWeights(api: ApiRequests, body: Record<string, unknown>): Promise<Uint8Array> {
  const id = await api.createJob(body);
  const job = await api.waitForStatus(id, ['succeeded', 'failed', 'cancelled'], 60_000);
  if (job.status !== 'succeeded' || job.attempt !== 1) throw new Error(`reference job ${id} did not run uninterrupted: ${job.status}, attempt ${job.attempt}`);
  return downloadWeights(api, id);
}
