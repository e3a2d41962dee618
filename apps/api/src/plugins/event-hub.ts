import fp from 'fastify-plugin';
import { EventHub } from '../event-hub.ts';
import { EventHistory } from '../event-history.ts';

declare module 'fastify' {
  interface FastifyInstance {
    eventHub: EventHub;
    /** Paged history reads shared by every client catching up on a job. */
    eventHistory: EventHistory;
  }
}

export default fp(
  async (app) => {
    const hub = new EventHub({ events: app.events, createConnection: () => app.createBlockingRedis(), log: app.log });
    app.decorate('eventHub', hub);
    app.decorate('eventHistory', new EventHistory({ events: app.events }));
    app.addHook('onClose', async () => {
      await hub.close();
    });
  },
  { name: 'event-hub', dependencies: ['storage', 'redis'] },
);
