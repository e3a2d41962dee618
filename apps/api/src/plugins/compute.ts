import fp from 'fastify-plugin';
import { createBlobStore } from '@unroll/store';
import { ComputePool } from '../compute/pool.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Worker threads for inference and dataset parsing: the event loop never runs them. */
    compute: ComputePool;
  }
}

/** Owns the compute pool; closes it (idempotently) when the app closes. */
export default fp(
  async (app) => {
    const pool = new ComputePool({
      threads: app.config.COMPUTE_THREADS,
      maxQueue: app.config.COMPUTE_QUEUE,
      init: { blobsRoot: createBlobStore(app.config).root },
      log: app.log,
    });
    app.decorate('compute', pool);
    app.addHook('onClose', async () => {
      await pool.close();
    });
  },
  { name: 'compute', dependencies: ['config'] },
);
