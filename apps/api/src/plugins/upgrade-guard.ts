import fp from 'fastify-plugin';
import { ApiError } from '../errors.ts';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set for routes with a WebSocket handler (derived, never declared by hand). */
    acceptsUpgrade?: boolean;
  }
}

/**
 * Only WebSocket routes upgrade. @fastify/websocket otherwise completes the handshake on any
 * route and closes the socket at once (a 101 from a dataset route); here an upgrade request to
 * any other route is refused with our envelope before authentication looks at `?token=`.
 */
export default fp(
  async (app) => {
    app.addHook('onRoute', (route) => {
      if (route.wsHandler || (route as { websocket?: boolean }).websocket) route.config = { ...route.config, acceptsUpgrade: true };
    });
    app.addHook('onRequest', async (request) => {
      if (request.ws && !request.routeOptions.config?.acceptsUpgrade) {
        throw new ApiError(400, 'invalid_request', `${request.method} ${request.routeOptions.url ?? 'this route'} does not accept WebSocket upgrades`, {
          param: 'upgrade',
        });
      }
    });
  },
  { name: 'upgrade-guard', dependencies: ['@fastify/websocket'] },
);
