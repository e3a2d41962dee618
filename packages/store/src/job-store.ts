import type { Redis } from 'ioredis';
import {
  JobSpec,
  TRANSITIONS,
  isTerminal,
  type Job,
  type JobError,
  type JobEvent,
  type JobStatus,
  type Progress,
  type Transition,
  type MemoryEstimate,
} from '@unroll/protocol';
import { DatasetNotFoundError, IllegalTransitionError, JobNotFoundError, StaleFenceError } from './errors.ts';
import { newJobId } from './ids.ts';
import { keys } from './keys.ts';
import { LuaScript } from './scripts.ts';
import { zsetPage, type Page } from './pagination.ts';

/** A job as stored: the public view plus what only the service may see. */
export interface JobRecord extends Job {
  tenant: string;
  /** Current attempt's fence token (0 before the first claim). */
  fence: number;
  /** Highest epoch whose `epoch` event is in the stream (0 = none). */
  lastEpoch: number;
  /** Blob key of the final weights, recorded by the attempt whose `succeeded` transition landed. */
  weightsKey: string | null;
}

export interface JobStoreOptions {
  /** XADD MAXLEN ~ for event streams (EVENT_RETENTION). */
  eventRetention: number;
  /** Seconds a terminal job's record and stream live (JOB_RETENTION); 0 = forever. */
  jobRetentionSeconds: number;
}

export interface FenceOption {
  /** Fence token from claimAttempt; the write is refused (StaleFenceError) when a newer attempt exists. */
  fence?: number;
}

export interface TransitionOptions extends FenceOption {
  /** Stored as the job's error (failed jobs). */
  error?: JobError;
  /**
   * A detail event (`completed` / `failed`) appended in the same atomic write, right BEFORE the
   * status event, so a stream always ends with its terminal status event.
   */
  event?: JobEvent;
  /** Extra hash fields written in the same atomic (fenced) write, e.g. `weightsKey`. */
  fields?: Record<string, string>;
  /** Why: kept in the history entry and the status event (e.g. a retried attempt's error). */
  reason?: string;
}

/** The tenant already has this many queued/running jobs (JobStore.create with maxActiveJobs). */
export class ActiveJobsCapError extends Error {
  override name = 'ActiveJobsCapError';
  constructor(
    readonly tenant: string,
    readonly max: number,
  ) {
    super(`tenant already has ${max} queued or running jobs (the limit)`);
  }
}

// Shared Lua prologue: KEYS[1] is the job hash; ARGV[1] the fence ('' = unfenced).
const CHECK_FENCE = `
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then return {'stale'} end
`;

// KEYS: job, tenantJobs, dataset, datasetActive, events, tenantActive
// ARGV: id, tenant, datasetId, task, specJson, nowMs, historyEntry, statusEventJson, maxlen, maxActive (0 = no cap), memoryEstimateJson|''
const CREATE = new LuaScript(`
if redis.call('HGET', KEYS[3], 'tenant') ~= ARGV[2] then return {'no_dataset'} end
if redis.call('EXISTS', KEYS[1]) == 1 then return {'exists'} end
if tonumber(ARGV[10]) > 0 and redis.call('SCARD', KEYS[6]) >= tonumber(ARGV[10]) then return {'cap'} end
redis.call('SADD', KEYS[6], ARGV[1])
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'tenant', ARGV[2], 'datasetId', ARGV[3], 'task', ARGV[4],
  'spec', ARGV[5], 'status', 'queued', 'createdAt', ARGV[6], 'updatedAt', ARGV[6], 'at:queued', ARGV[6],
  'history', ARGV[7], 'fence', '0', 'lastEpoch', '0')
if ARGV[11] ~= '' then redis.call('HSET', KEYS[1], 'memoryEstimate', ARGV[11]) end
redis.call('ZADD', KEYS[2], ARGV[6], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
local id = redis.call('XADD', KEYS[5], 'MAXLEN', '~', ARGV[9], '*', 'e', ARGV[8])
return {'ok', id}
`);

