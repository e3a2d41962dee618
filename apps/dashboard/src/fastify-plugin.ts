import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import fastifyStatic from '@fastify/static';
import { ensureDashboardBuilt } from './build.ts';

export interface DashboardPluginOptions {
  /** Folder of the built bundle (default apps/dashboard/dist, built on registration when stale). */
  distDir?: string;
}

/** URL prefix of the bundle's files; the page itself is served at `/`. */
export const DASHBOARD_ASSETS_PREFIX = '/dashboard/';

/** index.html of the build; retried briefly, as another process may be swapping a new build in. */
async function readPage(path: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

function wantsHtml(request: FastifyRequest): boolean {
  return String(request.headers.accept ?? '').includes('text/html');
}

/**
 * Serves the dashboard: the page at `/` (and /dashboard/), its assets under /dashboard/. All public:
 * the page asks for the API key and sends it with each API call. Builds the bundle first when
 * dist/ is missing or older than the sources.
 *
 * Register it after the API routes. When `/` is already taken (the API's JSON index), browsers
 * asking for text/html get the page and every other client keeps the JSON.
 */
async function dashboard(app: FastifyInstance, options: DashboardPluginOptions): Promise<void> {
  const { outDir, built, warning } = await ensureDashboardBuilt(options.distDir);
  if (built) app.log.info({ outDir }, 'dashboard bundle built');
  if (warning) app.log.warn({ outDir }, warning);
  const pageHtml = await readPage(join(outDir, 'index.html'));
  const sendPage = (reply: FastifyReply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(pageHtml);

  // Static files in their own scope, where every route is marked public for the API's auth hook.
  await app.register(async (scope) => {
    scope.addHook('onRoute', (route) => {
      route.config = { ...(route.config as object), public: true } as typeof route.config;
    });
    await scope.register(fastifyStatic, { root: outDir, prefix: DASHBOARD_ASSETS_PREFIX, index: 'index.html', wildcard: true, decorateReply: false });
  });

  if (app.hasRoute({ method: 'GET', url: '/' })) {
    app.addHook('onRequest', async (request, reply) => {
      if (request.method === 'GET' && request.url.split('?')[0] === '/' && wantsHtml(request)) return sendPage(reply);
    });
  } else {
    app.route({
      method: 'GET',
      url: '/',
      // `public` is read by the API's auth hook; `hide` keeps the page out of the OpenAPI document.
      config: { public: true } as object,
      schema: { hide: true } as object,
      handler: async (_request, reply) => sendPage(reply),
    });
  }
}

export const dashboardPlugin = fp(dashboard, { name: 'unroll-dashboard', fastify: '5.x' });
export default dashboardPlugin;
