// dashboardPlugin on a bare Fastify app with an auth hook like the API's: the page and its
// assets are public, `/` is content-negotiated when the API already answers it with JSON.
import Fastify, { type FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { dashboardPlugin } from '../src/fastify-plugin.ts';

let app: FastifyInstance | null = null;
afterEach(async () => {
  await app?.close();
  app = null;
});

/** A stand-in for the API's auth plugin: everything not marked public needs the key. */
function withAuth(instance: FastifyInstance): FastifyInstance {
  instance.addHook('onRequest', async (request, reply) => {
    if ((request.routeOptions.config as { public?: boolean } | undefined)?.public) return;
    if (request.headers.authorization !== 'Bearer k') return reply.code(401).send({ error: { code: 'unauthorized', message: 'no' } });
  });
  return instance;
}

describe('dashboardPlugin', () => {
  it('serves the page at / and the bundle under /dashboard/ without a key', async () => {
    app = withAuth(Fastify());
    app.get('/v1/jobs', async () => ({ items: [] }));
    await app.register(dashboardPlugin);
    const page = await app.inject({ url: '/', headers: { accept: 'text/html' } });
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('<script type="module" src="/dashboard/app.js">');
    const js = await app.inject({ url: '/dashboard/app.js' });
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toMatch(/javascript/);
    expect(js.body.length).toBeGreaterThan(10_000);
    expect((await app.inject({ url: '/dashboard/app.css' })).statusCode).toBe(200);
    expect((await app.inject({ url: '/dashboard/nope.js' })).statusCode).toBe(404);
    // The API itself still wants the key.
    expect((await app.inject({ url: '/v1/jobs' })).statusCode).toBe(401);
  });

  it('keeps an existing JSON / for API clients and gives browsers the page', async () => {
    app = withAuth(Fastify());
    app.get('/', { config: { public: true } as object }, async () => ({ name: 'Unroll API' }));
    await app.register(dashboardPlugin);
    const json = await app.inject({ url: '/', headers: { accept: 'application/json' } });
    expect(json.json()).toEqual({ name: 'Unroll API' });
    const html = await app.inject({ url: '/', headers: { accept: 'text/html,application/xhtml+xml' } });
    expect(html.body).toContain('<title>Unroll dashboard</title>');
  });
});
