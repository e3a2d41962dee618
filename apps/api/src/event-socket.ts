import type { WebSocket } from '@fastify/websocket';
import { isTerminal, isTerminalStatusEvent, type EventMessage } from '@unroll/protocol';
import type { JobRecord, JobStore } from '@unroll/store';
import type { EventHistory, HistoryReader } from './event-history.ts';
import type { EventHub } from './event-hub.ts';
import { compareStreamIds } from './stream-ids.ts';

const FRAMES_PER_TURN = 32;

export interface EventSocketOptions {
  jobs: JobStore;
  hub: EventHub;
  history: EventHistory;
  /** Past this many bytes queued on the socket the client is too slow: closed with 1013. */
  maxBufferedBytes: number;
  /** History: above this many queued bytes, wait until the socket has written out before sending more. */
  historyLowWaterBytes?: number;
  /** History: how long a client may take to read what is queued before it is closed with 1013. */
  drainTimeoutMs?: number;
  /** Live events held while the history is sent; past it they are dropped and read from history again. */
  maxPendingEvents?: number;
}

/**
 * One WebSocket client of a job's events: the history after `after` (shared, paged reads), then
 * the live tail (the EventHub's shared reader), without gap or duplicate, closed 1000 after the
 * terminal status event. History frames are sent only as fast as the client reads them, so what
 * one socket buffers stays bounded (~historyLowWaterBytes + one frame) whatever the history's size.
 */
export async function streamEventsToSocket(
  options: EventSocketOptions,
  socket: WebSocket,
  jobId: string,
  after: string | undefined,
  /** The record if the caller just read it (saves a read per client); its status must predate this call. */
  known?: JobRecord,
): Promise<void> {
  const lowWater = options.historyLowWaterBytes ?? Math.min(1024 * 1024, Math.floor(options.maxBufferedBytes / 4));
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  const maxPending = options.maxPendingEvents ?? 10_000;
  let lastSent = after ?? '0-0';
  let historyDone = false;
  let finished = false;
  let pending: EventMessage[] = [];
  let overflowed = false;
  let unsubscribe: (() => void) | null = null;
  let closeCatchUp: (() => void) | null = null;
  const finish = () => {
    finished = true;
    unsubscribe?.();
    unsubscribe = null;
    closeCatchUp?.();
  };
  socket.on('close', finish);

  const tooSlow = () => {
    finish();
    socket.close(1013, 'client too slow');
    // A client that does not read will not answer the close handshake either.
    setTimeout(() => socket.terminate(), 1000).unref();
  };

  /** Sends one message unless it is at or before what was sent; `written` fires once it left for the kernel. */
  const send = (message: EventMessage, frame: Buffer | string, written?: (err?: Error) => void): boolean => {
    if (finished || compareStreamIds(message.id, lastSent) <= 0) return false; // duplicate of history / resume point
    if (socket.bufferedAmount > options.maxBufferedBytes) {
      tooSlow();
      return false;
    }
    socket.send(frame, { binary: false }, written);
    lastSent = message.id;
    if (isTerminalStatusEvent(message.event)) {
      finish();
      socket.close(1000, 'job finished');
    }
    return true;
  };
  const sendLive = (message: EventMessage) => send(message, JSON.stringify(message));

  /** Resolves true once what is queued on the socket was written out; false (and closed 1013) past the timeout. */
  const drained = (message: EventMessage, frame: Buffer): Promise<boolean> =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        tooSlow();
        resolve(false);
      }, drainTimeoutMs);
      timer.unref();
      const sent = send(message, frame, () => {
        clearTimeout(timer);
        resolve(!finished);
      });
      if (!sent) {
        clearTimeout(timer);
        resolve(!finished);
      }
    });

  const job = known ?? (await options.jobs.get(jobId));
  if (!job) return socket.close(1000, 'job gone');
  const final = isTerminal(job.status);
  // Live first (held while the history is sent), so nothing appended meanwhile is missed.
  if (!final) {
    const off = await options.hub.subscribe(jobId, {
      deliver: (messages) => {
        if (historyDone) messages.forEach(sendLive);
        else if (pending.length + messages.length > maxPending) {
          // A client catching up slowly must not make us hold the job's whole live stream: drop
          // what is held and read it from the history once the current pages are sent.
          pending = [];
          overflowed = true;
        } else pending.push(...messages);
      },
    });
    if (finished) off();
    else unsubscribe = off;
  }
  if (finished) return;

  const catchUp = options.history.open(jobId, final);
  closeCatchUp = catchUp.close;
  try {
    let reader: HistoryReader = catchUp;
    for (;;) {
      if (finished) return;
      const page = await reader.page(lastSent);
      for (let i = 0; i < page.messages.length && !finished; i++) {
        // One shared page wakes every client catching up at once: sending it all in that one turn
        // would hold the event loop for seconds (Redis replies time out, other requests wait).
        // A few frames per turn, then the loop runs I/O and the other clients get theirs.
        if (i % FRAMES_PER_TURN === 0) await new Promise<void>((resolve) => setImmediate(resolve));
        if (finished) return;
        // Backpressure: past the low-water mark, wait until this frame was written out.
        if (socket.bufferedAmount > lowWater) {
          if (!(await drained(page.messages[i], page.frames[i]))) return;
        } else send(page.messages[i], page.frames[i]);
      }
      if (finished) return;
      if (!page.last) continue;
      if (!overflowed) break;
      overflowed = false;
      reader = catchUp.reset();
    }
  } finally {
    catchUp.close();
  }
  historyDone = true;
  pending.splice(0).forEach(sendLive);
  // Finished before we looked, and the terminal event was trimmed or already behind `after`.
  if (!finished && final) {
    finish();
    socket.close(1000, 'job finished');
  }
}