// KEYS: job, events, datasetActive, tenantActive
// ARGV: fence, to, allowedFromCsv, nowMs, historyEntry, statusEventJson, detailEventJson|'', errorJson|'', maxlen, retentionSec, terminal '1'|'0', field, value, ...
const TRANSITION = new LuaScript(`${CHECK_FENCE}
local from = redis.call('HGET', KEYS[1], 'status')
local allowed = false
for s in string.gmatch(ARGV[3], '[^,]+') do if s == from then allowed = true end end
if not allowed then return {'illegal', from} end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updatedAt', ARGV[4], 'at:' .. ARGV[2], ARGV[4],
  'history', (redis.call('HGET', KEYS[1], 'history') or '') .. ARGV[5])
if ARGV[8] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[8]) end
for i = 12, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[7] ~= '' then redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[9], '*', 'e', ARGV[7]) end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[9], '*', 'e', ARGV[6])
if ARGV[11] == '1' then
  redis.call('SREM', KEYS[3], redis.call('HGET', KEYS[1], 'id'))
  redis.call('SREM', KEYS[4], redis.call('HGET', KEYS[1], 'id'))
  if tonumber(ARGV[10]) > 0 then
    redis.call('EXPIRE', KEYS[1], ARGV[10])
    redis.call('EXPIRE', KEYS[2], ARGV[10])
  end
end
return {'ok', id}
`);

// KEYS: job. ARGV: fence, nowMs, field, value, field, value, ...
const FENCED_HSET = new LuaScript(`${CHECK_FENCE}
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[2])
return {'ok'}
`);

// KEYS: job. Sets cancelRequested unless the job is already finished. Returns the status.
const REQUEST_CANCEL = new LuaScript(`
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'missing'} end
if status == 'queued' or status == 'running' then redis.call('HSET', KEYS[1], 'cancelRequested', '1') end
return {'ok', status}
`);

// KEYS: job. ARGV: fence. {'ok'} while the fence is current.
const CHECK = new LuaScript(`${CHECK_FENCE}
return {'ok'}
`);

