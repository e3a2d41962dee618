import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import fastifyWebsocket from '@fastify/websocket';
import {
  jsonSchemaTransform,
  jsonSchemaTransformObject,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { ApiKeyRing, loadApiKeys, type ApiKeyEntry, type Config } from '@unroll/store';
import { clientErrorHandler, frameworkErrorHandler, registerErrorHandler } from './errors.ts';
import { loggerOptions } from './logger.ts';
import configPlugin from './plugins/config.ts';
import redisPlugin from './plugins/redis.ts';
import storagePlugin from './plugins/storage.ts';
import queuePlugin from './plugins/queue.ts';
import authPlugin, { WS_PROTOCOL } from './plugins/auth.ts';
import upgradeGuardPlugin from './plugins/upgrade-guard.ts';
import eventHubPlugin from './plugins/event-hub.ts';
import orphanSweepPlugin from './plugins/orphan-sweep.ts';
import rateLimitPlugin from './plugins/rate-limit.ts';
import computePlugin from './plugins/compute.ts';
import healthRoutes from './routes/health.ts';
import docsRoutes from './routes/docs.ts';
import datasetRoutes from './routes/datasets.ts';
import jobRoutes from './routes/jobs.ts';
import eventRoutes from './routes/events.ts';
import weightRoutes from './routes/weights.ts';
import inferenceRoutes from './routes/inference.ts';
import { dashboardPlugin } from '@unroll/dashboard';

declare module 'fastify' {
  interface FastifyInstance {
    /** Every registered route (method + url), for tests that must cover each one. */
    routeList: { method: string; url: string }[];
  }
}

export interface BuildAppOptions {
  /** Overrides the keys from the configuration (tests). */
  apiKeys?: ApiKeyEntry[];
  /** Overrides the pino logger options (tests pass false). */
  logger?: FastifyServerOptions['logger'];
  /** Bytes queued on one WebSocket before a slow client is dropped (default 4 MiB). */
  wsMaxBufferedBytes?: number;
}

export async function buildApp(config: Config, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  // Loaded once: the auth plugin checks keys against them, the logger redacts them wherever they appear.
  const apiKeys = options.apiKeys ?? (await loadApiKeys(config));
  const ring = new ApiKeyRing(apiKeys);
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config.LOG_LEVEL, (value) => ring.verify(value) !== null),
    // Errors raised before a route runs (bad URL encoding, an overlong path segment, a malformed
    // request the HTTP parser rejects) get our envelope too, not Fastify's or Node's own body.
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    genReqId: () => `req_${Math.random().toString(36).slice(2, 12)}`,
    requestIdHeader: 'x-request-id',
    // Uploads stream past this limit (see routes/datasets.ts); this bounds JSON bodies only.
    bodyLimit: 2 * 1024 * 1024,
  }).withTypeProvider<ZodTypeProvider>();

  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandler(app);

  app.decorate('routeList', []);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) if (method !== 'HEAD') app.routeList.push({ method, url: route.url });
  });

  // External plugins.
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Unroll API',
        description: 'Training as a service for recurrent neural networks (Elman RNN, BPTT). Authenticate with `Authorization: Bearer <key>`.',
        version: '0.1.0',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    transform: jsonSchemaTransform,
    transformObject: jsonSchemaTransformObject,
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
  await app.register(fastifyWebsocket, {
    // Going away (1001) for every client; a client that does not answer the close handshake
    // (a slow reader) is cut after 1 s so shutdown never hangs on it.
    preClose(done) {
      for (const client of this.websocketServer.clients) {
        client.close(1001, 'server shutting down');
        setTimeout(() => client.terminate(), 1000).unref();
      }
      this.websocketServer.close();
      done();
    },
    options: {
      maxPayload: 64 * 1024,
      // Select our protocol name, never echo a `bearer.<key>` subprotocol back.
      handleProtocols: (protocols) => (protocols.has(WS_PROTOCOL) ? WS_PROTOCOL : false),
    },
  });

  // App plugins.
  await app.register(configPlugin, { config });
  await app.register(redisPlugin);
  await app.register(storagePlugin);
  await app.register(queuePlugin);
  await app.register(upgradeGuardPlugin);
  await app.register(authPlugin, { apiKeys });
  await app.register(rateLimitPlugin);
  await app.register(eventHubPlugin);
  await app.register(orphanSweepPlugin);
  await app.register(computePlugin);

  // Routes.
  await app.register(healthRoutes);
  await app.register(docsRoutes);
  await app.register(datasetRoutes);
  await app.register(jobRoutes);
  await app.register(eventRoutes, { maxBufferedBytes: options.wsMaxBufferedBytes });
  await app.register(weightRoutes);
  await app.register(inferenceRoutes);
  // The dashboard page at `/` (browsers) and its assets under /dashboard/ — public, static.
  await app.register(dashboardPlugin);

  return app;
}
