import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import { ApiKeyRing, loadApiKeys, type ApiKeyEntry } from '@unroll/store';
import { ApiError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Tenant of the API key that authenticated the request ('' on public routes). */
    tenant: string;
  }
  interface FastifyContextConfig {
    /** Route needs no API key (health, docs). */
    public?: boolean;
  }
}

/** Subprotocol a browser offers next to `bearer.<key>`; the server selects it so the key is not echoed. */
export const WS_PROTOCOL = 'unroll.v1';
const BEARER_PROTOCOL = 'bearer.';

/**
 * The presented key: `Authorization: Bearer <key>`; for upgrades of a WebSocket route also
 * `?token=<key>` or a `Sec-WebSocket-Protocol: bearer.<key>` subprotocol (browsers cannot set
 * headers). Plain HTTP never reads `?token=`: a key in a URL ends up in proxies' logs.
 */
export function presentedKey(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (header) {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return m ? m[1] : null;
  }
  if (!request.ws || !request.routeOptions.config?.acceptsUpgrade) return null;
  const token = (request.query as Record<string, unknown> | undefined)?.token;
  if (typeof token === 'string' && token !== '') return token;
  const protocols = String(request.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim());
  const bearer = protocols.find((p) => p.startsWith(BEARER_PROTOCOL));
  return bearer ? bearer.slice(BEARER_PROTOCOL.length) : null;
}

/** API keys from the configuration (hashed); every non-public route needs one, checked before any upgrade. */
export default fp<{ apiKeys?: ApiKeyEntry[] }>(
  async (app, opts) => {
    const entries = opts.apiKeys ?? (await loadApiKeys(app.config));
    if (entries.length === 0) {
      throw new Error('no API key configured: set UNROLL_API_KEYS or UNROLL_API_KEYS_FILE, or start with `pnpm start`, which creates one');
    }
    const ring = new ApiKeyRing(entries);
    app.decorateRequest('tenant', '');
    // onRequest runs before the WebSocket upgrade, so a bad key never gets a socket.
    app.addHook('onRequest', async (request) => {
      if (request.routeOptions.config?.public || request.routeOptions.url?.startsWith('/docs')) return;
      const key = presentedKey(request);
      const tenant = key === null ? null : ring.verify(key);
      if (tenant === null) throw new ApiError(401, 'unauthorized', key === null ? 'missing API key (Authorization: Bearer <key>)' : 'invalid API key');
      request.tenant = tenant;
    });
  },
  { name: 'auth', dependencies: ['config'] },
);
