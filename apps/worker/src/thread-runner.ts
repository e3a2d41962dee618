// Starts a training thread and hands its messages to the job attempt in order, one at a time,
// so a checkpoint is on disk before its epoch event is published.
import { Worker } from 'node:worker_threads';
import { DEFAULT_WORKER_MEMORY_BUDGET_BYTES } from '@unroll/store';
import { StopReason, type StopReasonName, type ThreadMessage, type TrainingThreadInput } from './thread-protocol.ts';

export interface TrainingThread {
  /** Every message of the thread, then (if it died without saying why) a synthetic error; ends when it exits. */
  readonly messages: AsyncIterable<ThreadMessage>;
  /** Asks the thread to stop at the next batch boundary. The first reason wins. */
  requestStop(reason: StopReasonName): void;
  /** Kills the thread now (a zombie attempt, or a thread that ignores the stop flag). */
  terminate(): Promise<void>;
}

const THREAD_ENTRY = new URL('./training-thread-entry.mjs', import.meta.url);

export type TrainingThreadStart = Omit<TrainingThreadInput, 'stopFlag' | 'memoryBudgetBytes'> & { memoryBudgetBytes?: number };

export function startTrainingThread(input: TrainingThreadStart): TrainingThread {
  const stopFlag = new SharedArrayBuffer(4);
  const flag = new Int32Array(stopFlag);
  const workerData: TrainingThreadInput = { ...input, memoryBudgetBytes: input.memoryBudgetBytes ?? DEFAULT_WORKER_MEMORY_BUDGET_BYTES, stopFlag };
  const transferList = [input.dataset.bytes, ...input.checkpoints.map((c) => c.bytes)]
    .map((b) => b.buffer)
    .filter((b, i, all): b is ArrayBuffer => b instanceof ArrayBuffer && all.indexOf(b) === i);
  // The thread runs TypeScript from source like the rest of the service (the entry registers tsx).
  const thread = new Worker(THREAD_ENTRY, { workerData, transferList, execArgv: [] });

  const queue: ThreadMessage[] = [];
  let wake: (() => void) | null = null;
  let ended = false;
  let sawFinalMessage = false;
  const push = (m: ThreadMessage) => {
    if (m.type === 'done' || m.type === 'stopped' || m.type === 'error') sawFinalMessage = true;
    queue.push(m);
    wake?.();
  };
  thread.on('message', (m: ThreadMessage) => push(m));
  thread.on('error', (err) => {
    push({ type: 'error', error: { code: 'training_failed', message: `training thread crashed: ${err.message}`, retryable: true, stack: err.stack } });
  });
  thread.on('exit', (code) => {
    if (!sawFinalMessage) {
      push({ type: 'error', error: { code: 'training_failed', message: `training thread exited with code ${code} without a result`, retryable: true } });
    }
    ended = true;
    wake?.();
  });

  async function* messages(): AsyncGenerator<ThreadMessage> {
    for (;;) {
      const next = queue.shift();
      if (next) {
        yield next;
        continue;
      }
      if (ended) return;
      await new Promise<void>((r) => (wake = r));
      wake = null;
    }
  }

  return {
    messages: messages(),
    requestStop(reason) {
      Atomics.compareExchange(flag, 0, StopReason.none, StopReason[reason]);
    },
    async terminate() {
      await thread.terminate();
    },
  };
}
