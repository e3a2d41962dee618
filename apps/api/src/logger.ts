import type { FastifyServerOptions } from 'fastify';

/** Strips `token=` from a URL before it reaches a log line (WebSocket clients may pass their key there). */
export function redactUrlToken(url: string): string {
  return url.replace(/([?&]token=)[^&]*/gi, '$1[redacted]');
}

/** pino with request ids; secrets (Authorization, WebSocket bearer subprotocol, ?token=) are never logged. */
export function loggerOptions(level: string): FastifyServerOptions['logger'] {
  return {
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers["sec-websocket-protocol"]', 'headers.authorization', '*.apiKey', '*.key'],
      censor: '[redacted]',
    },
    serializers: {
      req(req: { method: string; url: string; id: string; ip?: string }) {
        return { id: req.id, method: req.method, url: redactUrlToken(req.url), ip: req.ip };
      },
    },
  };
}
