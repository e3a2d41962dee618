import type { Redis } from 'ioredis';
import { JobEvent, type EventMessage } from '@unroll/protocol';
import { JobNotFoundError, StaleFenceError } from './errors.ts';
import { fenceArg, type FenceOption } from './job-store.ts';
import { keys } from './keys.ts';
import { LuaScript } from './scripts.ts';

// KEYS: job, events. ARGV: fence, eventJson, epoch|'' , type, maxlen, nowMs
// An epoch event is appended at most once per epoch (a resumed or retried attempt may
// re-send it): `lastEpoch` on the job hash is checked and set in the same script. The job
// hash also keeps the latest metrics / progress so GET /v1/jobs/:id needs no stream scan.
const APPEND = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return {'missing'} end
if ARGV[1] ~= '' and redis.call('HGET', KEYS[1], 'fence') ~= ARGV[1] then return {'stale'} end
if ARGV[3] ~= '' then
  local last = tonumber(redis.call('HGET', KEYS[1], 'lastEpoch') or '0')
  if tonumber(ARGV[3]) <= last then return {'duplicate'} end
  redis.call('HSET', KEYS[1], 'lastEpoch', ARGV[3], 'metrics', ARGV[2])
end
if ARGV[4] == 'progress' then redis.call('HSET', KEYS[1], 'progress', ARGV[2]) end
redis.call('HSET', KEYS[1], 'updatedAt', ARGV[6])
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[5], '*', 'e', ARGV[2])
return {'ok', id}
`);

/** Event types that only JobStore.transition writes, so the record and the stream never disagree. */
const TRANSITION_ONLY = new Set(['status', 'completed', 'failed']);

export type StreamEntries = [id: string, fields: string[]][];

/** Per-job event streams (`unroll:job:{id}:events`): the source of truth for live events. */
export class EventLog {
  constructor(
    readonly redis: Redis,
    readonly options: { eventRetention: number },
  ) {}

  /**
   * Validates and appends an event; returns its stream id, or null when it is an epoch
   * event for an epoch already in the stream (idempotent). Throws StaleFenceError for a
   * zombie attempt, JobNotFoundError when the job is gone.
   * `status`, `completed` and `failed` events go through JobStore.transition instead.
   */
  async append(jobId: string, event: JobEvent, opts: FenceOption = {}): Promise<string | null> {
    const parsed = JobEvent.parse({ ...event, at: event.at ?? new Date().toISOString() });
    if (TRANSITION_ONLY.has(parsed.type)) {
      throw new Error(`'${parsed.type}' events are written by JobStore.transition, not EventLog.append`);
    }
    const reply = (await APPEND.run(
      this.redis,
      [keys.job(jobId), keys.jobEvents(jobId)],
      [fenceArg(opts), JSON.stringify(parsed), parsed.type === 'epoch' ? parsed.epoch : '', parsed.type, this.options.eventRetention, Date.now()],
    )) as [string, string?];
    if (reply[0] === 'missing') throw new JobNotFoundError(jobId);
    if (reply[0] === 'stale') throw new StaleFenceError(jobId, opts.fence ?? -1);
    if (reply[0] === 'duplicate') return null;
    return reply[1] as string;
  }

  /** Events strictly after `after` (stream id; omitted = from the start), oldest first. */
  async read(jobId: string, opts: { after?: string; count: number }): Promise<EventMessage[]> {
    const start = opts.after ? `(${opts.after}` : '-';
    const entries = (await this.redis.xrange(keys.jobEvents(jobId), start, '+', 'COUNT', opts.count)) as StreamEntries;
    return parseEntries(entries);
  }

  /** Id of the newest event, or null for an empty / missing stream. */
  async lastId(jobId: string): Promise<string | null> {
    const entries = (await this.redis.xrevrange(keys.jobEvents(jobId), '+', '-', 'COUNT', 1)) as StreamEntries;
    return entries[0]?.[0] ?? null;
  }
}

/**
 * One blocking read (XREAD BLOCK) for events after `after`. Use a dedicated connection
 * (createRedis(url, 'blocking')): the call holds it for up to `blockMs`. Returns [] on timeout.
 */
export async function tailEvents(blocking: Redis, jobId: string, after: string, opts: { blockMs: number; count: number }): Promise<EventMessage[]> {
  const reply = (await blocking.xread('COUNT', opts.count, 'BLOCK', opts.blockMs, 'STREAMS', keys.jobEvents(jobId), after)) as
    | [string, StreamEntries][]
    | null;
  if (!reply) return [];
  return parseEntries(reply[0][1]);
}

function parseEntries(entries: StreamEntries): EventMessage[] {
  const out: EventMessage[] = [];
  for (const [id, fields] of entries) {
    const index = fields.indexOf('e');
    if (index < 0) continue;
    const event = JSON.parse(fields[index + 1]) as JobEvent;
    // Events stored before every event carried `at`: the time Redis appended it (the id's milliseconds).
    event.at ??= new Date(Number(id.slice(0, id.indexOf('-')))).toISOString();
    out.push({ id, event });
  }
  return out;
}