// KEYS: job. A new attempt: bump the fence so writes of any earlier attempt are refused.
const CLAIM = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
return {'ok', tostring(redis.call('HINCRBY', KEYS[1], 'fence', 1))}
`);

type ScriptReply = [string, string?];

/** Job records in Redis hashes (`unroll:job:{id}`), with a fenced, atomic lifecycle. */
export class JobStore {
  constructor(
    readonly redis: Redis,
    readonly options: JobStoreOptions,
  ) {}

  /** Creates a queued job for `tenant` and appends its first status event. The dataset must belong to the tenant. */
  /**
   * `maxActiveJobs` (> 0): refuses with ActiveJobsCapError when the tenant already has that many
   * queued/running jobs (checked and counted in the same atomic write).
   */
  async create(input: { tenant: string; spec: JobSpec; id?: string; now?: Date; maxActiveJobs?: number; memoryEstimate?: MemoryEstimate }): Promise<JobRecord> {
    const spec = JobSpec.parse(input.spec);
    const now = input.now ?? new Date();
    const id = input.id ?? newJobId(now.getTime());
    const entry: Transition = { status: 'queued', at: now.toISOString() };
    const statusEvent: JobEvent = { type: 'status', status: 'queued', at: entry.at };
    const reply = (await CREATE.run(
      this.redis,
      [
        keys.job(id),
        keys.tenantJobs(input.tenant),
        keys.dataset(spec.datasetId),
        keys.datasetActiveJobs(spec.datasetId),
        keys.jobEvents(id),
        keys.tenantActiveJobs(input.tenant),
      ],
      [
        id,
        input.tenant,
        spec.datasetId,
        spec.task,
        JSON.stringify(spec),
        now.getTime(),
        historyLine(entry),
        JSON.stringify(statusEvent),
        this.options.eventRetention,
        input.maxActiveJobs ?? 0,
        input.memoryEstimate ? JSON.stringify(input.memoryEstimate) : '',
      ],
    )) as ScriptReply;
    if (reply[0] === 'no_dataset') throw new DatasetNotFoundError(spec.datasetId);
    if (reply[0] === 'cap') throw new ActiveJobsCapError(input.tenant, input.maxActiveJobs ?? 0);
    if (reply[0] === 'exists') throw new Error(`job ${id} already exists`);
    const record = await this.get(id);
    if (!record) throw new JobNotFoundError(id);
    return record;
  }

  async get(id: string): Promise<JobRecord | null> {
    const hash = await this.redis.hgetall(keys.job(id));
    return parseJobHash(hash);
  }

  /** The job when it exists and belongs to `tenant`; null otherwise (another tenant sees nothing). */
  async getForTenant(id: string, tenant: string): Promise<JobRecord | null> {
    const job = await this.get(id);
    return job && job.tenant === tenant ? job : null;
  }

  /** Newest first. Jobs whose records expired (JOB_RETENTION) drop out of the listing. */
  async list(tenant: string, opts: { status?: JobStatus; cursor?: string; limit: number }): Promise<Page<JobRecord>> {
    return zsetPage<JobRecord>(this.redis, keys.tenantJobs(tenant), opts, async (ids) => {
      const pipe = this.redis.pipeline();
      for (const id of ids) pipe.hgetall(keys.job(id));
      const results = (await pipe.exec()) ?? [];
      return results.map(([err, hash]) => {
        if (err) throw err;
        const job = parseJobHash(hash as Record<string, string>);
        if (!job) return { skip: true as const, stale: true };
        if (opts.status && job.status !== opts.status) return { skip: true as const };
        return { item: job };
      });
    });
  }

  /**
   * Moves the job along its lifecycle and appends the `status` event in one atomic script.
   * Throws IllegalTransitionError, StaleFenceError or JobNotFoundError.
   * Terminal statuses release the dataset and start the retention clock (EXPIRE).
   */
  async transition(id: string, to: JobStatus, opts: TransitionOptions = {}): Promise<{ streamId: string }> {
    const job = await this.get(id);
    if (!job) throw new JobNotFoundError(id);
    const now = new Date();
    const attempt = job.fence > 0 ? (opts.fence ?? job.fence) : undefined;
    const entry: Transition = { status: to, at: now.toISOString(), ...(attempt !== undefined ? { attempt } : {}), ...(opts.reason ? { reason: opts.reason } : {}) };
    const statusEvent: JobEvent = { type: 'status', ...entry };
    const allowedFrom = (Object.keys(TRANSITIONS) as JobStatus[]).filter((s) => TRANSITIONS[s].includes(to));
    const reply = (await TRANSITION.run(
      this.redis,
      [keys.job(id), keys.jobEvents(id), keys.datasetActiveJobs(job.datasetId), keys.tenantActiveJobs(job.tenant)],
      [
        fenceArg(opts),
        to,
        allowedFrom.join(','),
        now.getTime(),
        historyLine(entry),
        JSON.stringify(statusEvent),
        opts.event ? JSON.stringify({ ...opts.event, at: opts.event.at ?? entry.at }) : '',
        opts.error ? JSON.stringify(opts.error) : '',
        this.options.eventRetention,
        this.options.jobRetentionSeconds,
        isTerminal(to) ? '1' : '0',
        ...Object.entries(opts.fields ?? {}).flat(),
      ],
    )) as ScriptReply;
    this.check(reply, id, opts);
    if (reply[0] === 'illegal') throw new IllegalTransitionError(id, reply[1] as JobStatus, to);
    return { streamId: reply[1] as string };
  }

  /** Starts a new attempt and returns its fence token; writes carrying an older token are refused from now on. */
  async claimAttempt(id: string): Promise<number> {
    const reply = (await CLAIM.run(this.redis, [keys.job(id)], [])) as ScriptReply;
    if (reply[0] === 'missing') throw new JobNotFoundError(id);
    return Number(reply[1]);
  }

  /** Throws StaleFenceError when a newer attempt owns the job: check it right before writing artifacts. */
  async assertFence(id: string, fence: number): Promise<void> {
    const reply = (await CHECK.run(this.redis, [keys.job(id)], [fenceArg({ fence })])) as ScriptReply;
    this.check(reply, id, { fence });
  }

  /** Queued/running jobs of the tenant (what the concurrent-jobs cap counts). */
  async activeCount(tenant: string): Promise<number> {
    return this.redis.scard(keys.tenantActiveJobs(tenant));
  }

  async setProgress(id: string, progress: Progress, opts: FenceOption = {}): Promise<void> {
    await this.fencedSet(id, opts, { progress: JSON.stringify(progress) });
  }

  /** Latest epoch metrics (EventLog.append of an `epoch` event also sets them). */
  async setMetrics(id: string, metrics: Record<string, unknown>, opts: FenceOption = {}): Promise<void> {
    await this.fencedSet(id, opts, { metrics: JSON.stringify(metrics) });
  }

  async setError(id: string, error: JobError, opts: FenceOption = {}): Promise<void> {
    await this.fencedSet(id, opts, { error: JSON.stringify(error) });
  }

  /** Flags a queued/running job for cancellation; returns the status it had. Terminal jobs are left alone. */
  async requestCancel(id: string): Promise<JobStatus> {
    const reply = (await REQUEST_CANCEL.run(this.redis, [keys.job(id)], [])) as ScriptReply;
    if (reply[0] === 'missing') throw new JobNotFoundError(id);
    return reply[1] as JobStatus;
  }

  async isCancelRequested(id: string): Promise<boolean> {
    return (await this.redis.hget(keys.job(id), 'cancelRequested')) === '1';
  }

  private async fencedSet(id: string, opts: FenceOption, fields: Record<string, string>): Promise<void> {
    const args: (string | number)[] = [fenceArg(opts), Date.now()];
    for (const [k, v] of Object.entries(fields)) args.push(k, v);
    const reply = (await FENCED_HSET.run(this.redis, [keys.job(id)], args)) as ScriptReply;
    this.check(reply, id, opts);
  }

  private check(reply: ScriptReply, id: string, opts: FenceOption): void {
    if (reply[0] === 'missing') throw new JobNotFoundError(id);
    if (reply[0] === 'stale') throw new StaleFenceError(id, opts.fence ?? -1);
  }
}

export function fenceArg(opts: FenceOption): string {
  if (opts.fence === undefined) return '';
  if (!Number.isSafeInteger(opts.fence) || opts.fence < 1) throw new Error(`invalid fence token ${opts.fence}`);
  return String(opts.fence);
}

function historyLine(entry: Transition): string {
  return `${JSON.stringify(entry)}\n`;
}

const iso = (ms: string | undefined) => (ms === undefined ? undefined : new Date(Number(ms)).toISOString());

export function parseJobHash(hash: Record<string, string> | null | undefined): JobRecord | null {
  if (!hash || !hash.id || !hash.status) return null;
  const timestamps: Partial<Record<JobStatus, string>> = {};
  for (const status of Object.keys(TRANSITIONS) as JobStatus[]) {
    const at = iso(hash[`at:${status}`]);
    if (at) timestamps[status] = at;
  }
  const spec = JSON.parse(hash.spec) as JobSpec;
  const progress = hash.progress ? (JSON.parse(hash.progress) as Progress & { type?: string }) : null;
  if (progress) delete progress.type;
  return {
    id: hash.id,
    tenant: hash.tenant,
    status: hash.status as JobStatus,
    task: spec.task,
    datasetId: hash.datasetId,
    spec,
    createdAt: iso(hash.createdAt)!,
    updatedAt: iso(hash.updatedAt)!,
    timestamps,
    history: (hash.history ?? '')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Transition),
    attempt: Number(hash.fence ?? 0),
    fence: Number(hash.fence ?? 0),
    lastEpoch: Number(hash.lastEpoch ?? 0),
    weightsKey: hash.weightsKey || null,
    cancelRequested: hash.cancelRequested === '1',
    progress,
    metrics: hash.metrics ? (JSON.parse(hash.metrics) as Record<string, unknown>) : null,
    error: hash.error ? (JSON.parse(hash.error) as JobError) : null,
    memoryEstimate: hash.memoryEstimate ? (JSON.parse(hash.memoryEstimate) as MemoryEstimate) : null,
  };
}

/** The public view: drops tenant, fence, lastEpoch and weightsKey. */
export function toPublicJob(record: JobRecord): Job {
  const { tenant: _tenant, fence: _fence, lastEpoch: _lastEpoch, weightsKey: _weightsKey, ...job } = record;
  return job;
}
