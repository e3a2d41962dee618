import { EventMessage, isTerminalStatusEvent, type JobEvent } from '@unroll/protocol';
import { EventQueue } from './event-queue.ts';
import { UnrollApiError } from './errors.ts';
import { messageText, type WebSocketLike } from './websocket.ts';

export interface WatchOptions {
  /** Start strictly after this stream id (default: the whole history). */
  after?: string;
  /** Stops the watch: the iterator then ends without an error. */
  signal?: AbortSignal;
  /** Consecutive failed connection attempts before giving up (default 8); reset by every message. */
  maxRetries?: number;
  /** First reconnect delay, doubled per failed attempt up to 5 s (default 200 ms). */
  retryDelayMs?: number;
  /** Called before each reconnect, e.g. to show "reconnecting…". */
  onReconnect?: (info: { attempt: number; after: string | undefined; reason: string }) => void;
}

/** What `watch` needs from the client: a socket opener and two HTTP probes. */
export interface WatchTransport {
  openSocket(jobId: string, after: string | undefined): Promise<WebSocketLike>;
  /** Throws the API's error (401, 404…) when the events route refuses us. */
  probeEvents(jobId: string, after: string | undefined): Promise<void>;
  jobIsFinished(jobId: string): Promise<boolean>;
}

type SocketItem =
  | { kind: 'message'; message: EventMessage }
  | { kind: 'close'; code: number; reason: string; opened: boolean }
  | { kind: 'bad_message'; error: Error }
  | { kind: 'aborted' };

const MAX_DELAY_MS = 5000;

function parseMessage(text: string): EventMessage {
  const raw = JSON.parse(text) as unknown;
  const parsed = EventMessage.safeParse(raw);
  if (parsed.success) return parsed.data;
  // A newer server may send an event type this client does not know yet: pass it through rather
  // than dropping it, as long as it has the envelope every message has.
  const envelope = raw as { id?: unknown; event?: { type?: unknown } };
  if (typeof envelope?.id === 'string' && typeof envelope.event?.type === 'string') {
    return { id: envelope.id, event: envelope.event as JobEvent };
  }
  throw new Error(`malformed event message: ${text.slice(0, 200)}`);
}

/**
 * Every event of a job, history first, then live, until the job's terminal status event.
 * Reconnects by itself after a dropped connection, resuming after the last id it yielded, so the
 * consumer sees each event exactly once and in order.
 */
export async function* watchJob(transport: WatchTransport, jobId: string, options: WatchOptions = {}): AsyncGenerator<EventMessage, void, undefined> {
  const { signal, maxRetries = 8, retryDelayMs = 200 } = options;
  let after = options.after;
  let failures = 0;
  while (!signal?.aborted) {
    const queue = new EventQueue<SocketItem>();
    const onAbort = () => queue.push({ kind: 'aborted' });
    signal?.addEventListener('abort', onAbort, { once: true });
    let socket: WebSocketLike | null = null;
    let closeReason = '';
    try {
      let opened = false;
      try {
        socket = await transport.openSocket(jobId, after);
      } catch (err) {
        queue.push({ kind: 'close', code: 1006, reason: (err as Error).message, opened: false });
      }
      if (socket) {
        socket.onopen = () => (opened = true);
        socket.onmessage = (ev) => {
          try {
            queue.push({ kind: 'message', message: parseMessage(messageText(ev.data)) });
          } catch (err) {
            queue.push({ kind: 'bad_message', error: err as Error });
          }
        };
        socket.onerror = () => {}; // the close event that follows carries what we act on
        socket.onclose = (ev) => queue.push({ kind: 'close', code: ev.code, reason: ev.reason, opened });
      }
      for (;;) {
        const item = (await queue.next())!;
        if (item.kind === 'aborted') return;
        if (item.kind === 'bad_message') throw item.error;
        if (item.kind === 'message') {
          failures = 0;
          after = item.message.id;
          yield item.message;
          // Aborted while the consumer held this message: stop before the buffered ones.
          if (signal?.aborted || isTerminalStatusEvent(item.message.event)) return;
          continue;
        }
        // Closed. A normal close without the terminal event: the job ended earlier and its
        // terminal event is behind `after` or trimmed — or the server restarts; ask.
        if (item.code === 1000 && (await retryable(() => transport.jobIsFinished(jobId))) === true) return;
        // Refused before opening: the HTTP twin of the route tells why (401 / 404 / 400 are final).
        if (!item.opened) await retryable(() => transport.probeEvents(jobId, after));
        closeReason = `closed with ${item.code}${item.reason ? ` (${item.reason})` : ''}`;
        break;
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (socket && socket.readyState <= 1) socket.close(1000, 'client done');
    }
    failures += 1;
    if (failures > maxRetries) {
      throw new UnrollApiError(0, { code: 'connection_failed', message: `event stream for ${jobId} lost after ${maxRetries} reconnect attempts: ${closeReason}` });
    }
    options.onReconnect?.({ attempt: failures, after, reason: closeReason });
    await sleep(Math.min(retryDelayMs * 2 ** (failures - 1), MAX_DELAY_MS), signal);
  }
}

/** Runs `probe`; a lost connection or a 5xx is worth another try (undefined), other API errors are final. */
async function retryable<T>(probe: () => Promise<T>): Promise<T | undefined> {
  try {
    return await probe();
  } catch (err) {
    if (err instanceof UnrollApiError && err.status !== 0 && err.status < 500) throw err;
    return undefined;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
