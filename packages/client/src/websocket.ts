// The subset of the WebSocket interface the client uses: browsers' WebSocket and Node's `ws`
// both provide it. On Node 20 (no global WebSocket) `ws` is loaded lazily, so browser bundles
// never pull it in.

export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(code?: number, reason?: string): void;
}

/** How the client opens a socket: URL, subprotocols, and headers (ignored by browsers). */
export type WebSocketFactory = (url: string, protocols: string[], headers: Record<string, string>) => WebSocketLike;

/** Subprotocol the API selects; `bearer.<key>` next to it carries the key without a header. */
export const WS_PROTOCOL = 'unroll.v1';
/** Characters allowed in a subprotocol name (RFC 7230 tchar). */
const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;

export function canSendKeyAsSubprotocol(apiKey: string): boolean {
  return TOKEN.test(apiKey);
}

/** The browser's WebSocket where there is one, else the `ws` package (Node), which can send headers. */
export async function defaultWebSocketFactory(): Promise<{ factory: WebSocketFactory; sendsHeaders: boolean }> {
  const specifier = 'ws';
  // A variable specifier keeps bundlers from inlining `ws` into the browser build.
  const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
  if (isNode) {
    const mod = (await import(specifier)) as { WebSocket: new (url: string, protocols: string[], options: { headers: Record<string, string> }) => WebSocketLike };
    return { factory: (url, protocols, headers) => new mod.WebSocket(url, protocols, { headers }), sendsHeaders: true };
  }
  const Native = (globalThis as unknown as { WebSocket?: new (url: string, protocols: string[]) => WebSocketLike }).WebSocket;
  if (!Native) throw new Error('no WebSocket implementation available');
  return { factory: (url, protocols) => new Native(url, protocols), sendsHeaders: false };
}

/** Text of a message event's data (string, Buffer, ArrayBuffer or a view). */
export function messageText(data: unknown): string {
  if (typeof data === 'string') return data;
  if (data instanceof ArrayBuffer) return new TextDecoder().decode(data);
  if (ArrayBuffer.isView(data)) return new TextDecoder().decode(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  if (Array.isArray(data)) return data.map(messageText).join('');
  return String(data);
}
