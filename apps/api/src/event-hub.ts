import type { Redis } from 'ioredis';
import type { FastifyBaseLogger } from 'fastify';
import { isTerminalStatusEvent, type EventMessage } from '@unroll/protocol';
import { tailEvents, type EventLog } from '@unroll/store';

export interface EventSubscriber {
  /** Called with each batch of new events, oldest first. Must not throw. */
  deliver(messages: EventMessage[]): void;
}

export interface EventHubOptions {
  events: EventLog;
  /** A dedicated connection per reader: XREAD BLOCK holds it. */
  createConnection: () => Redis;
  log: FastifyBaseLogger;
  blockMs?: number;
}

/**
 * One Redis reader per job per process, shared by every client watching that job.
 * The reader starts with the first subscriber at the stream's current end, and stops when the
 * last subscriber leaves or after it delivered the job's terminal status event.
 */
export class EventHub {
  private readonly readers = new Map<string, JobReader>();
  /** Readers started since the process began (tests check fan-out sharing with it). */
  readersStarted = 0;

  constructor(private readonly options: EventHubOptions) {}

  get activeReaders(): number {
    return this.readers.size;
  }

  /**
   * Registers `subscriber` for events appended after the moment this resolves; returns the
   * unsubscribe function. Read the history AFTER this resolves, then drop duplicates by id.
   */
  async subscribe(jobId: string, subscriber: EventSubscriber): Promise<() => void> {
    let reader = this.readers.get(jobId);
    if (!reader) {
      reader = new JobReader(jobId, this.options, () => {
        if (this.readers.get(jobId) === reader) this.readers.delete(jobId);
      });
      this.readers.set(jobId, reader);
      this.readersStarted++;
      reader.start();
    }
    reader.subscribers.add(subscriber);
    const owner = reader;
    const unsubscribe = () => {
      owner.subscribers.delete(subscriber);
      if (owner.subscribers.size === 0) owner.stop();
    };
    try {
      await owner.ready;
    } catch (err) {
      unsubscribe();
      throw err;
    }
    return unsubscribe;
  }

  async close(): Promise<void> {
    await Promise.all([...this.readers.values()].map((r) => r.stop()));
  }
}

class JobReader {
  readonly subscribers = new Set<EventSubscriber>();
  ready!: Promise<void>;
  private cursor = '0-0';
  private stopped = false;
  private connection: Redis | null = null;
  private loop: Promise<void> = Promise.resolve();

  constructor(
    private readonly jobId: string,
    private readonly options: EventHubOptions,
    private readonly onStopped: () => void,
  ) {}

  start(): void {
    this.ready = this.options.events.lastId(this.jobId).then((last) => {
      this.cursor = last ?? '0-0';
    });
    this.ready.catch(() => this.stop());
    this.loop = this.ready.then(
      () => this.run(),
      () => {},
    );
  }

  private async run(): Promise<void> {
    if (this.stopped) return;
    this.connection = this.options.createConnection();
    while (!this.stopped) {
      let messages: EventMessage[];
      try {
        messages = await tailEvents(this.connection, this.jobId, this.cursor, { blockMs: this.options.blockMs ?? 5000, count: 200 });
      } catch (err) {
        if (this.stopped) break;
        this.options.log.warn({ jobId: this.jobId, err: (err as Error).message }, 'event reader: read failed, retrying');
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      if (this.stopped || messages.length === 0) continue;
      this.cursor = messages[messages.length - 1].id;
      for (const subscriber of [...this.subscribers]) subscriber.deliver(messages);
      if (messages.some((m) => isTerminalStatusEvent(m.event))) void this.stop();
    }
    this.connection.disconnect();
  }

  async stop(): Promise<void> {
    if (!this.stopped) {
      this.stopped = true;
      this.onStopped();
      // Disconnecting aborts a pending XREAD BLOCK at once.
      this.connection?.disconnect();
    }
    await this.loop;
  }
}
