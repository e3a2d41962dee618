import fp from 'fastify-plugin';
import { OrphanSweeper, type OrphanSweepResult } from '@unroll/store';

/**
 * Runs the orphan sweep (temp files, staged uploads and blobs no record references, older than
 * ORPHAN_SWEEP_GRACE_MS) once when the API is ready, then every ORPHAN_SWEEP_INTERVAL_MS. A failed
 * sweep is logged and retried at the next tick; it never stops the API from starting.
 */
export default fp(
  async (app) => {
    const sweeper = new OrphanSweeper(app.blobs, app.redis, app.config.ORPHAN_SWEEP_GRACE_MS);
    let running: Promise<void> | null = null;
    let timer: NodeJS.Timeout | null = null;
    let closed = false;

    const runOnce = (when: 'startup' | 'periodic'): Promise<void> => {
      // One sweep at a time: a slow one is not overlapped by the next tick.
      running ??= sweeper
        .sweep()
        .then((r: OrphanSweepResult) => {
          const level = r.removed.length + r.published.length > 0 || when === 'startup' ? 'info' : 'debug';
          app.log[level]({ when, removed: r.removed.length, published: r.published.length, keptYoung: r.keptYoung, paths: r.removed.slice(0, 20) }, 'orphan sweep');
        })
        .catch((err: unknown) => app.log.warn({ when, err: (err as Error).message }, 'orphan sweep failed'))
        .finally(() => {
          running = null;
        });
      return running;
    };

    app.addHook('onReady', async () => {
      // Not awaited: a large store must not delay readiness; what it removes is garbage either way.
      void runOnce('startup');
      const interval = app.config.ORPHAN_SWEEP_INTERVAL_MS;
      if (interval > 0 && !closed) {
        timer = setInterval(() => void runOnce('periodic'), interval);
        timer.unref();
      }
    });
    app.addHook('onClose', async () => {
      closed = true;
      if (timer) clearInterval(timer);
      timer = null;
      await running;
    });
  },
  { name: 'orphan-sweep', dependencies: ['config', 'redis', 'storage'] },
);
