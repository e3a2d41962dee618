import fp from 'fastify-plugin';
import { EventHub } from '../event-hub.ts';

declare module 'fastify' {
  interface FastifyInstance {
    eventHub: EventHub;
  }
}

export default fp(
  async (app) => {
    const hub = new EventHub({ events: app.events, createConnection: () => app.createBlockingRedis(), log: app.log });
    app.decorate('eventHub', hub);
    app.addHook('onClose', async () => {
      await hub.close();
    });
  },
  { name: 'event-hub', dependencies: ['storage', 'redis'] },
);
