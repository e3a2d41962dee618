// A TCP relay between one worker process and redis-server that a test can take down for a few
// seconds, starting exactly at a chosen write: the outage is armed with a needle (bytes of a RESP
// command, e.g. the JSON of a status event) and begins when the worker sends a command carrying it.
// Only the worker behind the relay loses Redis; the API and the test keep their direct connections.
import { connect, createServer, type Server, type Socket } from 'node:net';

/** Long enough for the rest of a command split across TCP chunks to reach Redis. */
const REPLY_LOST_DELAY_MS = 100;

export interface OutageAt {
  /** Bytes a worker command must carry to start the outage (RESP bulk strings are raw bytes). */
  needle: string;
  ms: number;
  /** The command reaches Redis (and is applied) but its reply is lost; otherwise it is dropped unsent. */
  replyLost: boolean;
}

export interface RedisOutageProxy {
  url: string;
  /** Starts an outage now: open connections are reset, and new ones until it ends. Resolves at its end. */
  outage(ms: number): Promise<void>;
  /** Arms one outage; `started` resolves when a command carrying the needle arrives, `ended` when Redis is back. */
  outageAt(at: OutageAt): { started: Promise<void>; ended: Promise<void> };
  close(): Promise<void>;
}

export async function startRedisOutageProxy(redisPort: number): Promise<RedisOutageProxy> {
  const open = new Set<Socket>();
  let downUntil = 0;
  let armed: (OutageAt & { start(): void }) | null = null;

  const resetAll = () => {
    for (const s of open) s.destroy();
  };
  const outage = (ms: number) => {
    downUntil = Date.now() + ms;
    resetAll();
    return new Promise<void>((resolve) => setTimeout(resolve, ms));
  };

  const server: Server = createServer((client) => {
    if (Date.now() < downUntil) return void client.destroy();
    const upstream = connect(redisPort, '127.0.0.1');
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {});
    }
    let tail = ''; // a needle split across two chunks is still seen
    client.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString('latin1');
      tail = text.slice(-200);
      const trigger = armed;
      if (trigger && text.includes(trigger.needle)) {
        armed = null;
        if (!trigger.replyLost) return void trigger.start();
        // Redis gets the whole command (its tail may still be in the next chunks) but no reply
        // reaches the worker; the outage starts once Redis has had time to apply it.
        replyMuted = true;
        upstream.write(chunk);
        setTimeout(() => trigger.start(), REPLY_LOST_DELAY_MS);
        return;
      }
      upstream.write(chunk);
    });
    let replyMuted = false;
    upstream.on('data', (chunk: Buffer) => (replyMuted ? undefined : client.write(chunk)));
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  return {
    url: `redis://127.0.0.1:${port}`,
    outage,
    outageAt(at) {
      let onStart!: () => void;
      const started = new Promise<void>((resolve) => (onStart = resolve));
      let ended!: Promise<void>;
      const endedReady = new Promise<void>((resolve) => {
        armed = { ...at, start: () => {
          ended = outage(at.ms);
          onStart();
          void ended.then(resolve);
        } };
      });
      return { started, ended: endedReady };
    },
    close: () =>
      new Promise<void>((resolve) => {
        armed = null;
        resetAll();
        server.close(() => resolve());
      }),
  };
}
