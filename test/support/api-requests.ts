// The API over plain HTTP with one tenant's key: the calls the suites make again and again, each
// checking its status and throwing with the body (and, when waiting, the processes' output).
import { setTimeout as sleep } from 'node:timers/promises';
import type { EventMessage, Job, JobStatus } from '@unroll/protocol';
import { CORPUS } from './corpora.ts';

export interface ApiRequests {
  /** fetch against the API with the key. */
  request(path: string, init?: RequestInit): Promise<Response>;
  /** POST /v1/datasets as text/plain, expecting 201; returns the dataset id. */
  uploadCorpus(text?: string): Promise<string>;
  /** POST /v1/jobs, expecting 202; returns the job id. */
  createJob(body: Record<string, unknown>): Promise<string>;
  job(id: string): Promise<Job>;
  waitForStatus(id: string, status: JobStatus | JobStatus[], timeoutMs?: number): Promise<Job>;
  /** The job's whole event history over HTTP (all pages). */
  events(id: string): Promise<EventMessage[]>;
}

/** `logs` is appended to a waitForStatus timeout: what the processes printed explains it. */
export function apiRequests(baseUrl: string, apiKey: string, logs: () => string = () => ''): ApiRequests {
  const request = (path: string, init: RequestInit = {}) =>
    fetch(`${baseUrl}${path}`, { ...init, headers: { authorization: `Bearer ${apiKey}`, ...(init.headers as Record<string, string>) } });

  const job = async (id: string): Promise<Job> => {
    const res = await request(`/v1/jobs/${id}`);
    const text = await res.text();
    if (res.status !== 200) throw new Error(`get job: ${res.status} ${text}`);
    return JSON.parse(text) as Job;
  };

  return {
    request,
    job,
    async uploadCorpus(text = CORPUS) {
      const res = await request('/v1/datasets', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: text });
      const body = await res.text();
      if (res.status !== 201) throw new Error(`upload: ${res.status} ${body}`);
      return (JSON.parse(body) as { id: string }).id;
    },
    async createJob(body) {
      const res = await request('/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const text = await res.text();
      if (res.status !== 202) throw new Error(`create job: ${res.status} ${text}`);
      return (JSON.parse(text) as { id: string }).id;
    },
    async waitForStatus(id, status, timeoutMs = 60_000) {
      const wanted = Array.isArray(status) ? status : [status];
      const deadline = Date.now() + timeoutMs;
      let last: Job | null = null;
      while (Date.now() < deadline) {
        last = await job(id).catch(() => last);
        if (last && wanted.includes(last.status)) return last;
        await sleep(100);
      }
      throw new Error(`job ${id} not ${wanted.join('/')} within ${timeoutMs} ms (last: ${last?.status})\n${logs().split('\n').slice(-60).join('\n')}`);
    },
    async events(id) {
      const out: EventMessage[] = [];
      let after = '';
      for (;;) {
        const res = await request(`/v1/jobs/${id}/events?limit=1000${after ? `&after=${after}` : ''}`);
        if (res.status !== 200) throw new Error(`events: ${res.status} ${await res.text()}`);
        const page = (await res.json()) as { items: EventMessage[] };
        out.push(...page.items);
        if (page.items.length < 1000) return out;
        after = page.items.at(-1)!.id;
      }
    },
  };
}
