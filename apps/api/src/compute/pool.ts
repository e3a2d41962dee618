// A bounded pool of worker threads for the API's CPU-heavy work (inference, dataset parsing), so
// the event loop only routes requests. Threads start on demand (most API processes never compute),
// run one task at a time, and are replaced when they crash or are killed for an aborted task.
import { Worker, type TransferListItem } from 'node:worker_threads';
import { ApiError } from '../errors.ts';
import { ComputeAbortedError, ComputeBusyError, ComputePoolClosedError, ComputeTaskError, ComputeThreadCrashedError } from './errors.ts';
import type { ComputeResults, ComputeTask, ThreadInit, ThreadReply } from './tasks.ts';

const THREAD_ENTRY = new URL('./thread-entry.mjs', import.meta.url);

export interface ComputePoolOptions {
  /** Threads computing at once. */
  threads: number;
  /** Tasks waiting for a thread; one more is refused with 503 compute_busy. */
  maxQueue: number;
  init: ThreadInit;
  log?: { warn(obj: object, msg: string): void };
  /** The thread's entry module (tests give one that crashes or spins on demand). */
  entry?: URL;
}

interface PendingTask {
  id: number;
  task: ComputeTask;
  transfer: TransferListItem[];
  signal?: AbortSignal;
  onAbort?: () => void;
  resolve(value: unknown): void;
  reject(err: Error): void;
}

interface PoolThread {
  worker: Worker;
  current: PendingTask | null;
  /** Set when we terminate it ourselves (abort, close): its exit is expected. */
  retiring: boolean;
}

export class ComputePool {
  private readonly threads = new Set<PoolThread>();
  private readonly queue: PendingTask[] = [];
  private nextId = 1;
  private closing: Promise<void> | null = null;

  constructor(private readonly options: ComputePoolOptions) {}

  /** Tasks waiting and running, for tests and logs. */
  get load(): { queued: number; running: number; threads: number } {
    let running = 0;
    for (const t of this.threads) if (t.current) running++;
    return { queued: this.queue.length, running, threads: this.threads.size };
  }

  /**
   * Runs `task` on a thread. Rejects with ComputeBusyError when every thread is busy and the queue
   * is full, ComputeThreadCrashedError when its thread dies, ComputeAbortedError when `signal`
   * aborts (a queued task leaves the queue; a running one has its thread terminated and replaced).
   */
  run<T extends ComputeTask>(task: T, options: { transfer?: TransferListItem[]; signal?: AbortSignal } = {}): Promise<ComputeResults[T['type']]> {
    if (this.closing) return Promise.reject(new ComputePoolClosedError());
    if (options.signal?.aborted) return Promise.reject(new ComputeAbortedError());
    const idle = this.idleThread();
    if (!idle && this.queue.length >= this.options.maxQueue) return Promise.reject(new ComputeBusyError(this.queue.length));
    return new Promise((resolve, reject) => {
      const pending: PendingTask = { id: this.nextId++, task, transfer: options.transfer ?? [], signal: options.signal, resolve: resolve as (v: unknown) => void, reject };
      if (pending.signal) {
        pending.onAbort = () => this.abort(pending);
        pending.signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      if (idle) this.start(idle, pending);
      else this.queue.push(pending);
    });
  }

  /** Rejects queued tasks and terminates every thread (running tasks fail with 503). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const pending of this.queue.splice(0)) this.settle(pending, new ComputePoolClosedError());
      await Promise.all(
        [...this.threads].map(async (thread) => {
          thread.retiring = true;
          if (thread.current) this.settle(thread.current, new ComputePoolClosedError());
          thread.current = null;
          await thread.worker.terminate();
        }),
      );
      this.threads.clear();
    })();
    return this.closing;
  }

  /** An idle thread, or a new one while under the thread count. */
  private idleThread(): PoolThread | null {
    for (const t of this.threads) if (!t.current && !t.retiring) return t;
    return this.threads.size < this.options.threads ? this.spawn() : null;
  }

  private spawn(): PoolThread {
    const worker = new Worker(this.options.entry ?? THREAD_ENTRY, { workerData: this.options.init, execArgv: [] });
    // An idle thread must not keep the process alive; close() terminates it.
    worker.unref();
    const thread: PoolThread = { worker, current: null, retiring: false };
    this.threads.add(thread);
    worker.on('message', (reply: ThreadReply) => this.onReply(thread, reply));
    let crash: Error | null = null;
    worker.on('error', (err) => (crash = err));
    worker.on('exit', (code) => this.onExit(thread, crash ? crash.message : `thread exited with code ${code}`));
    return thread;
  }

  private start(thread: PoolThread, pending: PendingTask): void {
    thread.current = pending;
    try {
      thread.worker.postMessage({ id: pending.id, task: pending.task }, pending.transfer);
    } catch (err) {
      // Not cloneable: the caller's bug, reported as a failed task; the thread stays usable.
      thread.current = null;
      this.settle(pending, err as Error);
      this.drain();
    }
  }

  private onReply(thread: PoolThread, reply: ThreadReply): void {
    const pending = thread.current;
    if (!pending || pending.id !== reply.id) return; // an aborted task's late answer
    thread.current = null;
    if (reply.ok) this.settle(pending, null, reply.value);
    else if (reply.error.statusCode < 500) this.settle(pending, new ApiError(reply.error.statusCode, reply.error.code, reply.error.message, reply.error.details));
    else this.settle(pending, new ComputeTaskError(reply.error.message, reply.error.stack));
    this.drain();
  }

  private onExit(thread: PoolThread, reason: string): void {
    this.threads.delete(thread);
    if (thread.current) {
      this.options.log?.warn({ reason, task: thread.current.task.type }, 'compute thread died; starting a replacement');
      this.settle(thread.current, new ComputeThreadCrashedError(reason));
      thread.current = null;
    }
    if (!this.closing) this.drain();
  }

  private abort(pending: PendingTask): void {
    const queued = this.queue.indexOf(pending);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(pending, new ComputeAbortedError());
      return;
    }
    for (const thread of this.threads) {
      if (thread.current !== pending) continue;
      // A synchronous computation cannot be interrupted: the thread goes, a new one takes its slot.
      thread.current = null;
      thread.retiring = true;
      this.settle(pending, new ComputeAbortedError());
      this.threads.delete(thread);
      void thread.worker.terminate();
      this.drain();
      return;
    }
  }

  /** Hands queued tasks to idle (or new) threads. */
  private drain(): void {
    while (this.queue.length > 0 && !this.closing) {
      const thread = this.idleThread();
      if (!thread) return;
      this.start(thread, this.queue.shift()!);
    }
  }

  private settle(pending: PendingTask, err: Error | null, value?: unknown): void {
    if (pending.onAbort) pending.signal?.removeEventListener('abort', pending.onAbort);
    if (err) pending.reject(err);
    else pending.resolve(value);
  }
}
