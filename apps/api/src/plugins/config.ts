import fp from 'fastify-plugin';
import type { Config } from '@unroll/store';

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
  }
}

/** Exposes the configuration parsed once by loadConfig() at startup. */
export default fp<{ config: Config }>(
  async (app, opts) => {
    app.decorate('config', opts.config);
  },
  { name: 'config' },
);
