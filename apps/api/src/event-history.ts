import type { EventMessage } from '@unroll/protocol';
import type { EventLog } from '@unroll/store';

/** One XRANGE page of a job's stream, with each message serialized once for every socket. */
export interface HistoryPage {
  messages: EventMessage[];
  /** UTF-8 JSON of each message, sent as is as a text frame. */
  frames: Buffer[];
  /** Fewer messages than asked: the end of the stream when the read ran. */
  last: boolean;
}

interface CachedPage {
  /** Read sequence number when the read started: a partial page is valid only after it. */
  seq: number;
  /** Started by a catch-up on a finished job: its partial page is the stream's true end. */
  final: boolean;
  page: Promise<HistoryPage>;
}

interface JobPages {
  readers: number;
  /** `after` id → page; insertion order is the eviction order. */
  pages: Map<string, CachedPage>;
}

export interface EventHistoryOptions {
  events: EventLog;
  /** XRANGE COUNT: events per history page. */
  pageSize?: number;
  /** Pages kept per job while clients catch up; the oldest is evicted past it (re-read if needed). */
  maxPagesPerJob?: number;
}

/**
 * Paged, shared history reads. Every client catching up on a job reads the same pages (keyed by
 * the id they follow), so a thousand late joiners cost one XRANGE per page instead of a thousand.
 * A full page is immutable (streams only grow at the end; trimming only drops old entries) and is
 * shared as is. A partial page (the stream's end when it was read) is shared only with catch-ups
 * that began before that read started — a later one may have subscribed to the live tail after
 * it, and would miss what was appended in between — or, between catch-ups of a job that had
 * finished before they began (`final`), whatever their order.
 * A job's pages are dropped when its last catch-up ends.
 */
export class EventHistory {
  private readonly jobs = new Map<string, JobPages>();
  private readonly pageSize: number;
  private readonly maxPagesPerJob: number;
  private seq = 0;
  /** XRANGE calls since the process began (tests check the sharing with it). */
  readsIssued = 0;

  constructor(private readonly options: EventHistoryOptions) {
    this.pageSize = options.pageSize ?? 500;
    this.maxPagesPerJob = options.maxPagesPerJob ?? 64;
  }

  /**
   * Starts catching up on `jobId`: call this AFTER subscribing to the live tail. `final`: the
   * job had finished before the catch-up began (nothing more will be appended).
   */
  open(jobId: string, final: boolean): HistoryCatchUp {
    let job = this.jobs.get(jobId);
    if (!job) {
      job = { readers: 0, pages: new Map() };
      this.jobs.set(jobId, job);
    }
    job.readers++;
    const since = this.seq;
    let closed = false;
    return {
      page: (after) => this.page(jobId, job, after, since, final),
      reset: () => {
        // Partial pages read before now are no longer enough (the caller re-subscribed).
        const fresh = this.seq;
        return { page: (after: string) => this.page(jobId, job, after, fresh, final) };
      },
      close: () => {
        if (closed) return;
        closed = true;
        if (--job.readers === 0 && this.jobs.get(jobId) === job) this.jobs.delete(jobId);
      },
    };
  }

  private async page(jobId: string, job: JobPages, after: string, since: number, final: boolean): Promise<HistoryPage> {
    const cached = job.pages.get(after);
    if (cached) {
      const page = await cached.page.catch(() => null);
      if (page && (!page.last || cached.seq > since || (final && cached.final))) return page;
    }
    const entry: CachedPage = { seq: ++this.seq, final, page: this.read(jobId, after) };
    job.pages.set(after, entry);
    if (job.pages.size > this.maxPagesPerJob) job.pages.delete(job.pages.keys().next().value!);
    // A failed read is not cached: the next caller tries again.
    entry.page.catch(() => {
      if (job.pages.get(after) === entry) job.pages.delete(after);
    });
    return entry.page;
  }

  private async read(jobId: string, after: string): Promise<HistoryPage> {
    this.readsIssued++;
    const messages = await this.options.events.read(jobId, { after: after === '0-0' ? undefined : after, count: this.pageSize });
    return { messages, frames: messages.map((m) => Buffer.from(JSON.stringify(m))), last: messages.length < this.pageSize };
  }
}

export interface HistoryReader {
  /** The page of events strictly after `after` ('0-0' = from the start). */
  page(after: string): Promise<HistoryPage>;
}

export interface HistoryCatchUp extends HistoryReader {
  /** A reader that takes no partial page read before this call. */
  reset(): HistoryReader;
  /** Idempotent. */
  close(): void;
}
