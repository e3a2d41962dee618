// The real API (apps/api buildApp) with the dashboard registered, for the browser test until
// apps/api/src/app.ts registers dashboardPlugin itself. Same configuration as server.ts.
import { loadConfig } from '@unroll/store';
import { buildApp } from '../../api/src/app.ts';
import { dashboardPlugin } from '../src/fastify-plugin.ts';

const config = loadConfig();
const app = await buildApp(config);
if (!app.hasPlugin('unroll-dashboard')) await app.register(dashboardPlugin);
const close = async () => {
  await app.close();
  process.exit(0);
};
process.once('SIGTERM', close);
process.once('SIGINT', close);
await app.listen({ port: config.PORT, host: config.HOST });
