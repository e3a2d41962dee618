import closeWithGrace from 'close-with-grace';
import { ensureDefaultKey, loadApiKeys, loadConfig } from '@unroll/store';
import { buildApp } from './app.ts';

// Only starts: configuration, app, listen, graceful close.
const config = loadConfig();
if ((await loadApiKeys(config)).length === 0) {
  const created = await ensureDefaultKey(config.DATA_DIR);
  if (created) console.log(`Created API key for tenant "${created.tenant}" (shown once, only its hash is stored):\n  ${created.key}`);
}
let app;
try {
  app = await buildApp(config);
} catch (err) {
  console.error(`unroll api: cannot start: ${(err as Error).message}`);
  process.exit(1);
}
closeWithGrace({ delay: 10_000 }, async ({ err, signal }) => {
  if (err) app.log.error({ err }, 'closing after an error');
  else app.log.info({ signal }, 'closing');
  await app.close();
});
try {
  await app.listen({ port: config.PORT, host: config.HOST });
} catch (err) {
  console.error(`unroll api: cannot listen on ${config.HOST}:${config.PORT}: ${(err as Error).message}`);
  await app.close();
  process.exit(1);
}
