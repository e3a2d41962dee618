import type { FastifyServerOptions } from 'fastify';

/**
 * Query parameters of our routes whose values are not secret and are worth logging. Every other
 * parameter's value is redacted, whatever its name (`?api_key=`, `?access_token=`, `?x=`): a
 * client that puts its key in the URL must not put it in our logs.
 */
const LOGGED_QUERY_PARAMS = new Set(['cursor', 'limit', 'status', 'after', 'format', 'checkpoint', 'name', 'targetColumns', 'horizon', 'normalize']);
const REDACTED = '[redacted]';

/** Says whether a URL component is a live API key (the key ring), so it is redacted wherever it appears. */
export type SecretTest = (value: string) => boolean;

/** The URL as it may appear in a log line: unknown query values and anything that is a key, redacted. */
export function redactUrl(url: string, isSecret: SecretTest = () => false): string {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const redactedPath = path
    .split('/')
    .map((segment) => (segment.length >= 8 && isSecret(safeDecode(segment)) ? REDACTED : segment))
    .join('/');
  if (q < 0) return redactedPath;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq < 0) return pair;
      const name = safeDecode(pair.slice(0, eq));
      const value = pair.slice(eq + 1);
      return LOGGED_QUERY_PARAMS.has(name) && !isSecret(safeDecode(value)) ? pair : `${pair.slice(0, eq)}=${REDACTED}`;
    })
    .join('&');
  return `${redactedPath}?${query}`;
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** pino with request ids; secrets (Authorization, WebSocket bearer subprotocol, keys in the URL) are never logged. */
export function loggerOptions(level: string, isSecret?: SecretTest): FastifyServerOptions['logger'] {
  return {
    level,
    redact: {
      paths: ['req.headers.authorization', 'req.headers["sec-websocket-protocol"]', 'headers.authorization', '*.apiKey', '*.key'],
      censor: REDACTED,
    },
    serializers: {
      req(req: { method: string; url: string; id: string; ip?: string }) {
        return { id: req.id, method: req.method, url: redactUrl(req.url, isSecret), ip: req.ip };
      },
    },
  };
}
