import type { FastifyPluginAsync } from 'fastify';

/** The OpenAPI document generated from the zod schemas (the UI lives at /docs). */
const routes: FastifyPluginAsync = async (app) => {
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());
};
export default routes;
