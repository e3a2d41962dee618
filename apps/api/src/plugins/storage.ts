import fp from 'fastify-plugin';
import { createBlobStore, DatasetStore, EventLog, JobStore, type BlobStore, type FsBlobStore } from '@unroll/store';

declare module 'fastify' {
  interface FastifyInstance {
    blobs: BlobStore & Pick<FsBlobStore, 'deletePrefix' | 'move' | 'root'>;
    jobs: JobStore;
    events: EventLog;
    datasets: DatasetStore;
  }
}

/** Blob store (DATA_DIR/blobs) and the Redis-backed records: jobs, events, datasets. */
export default fp(
  async (app) => {
    const { config, redis } = app;
    app.decorate('blobs', createBlobStore(config));
    app.decorate('jobs', new JobStore(redis, { eventRetention: config.EVENT_RETENTION, jobRetentionSeconds: config.JOB_RETENTION }));
    app.decorate('events', new EventLog(redis, { eventRetention: config.EVENT_RETENTION }));
    app.decorate('datasets', new DatasetStore(redis));
  },
  { name: 'storage', dependencies: ['config', 'redis'] },
);
